//! Virus scanning of uploads through ClamAV's clamd (seed 002: "files scanned for malware").
//! With `files.scan = "clamd"` each upload is streamed to clamd (its INSTREAM command, through
//! the `clamav-client` crate) after it has arrived and before it is stored: an infected file is
//! refused with 422 `FILE_INFECTED` and its bytes are deleted; when clamd cannot answer, the
//! upload is refused with 503 — nothing unscanned is kept.

use std::path::Path;

use crate::config::{FilesConfig, ScanMode};
use crate::http::{ApiError, ErrorCode};

/// What clamd said of a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The name of the signature that matched.
    Infected(String),
}

/// clamd's answer to INSTREAM: `stream: OK`, `stream: <signature> FOUND`, or an error.
pub fn verdict(reply: &[u8]) -> Result<Verdict, String> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let said = text.strip_prefix("stream:").map(str::trim);
    match said {
        Some("OK") => Ok(Verdict::Clean),
        Some(s) if s.ends_with(" FOUND") => {
            Ok(Verdict::Infected(s.trim_end_matches(" FOUND").to_string()))
        }
        _ => Err(format!("clamd answered {text:?}")),
    }
}

/// Scans the file at `path`; `Ok` when scanning is off or the file is clean. An infected file
/// is deleted here.
pub async fn check(cfg: &FilesConfig, path: &Path) -> Result<(), ApiError> {
    if cfg.scan == ScanMode::Off {
        return Ok(());
    }
    let scanned = tokio::time::timeout(cfg.scan_timeout, ask(&cfg.clamd, path)).await;
    let outcome = match scanned {
        Ok(Ok(reply)) => verdict(&reply),
        Ok(Err(e)) => Err(format!("cannot reach clamd at {}: {e}", cfg.clamd)),
        Err(_) => Err(format!(
            "clamd gave no verdict within {:?}",
            cfg.scan_timeout
        )),
    };
    match outcome {
        Ok(Verdict::Clean) => Ok(()),
        Ok(Verdict::Infected(signature)) => {
            let _ = tokio::fs::remove_file(path).await;
            tracing::warn!(%signature, "an infected upload was refused");
            metrics::counter!("haven_uploads_infected_total").increment(1);
            Err(ApiError::domain(
                ErrorCode::Unprocessable,
                "FILE_INFECTED",
                format!("The file was refused: the virus scanner found {signature}"),
            ))
        }
        Err(why) => {
            let _ = tokio::fs::remove_file(path).await;
            tracing::error!(%why, "an upload could not be scanned");
            Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "Uploads cannot be checked for viruses right now; try again later",
            )
            .with_cause(why))
        }
    }
}

async fn ask(clamd: &str, path: &Path) -> std::io::Result<Vec<u8>> {
    if clamd.starts_with('/') {
        let socket = clamav_client::tokio::Socket { socket_path: clamd };
        clamav_client::tokio::scan_file(path, socket, None).await
    } else {
        let tcp = clamav_client::tokio::Tcp {
            host_address: clamd,
        };
        clamav_client::tokio::scan_file(path, tcp, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_replies_are_read_strictly() {
        assert_eq!(verdict(b"stream: OK\0"), Ok(Verdict::Clean));
        assert_eq!(
            verdict(b"stream: Eicar-Test-Signature FOUND\0"),
            Ok(Verdict::Infected("Eicar-Test-Signature".into()))
        );
        // A refusal is not a clean bill (the crate's own `clean` would read "OK" into it).
        assert!(verdict(b"INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(verdict(b"").is_err());
    }
}
