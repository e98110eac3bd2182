//! A built-in message whose wording each org may change: what a feature declares in its
//! `Feature::messages` (a leaf the platform's `feature.rs` names without reaching the
//! notification centre; `wording.rs` words and serves them).

/// A built-in message whose wording an org may change.
#[derive(Debug)]
pub struct Message {
    pub key: &'static str,
    /// What it is and when it goes, for the admin.
    pub description: &'static str,
    pub subject: &'static str,
    pub body: &'static str,
    /// The variables subject and body may use, each with the sample value previews show.
    pub variables: &'static [(&'static str, &'static str)],
}
