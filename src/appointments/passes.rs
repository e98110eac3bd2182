//! Free passes and free sessions (seed 003 §4): staff generate unguessable, human-typable codes
//! with an expiry and a number of uses; a client redeems one (or books their first session,
//! which is free) with `/bookings/free-session`, and gets the session, its calendar link and
//! their prep guide: a checklist to go through before the first session.

use axum::extract::State;
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calendar::{self, CalendarEntry};
use super::sessions::{self, Booking, Session, SessionType};
use super::{FREE_SESSION_MINUTES, PREP_GUIDE};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, Scope, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::config::Config;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidQuery, Validate,
    created, ok,
};
use crate::settings;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::PassesManage, routes!(generate)))
        .routes(allow(Perm::PassesManage, routes!(list)))
        .routes(allow(Perm::Sessions, routes!(redeem)))
        .routes(allow(Perm::Sessions, routes!(free_session)))
        .routes(allow(Perm::PrepGuide, routes!(prep_guide)))
        .routes(allow(Perm::PrepGuide, routes!(tick)))
}

/// Letters and digits nobody misreads (no I, L, O, 0, 1).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// `XXXX-XXXX-XXXX`: 12 characters of 31, about 59 random bits.
fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed (any case, spaces or dashes anywhere) in its stored form.
fn normalize(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if plain.len() == 12 {
        format!("{}-{}-{}", &plain[..4], &plain[4..8], &plain[8..])
    } else {
        code.trim().to_ascii_uppercase()
    }
}

/// A free pass.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pass {
    pub id: String,
    pub code: String,
    /// `active`, `redeemed` (every use taken) or `expired`.
    pub status: String,
    pub uses: u32,
    pub used: u32,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: String,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

const COLUMNS: &str = "id, code, uses, used, expires_at, created_by, created_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Pass> {
    let (uses, used, expires_at): (u32, u32, String) =
        (r.get("uses")?, r.get("used")?, r.get("expires_at")?);
    let status = if used >= uses {
        "redeemed"
    } else if expires_at <= clock::now() {
        "expired"
    } else {
        "active"
    };
    Ok(Pass {
        id: r.get("id")?,
        code: r.get("code")?,
        status: status.into(),
        uses,
        used,
        expires_at,
        created_by: r.get("created_by")?,
        created_at: r.get("created_at")?,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPasses {
    /// How many codes, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub count: i64,
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: i64,
    /// People who can redeem each code (1 when left out).
    #[schema(minimum = 1, maximum = 1000)]
    pub uses: Option<i64>,
}

impl Validate for NewPasses {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (f, v, lo, hi) in [
            ("count", Some(self.count), 1, 100),
            ("expiresInDays", Some(self.expires_in_days), 1, 365),
            ("uses", self.uses, 1, 1000),
        ] {
            if v.is_some_and(|v| !(lo..=hi).contains(&v)) {
                errors.push(FieldError::new(f, format!("must be from {lo} to {hi}")));
            }
        }
    }
}

/// Generates codes (staff).
#[utoipa::path(post, path = "/passes", tag = "appointments", request_body = NewPasses,
    responses((status = 201, body = [Pass])), security(("bearer" = [])))]
