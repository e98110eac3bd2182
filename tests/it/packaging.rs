//! The .deb and the systemd unit. `scripts/test` builds the package and passes it in
//! `HAVEN_DEB`; the unit is verified with `systemd-analyze` where it exists.

use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
#[ignore = "needs HAVEN_DEB, the package scripts/test builds before it runs this"]
fn the_deb_holds_the_binary_config_unit_and_scripts() {
    let deb = std::env::var("HAVEN_DEB")
        .expect("HAVEN_DEB names the .deb to check (scripts/test sets it after scripts/package)");
    let files = run(Command::new("dpkg-deb").args(["-c", &deb]));
    for path in [
        "./usr/bin/haven",
        "./etc/haven/config.toml",
        "haven.service",
        "./usr/share/doc/haven/config.toml.example",
        "./usr/share/doc/haven/README.md",
        "./usr/share/doc/haven/guides/deployment.md",
        "./usr/share/doc/haven/guides/runbooks.md",
        "./usr/share/haven/prometheus/haven-alerts.yml",
        "./lib/systemd/system/haven-litestream.service",
    ] {
        assert!(
            files.contains(path),
            "{path} missing from the package:\n{files}"
        );
    }
    let info = run(Command::new("dpkg-deb").args(["-I", &deb]));
    assert!(info.contains("Package: haven"), "{info}");
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").args(["-e", &deb, dir.path().to_str().unwrap()]));
    let conffiles = std::fs::read_to_string(dir.path().join("conffiles")).unwrap();
    assert!(conffiles.contains("/etc/haven/config.toml"));
    let postinst = std::fs::read_to_string(dir.path().join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system") && postinst.contains("/var/lib/haven"));
    assert!(
        postinst.contains("systemctl") || postinst.contains("deb-systemd-helper"),
        "the unit is enabled:\n{postinst}"
    );
}

#[test]
fn the_unit_is_hardened() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/haven.service"
    ))
    .unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/haven",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "ProtectHome=true",
        "ProtectKernelTunables=true",
        "ProtectKernelModules=true",
        "RestrictNamespaces=true",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=true",
        "LockPersonality=true",
    ] {
        assert!(unit.contains(line), "{line} missing from haven.service");
    }
}

#[test]
#[ignore = "needs systemd-analyze (scripts/test installs systemd and runs it)"]
fn systemd_verifies_the_unit_and_rates_its_sandbox() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/haven.service"
    ))
    .unwrap();
    assert!(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "systemd-analyze is missing (apt-get install systemd; scripts/test installs it)"
    );
    // Verify a copy whose ExecStart points at the binary just built (the real path exists only once installed).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("haven.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/haven", env!("CARGO_BIN_EXE_haven")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&out.stderr).to_string();
    let real_problems: Vec<&str> = msg
        .lines()
        .filter(|l| !l.trim().is_empty())
        // The build machine may have no `haven` user or no running systemd; neither is a unit error.
        .filter(|l| {
            !l.contains("Failed to resolve user")
                && !l.contains("System has not been booted")
                && !l.contains("Failed to connect")
        })
        .collect();
    assert!(real_problems.is_empty(), "systemd-analyze verify:\n{msg}");
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&copy)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    eprintln!("{}", report.lines().last().unwrap_or(""));
}

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The container files configure Haven only with keys it knows and values it accepts, run it
/// as a non-root user with its data in a volume, and check health where Haven answers it.
/// (Building and starting the image needs a container registry, which this machine cannot
/// reach; the files are checked against the same loader the binary uses.)
#[test]
fn the_container_files_speak_havens_config() {
    let docker = repo_file("Dockerfile");
    let compose = repo_file("compose.yaml");
    let mut env: Vec<(String, String)> = Vec::new();
    let unquote = |v: &str| v.trim().trim_matches('"').trim_matches('\'').to_string();
    for line in docker.lines().chain(compose.lines()) {
        let line = line
            .trim()
            .trim_start_matches("ENV ")
            .trim_end_matches('\\')
            .trim();
        let Some(at) = line.find("HAVEN_") else {
            continue;
        };
        let pair = &line[at..];
        if let Some((k, v)) = pair.split_once(['=', ':'])
            && k.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            env.push((k.to_string(), unquote(v)));
        }
    }
    assert!(env.len() >= 10, "{env:?}");
    // The secret named in compose must exist for the loader to read it.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("smtp_password");
    std::fs::write(&secret, "x").unwrap();
    for (k, v) in env.iter_mut() {
        if k.ends_with("_FILE") {
            *v = secret.display().to_string();
        }
    }
    let c = haven::config::load_from("", None, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.data.dir.display().to_string(), "/var/lib/haven");
    assert_eq!(c.server.listen.port(), 8080);
    assert_eq!(c.files.scan, haven::config::ScanMode::Clamd);
    assert!(
        c.server
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&"172.17.0.1".parse::<std::net::IpAddr>().unwrap()))
    );

    assert!(docker.contains("\nUSER haven\n") && docker.contains("--uid 10001"));
    assert!(docker.contains("VOLUME /var/lib/haven"));
    assert!(docker.contains("http://127.0.0.1:8080/health"));
    assert!(compose.contains("haven-data:/var/lib/haven"));
    assert!(repo_file(".dockerignore").lines().any(|l| l == "target/"));
}
