//! A field of a partial update: left out (keep), `null` (clear) or a value (set).

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// The value to store given the current one.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }

    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// Use with `#[serde(default)]`: a missing field stays `Keep`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Set(v),
            None => Patch::Clear,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default)]
        a: Patch<String>,
    }

    #[test]
    fn missing_null_and_value() {
        let p: P = serde_json::from_str("{}").unwrap();
        assert_eq!(p.a, Patch::Keep);
        let p: P = serde_json::from_str(r#"{"a": null}"#).unwrap();
        assert_eq!(p.a, Patch::Clear);
        let p: P = serde_json::from_str(r#"{"a": "x"}"#).unwrap();
        assert_eq!(p.a.apply(None), Some("x".to_string()));
    }
}
