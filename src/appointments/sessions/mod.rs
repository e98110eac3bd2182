//! `/sessions`: booking against a practitioner's hours (by the client, or by staff for a
//! client), listing, rescheduling, cancelling, recording the outcome and rating. Every
//! booking's check and insert happen in one writer closure, so two people racing for one slot
//! get exactly one session.

mod handlers;
mod input;
mod model;
mod rules;

pub use handlers::router;
pub use input::*;
pub use model::*;
pub use rules::*;
