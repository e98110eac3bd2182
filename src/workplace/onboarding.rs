//! The onboarding questionnaire (seed 000 §3.2): each org's questions (the built-in set until
//! an admin saves its own) and each person's answers, checked against the questions.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, Validate, created, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(questionnaire)))
        .routes(allow(Perm::WellnessConfigure, routes!(save_questionnaire)))
        .routes(allow(Perm::WellnessOwn, routes!(answer)))
        .routes(allow(Perm::WellnessOwn, routes!(answers)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// A whole number from 1 to the number of `options` (their labels), or 1..5 without them.
    Scale,
    /// One of `options`.
    Choice,
    /// Free text, at most 2,000 characters.
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_-]{0,39}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 300)]
    pub text: String,
    pub kind: QuestionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub options: Option<Vec<String>>,
    pub required: bool,
}

impl Question {
    fn scale_max(&self) -> i64 {
        match self.options.as_deref() {
            Some(o) if !o.is_empty() => o.len() as i64,
            _ => 5,
        }
    }
}

fn q(key: &str, text: &str, kind: QuestionKind, options: &[&str], required: bool) -> Question {
    Question {
        key: key.into(),
        text: text.into(),
        kind,
        options: (!options.is_empty()).then(|| options.iter().map(|s| s.to_string()).collect()),
        required,
    }
}

/// The questions an org starts with.
pub fn built_in() -> Vec<Question> {
    use QuestionKind::*;
    vec![
        q(
            "goal",
            "What would you most like to improve?",
            Choice,
            &[
                "sleep",
                "stress",
                "energy",
                "focus",
                "connection",
                "balance",
            ],
            true,
        ),
        q(
            "wellbeing",
            "How would you rate your wellbeing today?",
            Scale,
            &["Very poor", "Poor", "Okay", "Good", "Very good"],
            true,
        ),
        q(
            "reminders",
            "When would you like a reminder to log your day?",
            Choice,
            &["morning", "evening", "both", "none"],
            false,
        ),
        q(
            "notes",
            "Is there anything else you would like us to know?",
            Text,
            &[],
            false,
        ),
    ]
}

/// The org's questions.
pub fn of_org(c: &Connection, org_id: &str) -> rusqlite::Result<Vec<Question>> {
    let saved: Option<String> = c
        .prepare_cached("SELECT questions FROM wp_questionnaires WHERE org_id = ?1")?
        .query_row([org_id], |r| r.get("questions"))
        .optional()?;
    Ok(saved
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(built_in))
}

/// The rules a questionnaire keeps (its questions arrive as the body's array).
fn check_questions(qs: &[Question], errors: &mut Vec<FieldError>) {
    if qs.is_empty() || qs.len() > 50 {
        errors.push(FieldError::new("", "must hold 1 to 50 questions"));
    }
    let mut keys = std::collections::HashSet::new();
    for (i, q) in qs.iter().enumerate() {
        let at = |f: &str| format!("[{i}].{f}");
        let key_ok = (1..=40).contains(&q.key.len())
            && q.key.starts_with(|c: char| c.is_ascii_alphabetic())
            && q.key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !key_ok {
            errors.push(FieldError::new(
                at("key"),
                "must be 1 to 40 letters, digits, _ or -, starting with a letter",
            ));
        } else if !keys.insert(q.key.as_str()) {
            errors.push(FieldError::new(
                at("key"),
                "repeats an earlier question's key",
            ));
        }
        if q.text.trim().is_empty() || q.text.chars().count() > 300 {
            errors.push(FieldError::new(at("text"), "must be 1 to 300 characters"));
        }
        let opts = q.options.as_deref().unwrap_or_default();
        let distinct: std::collections::HashSet<&str> = opts.iter().map(|o| o.trim()).collect();
        let opts_ok = opts
            .iter()
            .all(|o| !o.trim().is_empty() && o.chars().count() <= 100)
            && distinct.len() == opts.len();
        match q.kind {
            QuestionKind::Choice if opts.len() < 2 || opts.len() > 20 || !opts_ok => {
                errors.push(FieldError::new(
                    at("options"),
                    "a choice needs 2 to 20 different options of 1 to 100 characters",
                ))
            }
            QuestionKind::Scale
                if q.options.is_some() && (opts.len() < 2 || opts.len() > 11 || !opts_ok) =>
            {
                errors.push(FieldError::new(
                    at("options"),
                    "a scale's labels are 2 to 11 different texts",
                ))
            }
            QuestionKind::Text if q.options.is_some() => errors.push(FieldError::new(
                at("options"),
                "a text question has no options",
            )),
            _ => {}
        }
    }
}

