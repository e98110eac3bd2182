//! Files end to end: content decides the type (a .docx is a real Word document, a renamed
//! executable is refused), limits, safe names and downloads, staff access within the org, the
//! signed two-step upload, profile pictures re-encoded by Haven, shared bytes removed only when
//! nothing names them.

use std::io::Write;

use reqwest::Method;
use serde_json::json;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, png};
use crate::support::TestServer;

fn docx() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("[Content_Types].xml", o).unwrap();
        z.write_all(b"<Types/>").unwrap();
        z.start_file("word/document.xml", o).unwrap();
        z.write_all(b"<w:document/>").unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn blobs(s: &TestServer) -> usize {
    let root = s.dir.path().join("data/files");
    std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|d| d.file_name() != "tmp")
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .count()
}

/// What the hourly `files.cleanup` does to bytes nothing names.
async fn sweep(s: &TestServer) {
    let grace = s.state.config.files.orphan_grace;
    haven::files::blobs::sweep(&s.state.db, s.state.blobs.as_ref(), grace)
        .await
        .unwrap();
}

async fn upload(
    s: &TestServer,
    p: &Person,
    name: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> (u16, serde_json::Value) {
    p.upload(s, "/files/upload", name, bytes, mime).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_limits_names_access_and_shared_bytes() {
    let s = TestServer::with(|c| {
        c.files.max_upload = 64 * 1024;
        c.files.orphan_grace = std::time::Duration::ZERO;
    })
    .await;
    let member = TestUser::member().create(&s).await;
    let peer = TestUser::member().create(&s).await;
    let team = TestUser::new(haven::users::model::Role::Team)
        .create(&s)
        .await;

    let (st, d) = upload(
        &s,
        &member,
        "report.docx",
        docx(),
        "application/octet-stream",
    )
    .await;
    assert_eq!(st, 201, "{d}");
    assert_eq!(
        d["data"]["contentType"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let mut plain_zip = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut plain_zip);
        z.start_file("a.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"a").unwrap();
        z.finish().unwrap();
    }
    for (name, bytes) in [
        ("fake.docx", plain_zip.into_inner()),
        ("x.png", b"\x7fELF\x02\x01\x01".to_vec()),
        ("bin.txt", vec![0, 1, 2, 3]),
    ] {
        let (st, e) = upload(&s, &member, name, bytes, "image/png").await;
        assert_eq!(st, 415, "{name}: {e}");
        assert_eq!(e["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    let (st, e) = upload(&s, &member, "big.txt", vec![b'a'; 65 * 1024], "text/plain").await;
    assert_eq!(st, 413, "{e}");
    assert_eq!(e["error"]["code"], "PAYLOAD_TOO_LARGE");
    let (st, e) = member
        .send(&s, Method::POST, "/files/upload", json!({"file": "x"}))
        .await;
    assert_eq!(st, 415, "not multipart: {e}");

    // A name with a path and a non-ASCII character: made safe, and given back exactly on download.
    let (_, f) = upload(
        &s,
        &member,
        "../notes/Zoë's plan.txt",
        b"walk daily\n".to_vec(),
        "text/plain",
    )
    .await;
    let id = f["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(f["data"]["filename"], "Zoë's plan.txt");
    let r = member
        .req(&s, Method::GET, &format!("/files/{id}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment;") && cd.contains("filename*=UTF-8''Zo%C3%AB%27s%20plan.txt"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"walk daily\n");

    // Private to the owner and the org's staff.
    let (st, _) = peer.get(&s, &format!("/files/{id}")).await;
    assert_eq!(st, 404);
    let (st, _) = team.get(&s, &format!("/files/{id}")).await;
    assert_eq!(st, 200, "staff of the org");
    let (st, _) = peer
        .send(&s, Method::DELETE, &format!("/files/{id}"), json!({}))
        .await;
    assert_eq!(st, 404);

    // The same bytes twice are stored once and kept until the last file naming them goes.
    let before = blobs(&s);
    let (_, again) = upload(
        &s,
        &peer,
        "copy.txt",
        b"walk daily\n".to_vec(),
        "text/plain",
    )
    .await;
    assert_eq!(blobs(&s), before, "stored once");
    let (st, _) = member
        .send(&s, Method::DELETE, &format!("/files/{id}"), json!({}))
        .await;
    assert_eq!(st, 204);
    sweep(&s).await;
    assert_eq!(blobs(&s), before, "still named by the copy");
    let copy = again["data"]["id"].as_str().unwrap();
    let r = peer
        .req(&s, Method::GET, &format!("/files/{copy}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"walk daily\n");
    succeeded(
        peer.send(&s, Method::DELETE, &format!("/files/{copy}"), json!({}))
            .await,
    );
    assert_eq!(blobs(&s), before, "kept until files.cleanup");
    sweep(&s).await;
    assert_eq!(blobs(&s), before - 1, "gone with the last file");
    let tmp = std::fs::read_dir(s.dir.path().join("data/files/tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "refused uploads leave no temporary files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_uploads_check_signature_size_and_type() {
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    let bytes = png(3, 3);
    let sign = |len: usize, ct: &'static str| {
        let (m, s) = (member.clone(), &s);
        async move {
            let (st, b) = m
                .send(
                    s,
                    Method::POST,
                    "/files/sign",
                    json!({"filename": "scan.png", "contentType": ct, "sizeBytes": len}),
                )
                .await;
            assert_eq!(st, 201, "{b}");
            (
                b["data"]["fileId"].as_str().unwrap().to_string(),
                b["data"]["uploadUrl"].as_str().unwrap().to_string(),
            )
        }
    };
    let put = |url: String, body: Vec<u8>| {
        let s = &s;
        async move {
            s.http
                .put(format!("{}{url}", s.base))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (id, url) = sign(bytes.len(), "image/png").await;
    assert_eq!(
        put(url.replace("sig=", "sig=0"), bytes.clone()).await,
        403,
        "tampered"
    );
    let expired = url.replace("expires=", "expires=1");
    assert_eq!(
        put(expired, bytes.clone()).await,
        403,
        "another expiry breaks the signature"
    );
    let (st, e) = member
        .send(&s, Method::POST, "/files/complete", json!({"fileId": id}))
        .await;
    assert_eq!(st, 409, "nothing uploaded yet: {e}");
    assert_eq!(put(url.clone(), bytes[..10].to_vec()).await, 422, "short");
    assert_eq!(
        put(url.clone(), [bytes.clone(), vec![0]].concat()).await,
        413,
        "long"
    );
    assert_eq!(put(url.clone(), bytes.clone()).await, 200);
    assert_eq!(put(url.clone(), bytes.clone()).await, 409, "once");
    let other = TestUser::member().create(&s).await;
    let (st, _) = other
        .send(&s, Method::POST, "/files/complete", json!({"fileId": id}))
        .await;
    assert_eq!(st, 404, "someone else's upload");
    let (st, f) = member
        .send(&s, Method::POST, "/files/complete", json!({"fileId": id}))
        .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(f["data"]["sizeBytes"], bytes.len());
    // Bytes that are not the signed type.
    let text = b"not a picture at all".to_vec();
    let (_, url) = sign(text.len(), "image/png").await;
    assert_eq!(put(url, text).await, 415);
    let (st, _) = member
        .send(
            &s,
            Method::POST,
            "/files/sign",
            json!({"filename": "a.exe", "contentType": "application/x-msdownload", "sizeBytes": 5}),
        )
        .await;
    assert_eq!(st, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_pictures_are_reencoded_and_bounded() {
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    let peer = TestUser::member().create(&s).await;
    let outsider_org = crate::fixtures::org(&s, "Elsewhere").await;
    let outsider = TestUser::member().in_org(&outsider_org).create(&s).await;
    // A JPEG of 1200 × 600 comes back as a PNG of at most 512 px a side.
    let img = image::RgbImage::from_pixel(1200, 600, image::Rgb([0, 128, 255]));
    let mut jpeg = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let (st, d) = member
        .upload(&s, "/upload/profile-picture", "me.jpg", jpeg, "image/jpeg")
        .await;
    assert_eq!(st, 201, "{d}");
    let url = d["data"]["url"].as_str().unwrap().to_string();
    let (_, me) = member.get(&s, "/auth/me").await;
    assert_eq!(me["data"]["avatarUrl"], url.as_str());
    let r = s
        .http
        .get(format!("{}{url}", s.base))
        .bearer_auth(&peer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the org sees it");
    assert_eq!(r.headers()["content-type"], "image/png");
    let served = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (512, 256));
    let r = s
        .http
        .get(format!("{}{url}", s.base))
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "another org does not");
    // Not a picture, or a corrupt one.
    let (st, _) = member
        .upload(
            &s,
            "/upload/profile-picture",
            "me.png",
            b"hello".to_vec(),
            "image/png",
        )
        .await;
    assert_eq!(st, 415);
    let mut broken = png(4, 4);
    broken.truncate(30);
    let (st, _) = member
        .upload(&s, "/upload/profile-picture", "me.png", broken, "image/png")
        .await;
    assert_eq!(st, 415);
    // A new picture replaces the old one.
    let d2 = succeeded(
        member
            .upload(
                &s,
                "/upload/profile-picture",
                "new.png",
                png(8, 8),
                "image/png",
            )
            .await,
    );
    assert_ne!(d2["data"]["url"], url.as_str());
    let avatars = s
        .state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT count(*) AS n FROM files WHERE purpose = 'avatar'",
                [],
                |r| r.get::<_, i64>("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(avatars, 1);
}
