//! Anonymous names. In a group or a conversation each person may appear as
//! "Anonymous User #<n>" with a pseudonym id: both drawn at random when they first join it,
//! stable there, different everywhere else, and derived from nothing about them — so no field
//! of any answer can be matched to their account or to their alias elsewhere.

use rand::Rng;

/// The shown name of alias number `n`.
pub fn name(n: i64) -> String {
    format!("Anonymous User #{n}")
}

/// A fresh alias in a scope: a number not yet `taken` there (four digits while they last,
/// then more) and a random pseudonym id.
pub fn fresh(taken: impl Fn(i64) -> rusqlite::Result<bool>) -> rusqlite::Result<(String, i64)> {
    let mut rng = rand::rng();
    for attempt in 0..64 {
        let n = if attempt < 24 {
            rng.random_range(1000..=9999)
        } else {
            rng.random_range(10_000..=9_999_999)
        };
        if !taken(n)? {
            return Ok((uuid::Uuid::new_v4().to_string(), n));
        }
    }
    // 64 misses in a row cannot happen below millions of people in one scope.
    Err(rusqlite::Error::InvalidQuery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_avoid_taken_numbers_and_ids_are_fresh() {
        let taken: std::collections::HashSet<i64> = (1000..=9990).collect();
        let (id, n) = fresh(|n| Ok(taken.contains(&n))).unwrap();
        assert!(!taken.contains(&n));
        let (other, _) = fresh(|_| Ok(false)).unwrap();
        assert_ne!(id, other);
        assert_eq!(name(2847), "Anonymous User #2847");
        assert!(fresh(|_| Ok(true)).is_err());
    }
}