/// A whole questionnaire: the array of questions, as `GET` returns it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Questionnaire(pub Vec<Question>);

impl Validate for Questionnaire {
    /// The body is an array (serde refuses anything else).
    const ANY_JSON: bool = true;

    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_questions(&self.0, errors);
    }
}

/// The org's onboarding questions.
#[utoipa::path(get, path = "/onboarding/questionnaire", tag = "workplace",
    responses((status = 200, body = [Question])), security(("bearer" = [])))]
async fn questionnaire(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<Question>>> {
    let org = user.org_id.clone();
    Ok(ok(state
        .db
        .read(move |c| of_org(c, &org).map_err(ApiError::from))
        .await?))
}

/// Replaces the org's questions (admins); takes the array `GET` returns.
#[utoipa::path(put, path = "/onboarding/questionnaire", tag = "workplace", request_body = Questionnaire,
    responses((status = 200, body = [Question]), (status = 400)), security(("bearer" = [])))]
pub async fn save_questionnaire(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(Questionnaire(qs)): ValidJson<Questionnaire>,
) -> ApiResult<Data<Vec<Question>>> {
    let qs: Vec<Question> = qs
        .into_iter()
        .map(|mut q| {
            q.text = q.text.trim().to_string();
            if let Some(o) = &mut q.options {
                o.iter_mut().for_each(|s| *s = s.trim().to_string());
            }
            // No options and an empty list are the same; a text question keeps none.
            if q.options.as_ref().is_some_and(Vec::is_empty) || q.kind == QuestionKind::Text {
                q.options = None;
            }
            q
        })
        .collect();
    let saved = state
        .db
        .write(move |tx| {
            let before = of_org(tx, &user.org_id)?;
            tx.prepare_cached(
                "INSERT INTO wp_questionnaires (org_id, questions, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org_id) DO UPDATE SET questions = excluded.questions, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )?
            .execute(params![user.org_id, serde_json::to_string(&qs).unwrap_or_default(), clock::now(), user.id])?;
            audit::record(
                tx,
                Event::new("onboarding.questionnaire_saved", "questionnaire")
                    .actor(&user.id)
                    .org(&user.org_id)
                    .before(serde_json::json!(before))
                    .after(serde_json::json!(qs)),
            )?;
            Ok::<_, ApiError>(qs)
        })
        .await?;
    Ok(ok(saved))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnswers {
    /// By question key: a number for a scale, one of the options for a choice, text for text.
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Value>,
}

impl Validate for NewAnswers {}

/// Each answer against its question; every problem named as `answers.<key>`.
pub fn check_answers(qs: &[Question], answers: &BTreeMap<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in answers.keys() {
        if !qs.iter().any(|q| &q.key == key) {
            errors.push(FieldError::new(
                format!("answers.{key}"),
                "is not one of the questions",
            ));
        }
    }
    for q in qs {
        let at = format!("answers.{}", q.key);
        let v = answers.get(&q.key).filter(|v| !v.is_null());
        let Some(v) = v else {
            if q.required {
                errors.push(FieldError::new(at, "is required"));
            }
            continue;
        };
        let problem = match q.kind {
            QuestionKind::Scale => match v.as_i64() {
                Some(n) if (1..=q.scale_max()).contains(&n) && v.is_i64() => None,
                _ => Some(format!(
                    "must be a whole number from 1 to {}",
                    q.scale_max()
                )),
            },
            QuestionKind::Choice => match v.as_str() {
                Some(s)
                    if q.options
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|o| o == s) =>
                {
                    None
                }
                _ => Some(format!(
                    "must be one of: {}",
                    q.options.as_deref().unwrap_or_default().join(", ")
                )),
            },
            QuestionKind::Text => match v.as_str() {
                Some(s) if s.chars().count() <= 2000 && !(q.required && s.trim().is_empty()) => {
                    None
                }
                _ => Some("must be text of at most 2000 characters".into()),
            },
        };
        if let Some(p) = problem {
            errors.push(FieldError::new(at, p));
        }
    }
    errors
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingAnswers {
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Value>,
    /// `null` until the person answered.
    pub submitted_at: Option<String>,
}

/// Answers the org's questions (answering again replaces the earlier answers).
#[utoipa::path(post, path = "/onboarding/answers", tag = "workplace", request_body = NewAnswers,
    responses((status = 201, body = OnboardingAnswers), (status = 400)), security(("bearer" = [])))]
