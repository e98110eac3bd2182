//! The practitioner's work around sessions (seed 003 §8): feedback from clients (named or
//! anonymous), progress logs after sessions, the sessions-hours-earnings report, and the
//! training funnel a new practitioner goes through.

mod coach_report;
mod feedback;
mod logs;
mod training;
pub use coach_report::*;
pub use feedback::*;
pub use logs::*;
pub use training::*;
#[cfg(test)]
mod tests;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::http::FieldError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::FeedbackGive, routes!(give_feedback)))
        .routes(allow(Perm::FeedbackView, routes!(list_feedback)))
        .routes(allow(Perm::ProgressLogs, routes!(write_log)))
        .routes(allow(Perm::ProgressLogs, routes!(list_logs)))
        .routes(allow(Perm::CoachReports, routes!(report)))
        .routes(allow(Perm::CoachTraining, routes!(training)))
        .routes(allow(Perm::CoachTraining, routes!(mark_training)))
}

fn check_text(field: &str, v: &str, min: usize, max: usize, errors: &mut Vec<FieldError>) {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
}

const FEEDBACK_COLUMNS: &str =
    "f.id, f.appointment_id, f.practitioner_id, f.rating, f.comments, f.category, f.anonymous,
    u.id AS author_id, u.first_name, u.last_name, f.created_at";
const FEEDBACK_FROM: &str = "feedback f JOIN users u ON u.id = f.author_id";

const LOG_COLUMNS: &str = "l.id, l.client_id, l.appointment_id, u.id AS author_id, u.first_name, u.last_name, l.text, l.created_at";
const LOG_FROM: &str = "progress_logs l JOIN users u ON u.id = l.author_id";