pub async fn generate(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewPasses>,
) -> ApiResult<Data<Vec<Pass>>> {
    let passes = state
        .db
        .write(move |tx| {
            let now = clock::now();
            let expires = clock::after(std::time::Duration::from_secs(b.expires_in_days as u64 * 86_400));
            let mut ids = Vec::new();
            while ids.len() < b.count as usize {
                let id = uuid::Uuid::now_v7().to_string();
                // A clash with an existing code (1 in 2^59) is drawn again.
                let n = tx
                    .prepare_cached(
                        "INSERT INTO passes (id, org_id, code, uses, expires_at, created_by, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (code) DO NOTHING",
                    )?
                    .execute(params![id, user.org_id, new_code(), b.uses.unwrap_or(1), expires, user.id, now])?;
                if n == 1 {
                    ids.push(id);
                }
            }
            let mut out = Vec::new();
            for id in ids {
                out.push(
                    tx.prepare_cached(&format!("SELECT {COLUMNS} FROM passes WHERE id = ?1"))?
                        .query_row([id], from_row)?,
                );
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    Ok(created(passes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PassFilters {
    #[param(pattern = "^(active|redeemed|expired)$")]
    pub status: Option<String>,
}

impl Validate for PassFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| !["active", "redeemed", "expired"].contains(&s))
        {
            errors.push(FieldError::new(
                "status",
                "must be active, redeemed or expired",
            ));
        }
    }
}

/// The org's passes, newest first (staff).
#[utoipa::path(get, path = "/passes", tag = "appointments", params(crate::http::PageQuery, PassFilters),
    responses((status = 200, body = [Pass])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<PassFilters>,
) -> ApiResult<Page<Pass>> {
    let order = q.page.order_by(
        &[("createdAt", "created_at"), ("expiresAt", "expires_at")],
        "created_at DESC, id DESC",
    )?;
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let now = text(clock::now());
            let mut w = Filter::new();
            w.and("org_id = ?", [text(user.org_id.clone())]);
            match q.filters.status.as_deref() {
                Some("redeemed") => w.and("used >= uses", []),
                Some("expired") => w.and("used < uses AND expires_at <= ?", [now]),
                Some(_) => w.and("used < uses AND expires_at > ?", [now]),
                None => &mut w,
            };
            Ok::<_, ApiError>(w.page(c, COLUMNS, "passes", &order, &page, from_row)?)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemPass {
    #[schema(min_length = 1, max_length = 40)]
    pub code: String,
}

impl Validate for RedeemPass {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.code.trim().is_empty() || self.code.len() > 40 {
            errors.push(FieldError::new("code", "must be 1 to 40 characters"));
        }
    }
}

/// A pass the caller holds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    pub code: String,
    #[schema(value_type = String, format = DateTime)]
    pub redeemed_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: String,
    /// The free session it paid for, once booked.
    pub session_id: Option<String>,
}

fn redemption(
    c: &Connection,
    pass_id: &str,
    user_id: &str,
) -> rusqlite::Result<Option<Redemption>> {
    c.prepare_cached(
        "SELECT p.code, r.redeemed_at, p.expires_at, r.appointment_id FROM pass_redemptions r JOIN passes p ON p.id = r.pass_id
         WHERE r.pass_id = ?1 AND r.user_id = ?2",
    )?
    .query_row(params![pass_id, user_id], |r| {
        Ok(Redemption {
            code: r.get("code")?,
            redeemed_at: r.get("redeemed_at")?,
            expires_at: r.get("expires_at")?,
            session_id: r.get("appointment_id")?,
        })
    })
    .optional()
}

fn redeemed() -> ApiError {
    ApiError::domain(
        ErrorCode::Conflict,
        "PASS_REDEEMED",
        "This pass has already been redeemed",
    )
}

/// Redeems `code` for `client` in the caller's transaction: 404 unknown (or another org's),
/// 409 `PASS_REDEEMED` when the client already did or every use is taken, 410 `PASS_EXPIRED`.
/// With `reuse`, a redemption of the client's own that paid for nothing yet is returned.
fn take(
    c: &Connection,
    org_id: &str,
    client_id: &str,
    code: &str,
    reuse: bool,
) -> Result<(String, Redemption), ApiError> {
    let (id, uses, used, expires): (String, i64, i64, String) = c
        .prepare_cached(
            "SELECT id, uses, used, expires_at FROM passes WHERE code = ?1 AND org_id = ?2",
        )?
        .query_row(params![normalize(code), org_id], |r| {
            Ok((
                r.get("id")?,
                r.get("uses")?,
                r.get("used")?,
                r.get("expires_at")?,
            ))
        })
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if let Some(r) = redemption(c, &id, client_id)? {
        return if reuse && r.session_id.is_none() && r.expires_at > clock::now() {
            Ok((id, r))
        } else {
            Err(redeemed())
        };
    }
    if used >= uses {
        return Err(redeemed());
    }
    if expires <= clock::now() {
        return Err(ApiError::domain(
            ErrorCode::Gone,
            "PASS_EXPIRED",
            "This pass has expired",
        ));
    }
    c.prepare_cached(
        "INSERT INTO pass_redemptions (pass_id, user_id, redeemed_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![id, client_id, clock::now()])?;
    c.prepare_cached("UPDATE passes SET used = used + 1 WHERE id = ?1")?
        .execute([&id])?;
    let r = redemption(c, &id, client_id)?.ok_or_else(ApiError::not_found)?;
    Ok((id, r))
}

/// Redeems a pass for the caller: it pays for a free session they book later.
#[utoipa::path(post, path = "/passes/redeem", tag = "appointments", request_body = RedeemPass,
    responses((status = 200, body = Redemption), (status = 404), (status = 409), (status = 410)), security(("bearer" = [])))]
async fn redeem(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<RedeemPass>,
) -> ApiResult<Data<Redemption>> {
    let r = state
        .db
        .write(move |tx| Ok::<_, ApiError>(take(tx, &user.org_id, &user.id, &b.code, false)?.1))
        .await?;
    Ok(ok(r))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeSession {
    /// The practitioner.
    pub coach_id: Option<String>,
    /// The practitioner (seed 001's name).
    pub therapist_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: String,
    /// A pass to pay with; without one, a pass redeemed earlier or the first-session offer.
    #[schema(max_length = 40)]
    pub pass_code: Option<String>,
    /// Staff booking for a client; the caller when left out.
    pub client_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<SessionType>,
}

impl Validate for FreeSession {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        sessions::one_practitioner(
            [
                ("coachId", self.coach_id.as_ref()),
                ("therapistId", self.therapist_id.as_ref()),
                ("practitionerId", None),
            ],
            errors,
        );
        if clock::parse(&self.starts_at).is_none() {
            errors.push(FieldError::new("startsAt", "must be an RFC 3339 instant"));
        }
        if self
            .pass_code
            .as_deref()
            .is_some_and(|c| c.trim().is_empty() || c.len() > 40)
        {
            errors.push(FieldError::new("passCode", "must be 1 to 40 characters"));
        }
    }
}

/// One item of the prep checklist.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistItem {
    pub item: String,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<String>,
}