async fn answer(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewAnswers>,
) -> ApiResult<impl IntoResponse> {
    let saved = state
        .db
        .write(move |tx| {
            let qs = of_org(tx, &user.org_id)?;
            let errors = check_answers(&qs, &b.answers);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let answers: BTreeMap<String, Value> =
                b.answers.into_iter().filter(|(_, v)| !v.is_null()).collect();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO wp_onboarding_answers (user_id, org_id, answers, submitted_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET answers = excluded.answers, submitted_at = excluded.submitted_at",
            )?
            .execute(params![user.id, user.org_id, serde_json::to_string(&answers).unwrap_or_default(), now])?;
            Ok::<_, ApiError>(OnboardingAnswers {
                answers,
                submitted_at: Some(now),
            })
        })
        .await?;
    Ok(created(saved))
}

/// The caller's answers (empty, with `submittedAt: null`, before they answered).
#[utoipa::path(get, path = "/onboarding/answers", tag = "workplace",
    responses((status = 200, body = OnboardingAnswers)), security(("bearer" = [])))]
async fn answers(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<OnboardingAnswers>> {
    let got = state
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT answers, submitted_at FROM wp_onboarding_answers WHERE user_id = ?1",
            )?
            .query_row([&user.id], |r| {
                Ok(OnboardingAnswers {
                    answers: serde_json::from_str(&r.get::<_, String>("answers")?)
                        .unwrap_or_default(),
                    submitted_at: r.get("submitted_at")?,
                })
            })
            .optional()
            .map_err(ApiError::from)
        })
        .await?;
    Ok(ok(got.unwrap_or(OnboardingAnswers {
        answers: BTreeMap::new(),
        submitted_at: None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_checked_against_the_questions() {
        let qs = built_in();
        let a = |v: Value| serde_json::from_value::<BTreeMap<String, Value>>(v).unwrap();
        let fields = |v: Value| {
            check_answers(&qs, &a(v))
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert!(fields(json!({"goal": "sleep", "wellbeing": 3})).is_empty());
        assert_eq!(fields(json!({"wellbeing": 3})), ["answers.goal"]);
        assert_eq!(
            fields(json!({"goal": "flying", "wellbeing": 3})),
            ["answers.goal"]
        );
        assert_eq!(
            fields(json!({"goal": "sleep", "wellbeing": 6})),
            ["answers.wellbeing"]
        );
        assert_eq!(
            fields(json!({"goal": "sleep", "wellbeing": 2.5})),
            ["answers.wellbeing"]
        );
        assert_eq!(
            fields(json!({"goal": "sleep", "wellbeing": 3, "shoe": 44})),
            ["answers.shoe"]
        );
    }

    #[test]
    fn the_built_in_questionnaire_keeps_its_own_rules() {
        let mut e = Vec::new();
        check_questions(&built_in(), &mut e);
        assert!(e.is_empty(), "{e:?}");
        let mut bad = built_in();
        bad[1].key = "goal".into();
        bad[0].options = Some(vec!["only".into()]);
        check_questions(&bad, &mut e);
        assert_eq!(
            e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["[0].options", "[1].key"]
        );
    }
}
