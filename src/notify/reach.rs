//! How the appliance can reach people beyond the app: what the app's state holds for the
//! notification centre to choose channels by.

/// How the appliance can reach people beyond the app.
#[derive(Debug, Clone)]
pub struct Reach {
    /// A push provider is configured.
    pub push: bool,
    /// An SMS provider is configured.
    pub sms: bool,
    /// Where links in e-mails point.
    pub public_url: String,
}