/// What a client goes through before their first session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrepGuide {
    pub client_id: String,
    pub checklist: Vec<ChecklistItem>,
    /// Percent of the items done, 0 to 100.
    pub progress: u8,
    /// The client's next session, if one is booked.
    pub next_session: Option<Session>,
}

/// The free session, how to put it in a calendar, and the prep guide.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreeBooking {
    pub session: Session,
    /// `pass` or `first_session`.
    pub paid_with: String,
    pub calendar: CalendarEntry,
    /// Opens Google Calendar with the session filled in.
    pub calendar_link: String,
    pub prep_guide: PrepGuide,
}

fn items(c: &Connection, state: &AppState, org_id: &str) -> rusqlite::Result<Vec<String>> {
    Ok(settings::get(c, &state.config, org_id, &PREP_GUIDE)?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

fn guide(
    c: &Connection,
    state: &AppState,
    org_id: &str,
    client_id: &str,
) -> Result<PrepGuide, ApiError> {
    let done: std::collections::HashMap<String, String> = c
        .prepare_cached("SELECT item, done_at FROM prep_checklist WHERE user_id = ?1")?
        .query_map([client_id], |r| Ok((r.get("item")?, r.get("done_at")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let checklist: Vec<ChecklistItem> = items(c, state, org_id)?
        .into_iter()
        .map(|item| ChecklistItem {
            done: done.contains_key(&item),
            done_at: done.get(&item).cloned(),
            item,
        })
        .collect();
    let n = checklist.iter().filter(|i| i.done).count();
    let progress = if checklist.is_empty() {
        100
    } else {
        (n * 100 / checklist.len()) as u8
    };
    let next = c
        .prepare_cached(&format!(
            "SELECT {} FROM {} WHERE a.client_id = ?1 AND a.status IN ('scheduled', 'confirmed') AND a.ends_at > ?2
             ORDER BY a.starts_at LIMIT 1",
            sessions::COLUMNS,
            sessions::FROM
        ))?
        .query_row(params![client_id, clock::now()], sessions::from_row)
        .optional()?;
    Ok(PrepGuide {
        client_id: client_id.to_string(),
        checklist,
        progress,
        next_session: next,
    })
}

/// Books a free session: with the pass given, a pass the client redeemed before, or (when
/// they have never had a session here) the free first session. 422 when none applies.
#[utoipa::path(post, path = "/bookings/free-session", tag = "appointments", request_body = FreeSession,
    responses((status = 201, body = FreeBooking), (status = 404), (status = 409), (status = 410), (status = 422)),
    security(("bearer" = [])))]
async fn free_session(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<FreeSession>,
) -> ApiResult<Data<FreeBooking>> {
    let reach = state.reach();
    let st = state.clone();
    let out = state
        .db
        .write(move |tx| {
            let client_id = b.client_id.clone().unwrap_or_else(|| user.id.clone());
            if user.scope < Scope::Org && client_id != user.id {
                return Err(ApiError::forbidden());
            }
            let start = clock::parse(&b.starts_at).ok_or_else(|| ApiError::field("startsAt", "must be an RFC 3339 instant"))?;
            let minutes = settings::get(tx, &st.config, &user.org_id, &FREE_SESSION_MINUTES)?.as_i64().unwrap_or(30);
            let practitioner = b.coach_id.clone().or(b.therapist_id.clone()).unwrap_or_default();
            // What pays: the pass given, else one redeemed earlier, else the first session.
            let pass = match &b.pass_code {
                Some(code) => Some(take(tx, &user.org_id, &client_id, code, true)?.0),
                None => tx
                    .prepare_cached(
                        "SELECT r.pass_id FROM pass_redemptions r JOIN passes p ON p.id = r.pass_id
                         WHERE r.user_id = ?1 AND r.appointment_id IS NULL AND p.expires_at > ?2 AND p.org_id = ?3
                         ORDER BY p.expires_at LIMIT 1",
                    )?
                    .query_row(params![client_id, clock::now(), user.org_id], |r| r.get::<_, String>("pass_id"))
                    .optional()?,
            };
            if pass.is_none() {
                let had: bool = tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM appointments WHERE client_id = ?1 AND org_id = ?2 AND status <> 'cancelled') AS had",
                    )?
                    .query_row(params![client_id, user.org_id], |r| r.get("had"))?;
                if had {
                    return Err(ApiError::refused(
                        "passCode",
                        "a pass is needed: the free first session has been used",
                    ));
                }
            }
            let booking = Booking {
                practitioner_id: practitioner,
                client_id: Some(client_id.clone()),
                start,
                end: super::hours::plus(start, minutes),
                kind: b.kind.unwrap_or(SessionType::Video),
                notes: None,
                location: None,
                free: true,
            };
            let s = sessions::create(tx, &reach, &user, booking)?;
            if let Some(p) = &pass {
                tx.prepare_cached("UPDATE pass_redemptions SET appointment_id = ?3 WHERE pass_id = ?1 AND user_id = ?2")?
                    .execute(params![p, client_id, s.id])?;
            }
            let cal = calendar::entry(&s, &client_id, &st.config.public_url());
            Ok(FreeBooking {
                paid_with: if pass.is_some() { "pass" } else { "first_session" }.into(),
                calendar_link: cal.google_url.clone(),
                calendar: cal,
                prep_guide: guide(tx, &st, &user.org_id, &client_id)?,
                session: s,
            })
        })
        .await?;
    Ok(created(out))
}

/// Whose guide `user` may see: their own; a client in their reach (a person, or the person a
/// CRM record is linked to) — 404 otherwise.
fn guide_owner(
    c: &Connection,
    config: &Config,
    user: &CurrentUser,
    client_id: Option<String>,
) -> Result<String, ApiError> {
    let id = client_id.unwrap_or_else(|| user.id.clone());
    if id == user.id {
        return Ok(id);
    }
    let person = Reach::of(c, config, user)?
        .resolve(c, &id)?
        .person()
        .map(str::to_string)
        .ok_or_else(ApiError::not_found)?;
    super::store::member_of(c, &user.org_id, &person)?;
    Ok(person)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GuideQuery {
    /// Whose guide (staff and practitioners); the caller's when left out.
    pub client_id: Option<String>,
}
impl Validate for GuideQuery {}

/// A client's prep guide: the org's checklist with what they have done.
#[utoipa::path(get, path = "/prep-guide", tag = "appointments", params(GuideQuery),
    responses((status = 200, body = PrepGuide), (status = 404)), security(("bearer" = [])))]
