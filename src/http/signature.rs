//! Signed inbound webhooks (the CRM's chatbot; the payment gateway's later):
//! `Haven-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<raw body>">`, the scheme
//! Stripe uses. The MAC is compared in constant time (`hmac`'s `verify_slice`), and a timestamp
//! more than five minutes away from now is refused, so a captured request cannot be replayed
//! later. Several `v1=` entries are accepted (a secret being rotated).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "haven-signature";

/// How far the signed time may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    #[allow(clippy::expect_used)]
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value for `body` signed at `t`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, body).finalize().into_bytes())
    )
}

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// Checks `header` against `body` at `now` (unix seconds).
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), Refused> {
    let header = header.ok_or(Refused::Missing)?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| Refused::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(Refused::Malformed)?;
    if sigs.is_empty() {
        return Err(Refused::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(Refused::Stale);
    }
    if sigs
        .iter()
        .any(|s| mac(secret, t, body).verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bodies_pass_and_anything_else_is_refused() {
        let (key, body, now) = (
            b"s3cret".as_slice(),
            br#"{"a":1}"#.as_slice(),
            1_800_000_000,
        );
        let h = sign(key, now, body);
        assert_eq!(verify(key, Some(&h), body, now + 10), Ok(()));
        assert_eq!(
            verify(key, Some(&h), b"{\"a\":2}", now),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&h), body, now),
            Err(Refused::Mismatch)
        );
        assert_eq!(verify(key, Some(&h), body, now + 301), Err(Refused::Stale));
        assert_eq!(verify(key, None, body, now), Err(Refused::Missing));
        assert_eq!(verify(key, Some("t=1"), body, now), Err(Refused::Malformed));
        let rotated = format!(
            "{},v1={}",
            sign(b"old", now, body),
            &h[h.find("v1=").unwrap() + 3..]
        );
        assert_eq!(verify(key, Some(&rotated), body, now), Ok(()));
    }
}
