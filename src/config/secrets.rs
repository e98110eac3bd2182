//! Secret values: redacted in `Debug`, and the three keys Haven generates on first start.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::Deserialize;

use super::Config;

/// A configured secret string. `Debug` never shows it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of a `<key>` / `<key>_file` pair: the file's contents (trimmed) when a file
    /// is named, else the inline value. The error names `file_key`.
    pub fn or_file(
        &self,
        file: Option<&std::path::Path>,
        file_key: &str,
    ) -> Result<String, String> {
        match file {
            Some(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("{file_key} ({}): {e}", p.display())),
            None => Ok(self.0.clone()),
        }
    }
}

/// Serialized (e.g. when listing the effective config) without the value.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[redacted]" })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"[redacted]\""
        })
    }
}

/// A 256-bit key. `Debug` never shows it.
#[derive(Clone)]
pub struct Key(pub [u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// The keys the server needs, from `secrets.*_file` or generated in `<data.dir>/secrets/`.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// Signs access tokens (HS256).
    pub token_signing: Key,
    /// Encrypts secrets at rest (MFA seeds, provider credentials).
    pub data_encryption: Key,
    /// Signs URLs (uploads, downloads, calendar feeds).
    pub url_signing: Key,
}

impl Secrets {
    pub fn load_or_generate(config: &Config) -> anyhow::Result<Secrets> {
        let dir = config.data.dir.join("secrets");
        let s = &config.secrets;
        Ok(Secrets {
            token_signing: key(
                s.token_signing_key_file.as_deref(),
                &dir,
                "token_signing.key",
            )?,
            data_encryption: key(
                s.data_encryption_key_file.as_deref(),
                &dir,
                "data_encryption.key",
            )?,
            url_signing: key(s.url_signing_key_file.as_deref(), &dir, "url_signing.key")?,
        })
    }
}

fn key(configured: Option<&Path>, dir: &Path, name: &str) -> anyhow::Result<Key> {
    let path: PathBuf = match configured {
        Some(p) => p.to_path_buf(),
        None => {
            let p = dir.join(name);
            if !p.exists() {
                generate(dir, &p)?;
            }
            p
        }
    };
    let text = fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read key file {}: {e}", path.display()))?;
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow::anyhow!("key file {} is not base64", path.display()))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("key file {} must hold 32 bytes (base64)", path.display()))?;
    Ok(Key(arr))
}

fn generate(dir: &Path, path: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    // create_new: two processes starting at once must not overwrite each other's key.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(bytes).as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot create key file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_mode_0600_and_stable() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.data.dir = tmp.path().to_path_buf();
        let a = Secrets::load_or_generate(&c).unwrap();
        let b = Secrets::load_or_generate(&c).unwrap();
        assert_eq!(a.token_signing.0, b.token_signing.0);
        assert_ne!(a.token_signing.0, a.url_signing.0);
        let mode = fs::metadata(tmp.path().join("secrets/token_signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{a:?}").contains(&STANDARD.encode(a.token_signing.0)));
    }

    #[test]
    fn key_files_from_config_are_used() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("mine.key");
        fs::write(&f, STANDARD.encode([7u8; 32])).unwrap();
        let mut c = Config::default();
        c.data.dir = tmp.path().join("data");
        c.secrets.url_signing_key_file = Some(f);
        assert_eq!(
            Secrets::load_or_generate(&c).unwrap().url_signing.0,
            [7u8; 32]
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "\"[redacted]\"");
    }
}
