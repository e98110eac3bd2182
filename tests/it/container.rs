//! The container image, built by Debian's podman from the repository's Dockerfile and started.
//!
//! What this machine allows: no registry is reachable (no `rust` or `debian` image to pull), and
//! its sandbox refuses `setrlimit` inside a container's init, so neither crun nor runc can start
//! any container here. So the test makes `debian:bookworm-slim` itself (debootstrap from the
//! Debian mirror, imported into podman), gives the Dockerfile's build stage the binary cargo
//! already built (the stage is replaced by an image holding it at the path it would produce),
//! builds the runtime stage exactly as written (`podman build --isolation=chroot`: its apt-get,
//! user, volume, HEALTHCHECK), checks the image's settings, then runs the image's entrypoint from
//! the image's own root filesystem as its user in a network namespace of its own, and runs the
//! image's HEALTHCHECK command there.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

const BASE: &str = "docker.io/library/debian:bookworm-slim";

/// `debian:bookworm-slim`, made from the Debian mirror once per machine.
fn base_image() {
    let exists = Command::new("podman")
        .args(["image", "exists", BASE])
        .status();
    if exists.is_ok_and(|s| s.success()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg("http://deb.debian.org/debian"));
    let tar = dir.path().join("rootfs.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    run(Command::new("podman").arg("import").arg(&tar).arg(BASE));
}

/// The Dockerfile with its build stage replaced by an image holding `binary` where the stage
/// would have left it.
fn prebuilt_dockerfile(binary: &Path, tag: &str, dir: &Path) -> PathBuf {
    let tree = dir.join("prebuilt");
    std::fs::create_dir_all(tree.join("src/target/release")).unwrap();
    std::fs::copy(binary, tree.join("src/target/release/haven")).unwrap();
    let tar = dir.join("prebuilt.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&tree)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    run(Command::new("podman").arg("import").arg(&tar).arg(tag));
    let original =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let (build, runtime) = (
        original.find("FROM rust:").expect("the build stage"),
        original
            .find("FROM debian:bookworm-slim")
            .expect("the runtime stage"),
    );
    let file = dir.join("Dockerfile");
    std::fs::write(
        &file,
        format!(
            "{}FROM {tag} AS build\n\n{}",
            &original[..build],
            &original[runtime..]
        ),
    )
    .unwrap();
    file
}

/// Removes what the test made, also when it fails.
struct Made {
    container: Option<String>,
    images: Vec<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        if let Some(c) = &self.container {
            let _ = Command::new("podman").args(["rm", "-f", c]).output();
        }
        let _ = Command::new("podman")
            .args(["rmi", "-f"])
            .args(&self.images)
            .output();
    }
}

#[test]
#[ignore = "needs podman and debootstrap (scripts/test installs them and runs it)"]
fn the_image_builds_with_podman_and_serves_as_its_user_with_a_passing_healthcheck() {
    for tool in ["podman", "debootstrap"] {
        assert!(have(tool), "{tool} is missing (scripts/test installs it)");
    }
    let binary = std::env::var("HAVEN_RELEASE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_haven")));
    base_image();
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (prebuilt, image) = (
        format!("localhost/haven-prebuilt:{id}"),
        format!("localhost/haven-test:{id}"),
    );
    let mut made = Made {
        container: None,
        images: vec![image.clone(), prebuilt.clone()],
    };
    let dockerfile = prebuilt_dockerfile(&binary, &prebuilt, dir.path());
    run(Command::new("podman")
        .args([
            "build",
            "--format",
            "docker",
            "--pull=never",
            "--network=host",
            "--isolation=chroot",
            "-t",
            &image,
            "-f",
        ])
        .arg(&dockerfile)
        .arg(env!("CARGO_MANIFEST_DIR")));

    // The image's settings.
    let config: serde_json::Value = serde_json::from_str(&run(
        Command::new("podman").args(["image", "inspect", &image])
    ))
    .unwrap();
    let c = &config[0]["Config"];
    assert_eq!(c["User"], "haven");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/bin/haven"]));
    assert_eq!(c["Cmd"], serde_json::json!(["serve"]));
    assert!(c["Volumes"].get("/var/lib/haven").is_some(), "{c}");
    assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{c}");
    let health = &config[0]["Healthcheck"]["Test"];
    assert_eq!(health[0], "CMD-SHELL", "{health}");
    let check = health[1].as_str().unwrap().to_string();
    assert!(check.contains("http://127.0.0.1:8080/health"), "{check}");
    let env: Vec<String> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();

    // Its root filesystem, writable as a container's is.
    let container = run(Command::new("podman").args(["create", &image]));
    made.container = Some(container.clone());
    let root = run(Command::new("podman").args(["mount", &container]));
    let passwd = std::fs::read_to_string(Path::new(&root).join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("haven:"))
        .expect("the haven user");
    let f: Vec<&str> = user.split(':').collect();
    assert_eq!(f[2], "10001", "{user}");
    let userspec = format!("{}:{}", f[2], f[3]);

    // The entrypoint as the image's user, with the image's environment, on a loopback of its own
    // (so the image's port 8080 is free); the HEALTHCHECK command inside the image; then SIGTERM.
    let envs = env
        .iter()
        .map(|e| format!("'{e}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        "ip link set lo up
         env -i {envs} chroot --userspec={userspec} {root} /usr/bin/haven serve > {log} 2>&1 &
         pid=$!
         for i in $(seq 1 100); do
           chroot --userspec={userspec} {root} sh -c '{check}' && break
           sleep 0.1
         done
         chroot --userspec={userspec} {root} sh -c '{check}'; echo \"healthcheck=$?\"
         kill -TERM $pid; wait $pid; echo \"exit=$?\"",
        log = dir.path().join("haven.log").display(),
    );
    let out = run(Command::new("unshare").args(["--net", "--fork", "--", "sh", "-c", &script]));
    let log = std::fs::read_to_string(dir.path().join("haven.log")).unwrap_or_default();
    assert!(out.contains("healthcheck=0"), "{out}\n{log}");
    assert!(
        out.contains("exit=0"),
        "SIGTERM is a clean stop: {out}\n{log}"
    );
    assert!(
        log.contains("\"level\":\"INFO\""),
        "JSON logs as the image sets: {log}"
    );
    let data = Path::new(&root).join("var/lib/haven/haven.db");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data).unwrap());
    assert_eq!(owner, 10001, "the data belongs to the image's user");
}
