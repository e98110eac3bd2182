//! Secrets at rest (MFA seeds, provider credentials): XChaCha20-Poly1305 with the
//! data-encryption key that lives outside the database. Stored as nonce ‖ ciphertext.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::config::secrets::Key;

/// Encrypts `plain`; `context` (e.g. the user id) is bound to it, so a value copied to another
/// row does not decrypt.
pub fn seal(key: &Key, plain: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: context,
            },
        )
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

pub fn open(key: &Key, sealed: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
    if sealed.len() < 24 {
        anyhow::bail!("sealed value too short");
    }
    let (nonce, ct) = sealed.split_at(24);
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: context,
            },
        )
        .map_err(|_| {
            anyhow::anyhow!("a stored secret could not be decrypted (wrong key or altered data)")
        })
}

/// HMAC-SHA-256 of `parts` (each length-prefixed, so `("ab","c")` ≠ `("a","bc")`).
pub fn mac(key: &Key, parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.0).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot happen with a 32-byte key.
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| unreachable!())
    });
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Compares two MACs without leaking where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = Key([9; 32]);
        let s = seal(&k, b"seed", b"user-1").unwrap();
        assert_eq!(open(&k, &s, b"user-1").unwrap(), b"seed");
        assert!(open(&k, &s, b"user-2").is_err(), "bound to its row");
        assert!(open(&Key([8; 32]), &s, b"user-1").is_err());
        let mut t = s.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(open(&k, &t, b"user-1").is_err());
    }
}