async fn prep_guide(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<GuideQuery>,
) -> ApiResult<Data<PrepGuide>> {
    let (st, reader) = (state.clone(), user.clone());
    let (owner, g) = state
        .db
        .read(move |c| {
            let id = guide_owner(c, &st.config, &user, q.client_id)?;
            Ok::<_, ApiError>((id.clone(), guide(c, &st, &user.org_id, &id)?))
        })
        .await?;
    access::log(&state, &reader, vec![owner], Record::PrepGuide).await?;
    Ok(ok(g))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tick {
    /// One of the checklist's items, as the guide writes it.
    #[schema(min_length = 1, max_length = 200)]
    pub item: String,
    pub done: bool,
    /// Staff ticking for a client; the caller when left out.
    pub client_id: Option<String>,
}

impl Validate for Tick {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.item.is_empty() || self.item.chars().count() > 200 {
            errors.push(FieldError::new("item", "must be 1 to 200 characters"));
        }
    }
}

/// Ticks (or unticks) an item of the prep checklist.
#[utoipa::path(post, path = "/prep-guide/checklist", tag = "appointments", request_body = Tick,
    responses((status = 200, body = PrepGuide), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn tick(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<Tick>,
) -> ApiResult<Data<PrepGuide>> {
    let st = state.clone();
    let g = state
        .db
        .write(move |tx| {
            let id = guide_owner(tx, &st.config, &user, b.client_id.clone())?;
            if !items(tx, &st, &user.org_id)?.contains(&b.item) {
                return Err(ApiError::refused("item", "is not on the checklist"));
            }
            if b.done {
                tx.prepare_cached("INSERT INTO prep_checklist (user_id, item, done_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
                    .execute(params![id, b.item, clock::now()])?;
            } else {
                tx.prepare_cached("DELETE FROM prep_checklist WHERE user_id = ?1 AND item = ?2")?
                    .execute(params![id, b.item])?;
            }
            guide(tx, &st, &user.org_id, &id)
        })
        .await?;
    Ok(ok(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_normalize_back() {
        let c = new_code();
        assert_eq!(c.len(), 14);
        assert!(
            c.chars()
                .all(|ch| ch == '-' || ALPHABET.contains(&(ch as u8)))
        );
        assert_eq!(normalize(&c.to_lowercase().replace('-', " ")), c);
        assert_ne!(new_code(), c);
    }
}
