//! Access tokens (HS256 JWTs that name their session) and the opaque random tokens used for
//! refresh, e-mail links and the MFA step, which are stored only as SHA-256 hashes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::secrets::Key;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id: revoking the session stops the token at once.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, so two tokens issued in the same second still differ.
    #[serde(default)]
    pub jti: String,
}

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl AccessTokens {
    pub fn new(key: &Key, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        AccessTokens {
            encoding: EncodingKey::from_secret(&key.0),
            decoding: DecodingKey::from_secret(&key.0),
            validation,
            ttl,
        }
    }

    /// Seconds an access token lives (`expiresIn`).
    pub fn ttl_seconds(&self) -> u64 {
        self.ttl.as_secs()
    }

    pub fn issue(&self, user_id: &str, session_id: &str) -> anyhow::Result<String> {
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid, unexpired token signed with our key; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge for a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// How a random token is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_reject() {
        let t = AccessTokens::new(&Key([1; 32]), Duration::from_secs(60));
        let token = t.issue("u1", "s1").unwrap();
        let c = t.verify(&token).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("u1", "s1"));
        let other = AccessTokens::new(&Key([2; 32]), Duration::from_secs(60));
        assert!(
            other.verify(&token).is_none(),
            "another key's token is refused"
        );
        assert!(t.verify("not.a.jwt").is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(t.verify(&tampered).is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let t = AccessTokens::new(&Key([1; 32]), Duration::from_secs(0));
        let now = jiff::Timestamp::now().as_second();
        let old = Claims {
            sub: "u".into(),
            sid: "s".into(),
            iat: now - 100,
            exp: now - 60,
            jti: "j".into(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &t.encoding).unwrap();
        assert!(t.verify(&token).is_none());
    }

    #[test]
    fn random_tokens_are_long_unique_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert!(a.len() >= 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
