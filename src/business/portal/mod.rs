//! The business pages of the team portal.

use axum::Router;

use crate::feature::NavEntry;
use crate::state::AppState;

pub const NAV: &[NavEntry] = &[];

pub fn pages() -> Router<AppState> {
    Router::new()
}
