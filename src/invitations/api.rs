//! `/invitations/*` and `/partners/*`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, Acceptance, COLUMNS, Invitation, NewInvitation};
use crate::auth::policy::{Perm, allow};
use crate::auth::{CurrentUser, password, password_rules};
use crate::care::Reach;
use crate::db::filter::{Filter, contains_pattern, text};
use crate::http::Data;
use crate::http::formats;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath,
    Validate, created, no_content, ok,
};
use crate::state::AppState;
use crate::users::model::{Role, is_valid_email, name_problem, normalize_email};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Invite, routes!(create)))
        .routes(allow(Perm::Invite, routes!(list)))
        .routes(allow(Perm::Invite, routes!(revoke)))
        .routes(allow(Perm::Public, routes!(accept)))
        .routes(allow(Perm::Invite, routes!(invite_partner)))
        .routes(allow(Perm::Public, routes!(accept_partner)))
        .routes(allow(Perm::Invite, routes!(list_partners)))
}

/// A partner's reach.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvitationScope {
    /// The clients a partner may see.
    #[serde(default)]
    #[schema(max_items = 1000, value_type = Vec<ClientIdDoc>)]
    pub client_ids: Vec<String>,
    /// When the partner's access ends (a future instant); never when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
}

/// A client's id in an invitation's scope: 1 to 64 characters, not only spaces.
#[derive(ToSchema)]
#[schema(pattern = r"\S", max_length = 64)]
pub struct ClientIdDoc(#[allow(dead_code)] String);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewInvitationBody {
    #[schema(value_type = formats::Email)]
    pub email: String,
    pub role: Role,
    pub department_id: Option<String>,
    pub scope: Option<InvitationScope>,
    /// 1 to 90; the org's `invitations.expiryDays` setting when left out.
    #[schema(minimum = 1, maximum = 90)]
    pub expires_in_days: Option<i64>,
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
}

fn check_invitee(
    email: &str,
    days: Option<i64>,
    scope: Option<&InvitationScope>,
    errors: &mut Vec<FieldError>,
) {
    if !is_valid_email(&normalize_email(email)) {
        errors.push(FieldError::new("email", "must be a valid e-mail address"));
    }
    if days.is_some_and(|d| !(1..=90).contains(&d)) {
        errors.push(FieldError::new("expiresInDays", "must be from 1 to 90"));
    }
    if let Some(s) = scope {
        if s.client_ids.len() > 1000 {
            errors.push(FieldError::new(
                "scope.clientIds",
                "must list at most 1000 clients",
            ));
        }
        if s.client_ids
            .iter()
            .any(|c| c.trim().is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("scope.clientIds", "must be client ids"));
        }
        if s.expires_at
            .as_deref()
            .is_some_and(|v| super::partners::expiry(v).is_none())
        {
            errors.push(FieldError::new(
                "scope.expiresAt",
                "must be a future RFC 3339 instant",
            ));
        }
    }
}

impl Validate for NewInvitationBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_invitee(
            &self.email,
            self.expires_in_days,
            self.scope.as_ref(),
            errors,
        );
        for (f, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
        ] {
            if v.as_deref()
                .is_some_and(|n| name_problem(n) == Some("must be at most 100 characters"))
            {
                errors.push(FieldError::new(f, "must be at most 100 characters"));
            }
        }
    }
}

pub async fn invite(
    state: AppState,
    user: CurrentUser,
    client: ClientInfo,
    body: NewInvitationBody,
) -> ApiResult<Data<Invitation>> {
    if !user.role.can_grant(body.role) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "You cannot invite someone with a role above your own",
        ));
    }
    let st = state.clone();
    let mut scope = body.scope.unwrap_or_default();
    scope.expires_at = scope
        .expires_at
        .as_deref()
        .and_then(super::partners::expiry);
    let inv = state
        .db
        .write(move |tx| {
            // A partner sees no more than the person who invites them.
            let reach = Reach::of(tx, &st.config, &user)?;
            super::partners::within_reach(tx, &reach, "scope.clientIds", &scope.client_ids)?;
            store::create_and_send(
                tx,
                &st,
                NewInvitation {
                    org_id: user.org_id.clone(),
                    email: normalize_email(&body.email),
                    role: body.role,
                    department_id: body.department_id,
                    scope: json!(scope),
                    invited_by: Some(user.id.clone()),
                    first_name: body.first_name.map(|s| s.trim().to_string()),
                    last_name: body.last_name.map(|s| s.trim().to_string()),
                    expires_in_days: body.expires_in_days,
                },
                client.ip.as_deref(),
            )
        })
        .await?;
    Ok(created(inv))
}

/// Invites someone to the caller's org by e-mail; a role above the inviter's is refused.
#[utoipa::path(post, path = "/invitations", tag = "invitations", request_body = NewInvitationBody,
    responses((status = 422), (status = 201, body = Invitation), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<NewInvitationBody>,
) -> ApiResult<impl IntoResponse> {
    invite(state, user, client, body).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvitationFilters {
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: Option<String>,
    pub role: Option<Role>,
    /// Part of the e-mail address.
    pub search: Option<String>,
}

impl Validate for InvitationFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| !["pending", "accepted", "revoked", "expired"].contains(&s))
        {
            errors.push(FieldError::new(
                "status",
                "must be pending, accepted, revoked or expired",
            ));
        }
    }
}

pub async fn list_where(
    state: &AppState,
    user: &CurrentUser,
    q: Paged<InvitationFilters>,
    only_role: Option<Role>,
) -> ApiResult<Page<Invitation>> {
    let order = q.page.order_by(
        &[
            ("createdAt", "created_at"),
            ("email", "email"),
            ("expiresAt", "expires_at"),
        ],
        "created_at DESC, id DESC",
    )?;
    let f = q.filters;
    let mut w = Filter::new();
    w.and("org_id = ?", [text(user.org_id.clone())]).and_some(
        "role = ?",
        only_role.or(f.role).map(|r| r.as_str().to_string()),
    );
    if let Some(s) = f.search.filter(|s| !s.trim().is_empty()) {
        w.and(
            "email LIKE ? ESCAPE '\\'",
            [text(contains_pattern(&normalize_email(&s)))],
        );
    }
    let now = crate::clock::now();
    match f.status.as_deref() {
        Some("expired") => w.and("status = 'pending' AND expires_at < ?", [text(now)]),
        Some("pending") => w.and("status = 'pending' AND expires_at >= ?", [text(now)]),
        Some(other) => w.and("status = ?", [text(other)]),
        None => &mut w,
    };
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "invitations", &order, &page, store::from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// The org's invitations, newest first.
#[utoipa::path(get, path = "/invitations", tag = "invitations", params(crate::http::PageQuery, InvitationFilters),
    responses((status = 200, body = [Invitation]), (status = 403)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<InvitationFilters>,
) -> ApiResult<Page<Invitation>> {
    list_where(&state, &user, q, None).await
}

/// Withdraws a pending invitation; its link stops working.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "invitations", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    state
        .db
        .write(move |tx| store::revoke(tx, &user.org_id, &id, &user.id, client.ip.as_deref()))
        .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptBody {
    #[schema(pattern = r"\S")]
    pub token: String,
    #[schema(value_type = formats::NewPassword)]
    pub password: String,
    #[schema(value_type = formats::PersonName)]
    pub first_name: String,
    #[schema(value_type = formats::PersonName)]
    pub last_name: String,
}

impl Validate for AcceptBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.token.trim().is_empty() {
            errors.push(FieldError::new("token", "is required"));
        }
        if let Some(p) = password_rules::problem(&self.password, "") {
            errors.push(FieldError::new("password", p));
        }
        for (f, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
        ] {
            if let Some(p) = name_problem(v) {
                errors.push(FieldError::new(f, p));
            }
        }
    }
}

/// Accepts an invitation: creates the account (password, names) and signs it in. Also what
/// `POST /auth/signup` does with an `inviteToken`.
pub async fn accept_invitation(
    state: &AppState,
    client: ClientInfo,
    token: String,
    password: String,
    first_name: String,
    last_name: String,
    expected_email: Option<String>,
) -> ApiResult<crate::auth::api::AuthResult> {
    // Check the token and the password against the invited address before the slow hash.
    let t = token.clone();
    let invited = state
        .db
        .read(move |c| store::by_token(c, &t).map(|l| l.email))
        .await?;
    if let Some(e) = expected_email
        && normalize_email(&e) != invited
    {
        return Err(ApiError::new(
            ErrorCode::Unprocessable,
            "This invitation was sent to another e-mail address",
        ));
    }
    if let Some(p) = password_rules::problem(&password, &invited) {
        return Err(ApiError::field("password", p));
    }
    let hash = password::hash_async(password).await?;
    let st = state.clone();
    state
        .db
        .write(move |tx| {
            let user_id = store::accept(
                tx,
                &Acceptance {
                    token: &token,
                    password_hash: &hash,
                    first_name: &first_name,
                    last_name: &last_name,
                },
                client.ip.as_deref(),
            )?;
            crate::auth::api::sign_in(tx, &st, &user_id, &client)
        })
        .await
}

/// Accepts an invitation with the token from the e-mailed link; answers signed in.
#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", request_body = AcceptBody,
    responses((status = 422), (status = 200, body = crate::auth::api::AuthResult), (status = 400), (status = 409), (status = 410)))]
async fn accept(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(b): ValidJson<AcceptBody>,
) -> ApiResult<impl IntoResponse> {
    let r = accept_invitation(
        &state,
        client,
        b.token,
        b.password,
        b.first_name,
        b.last_name,
        None,
    )
    .await?;
    Ok(ok(r))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartnerInviteBody {
    #[schema(value_type = formats::Email)]
    pub email: String,
    pub scope: Option<InvitationScope>,
    pub department_id: Option<String>,
    #[schema(minimum = 1, maximum = 90)]
    pub expires_in_days: Option<i64>,
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
}

impl Validate for PartnerInviteBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_invitee(
            &self.email,
            self.expires_in_days,
            self.scope.as_ref(),
            errors,
        );
    }
}

/// Invites a partner (role `partner`) with access limited to the listed clients.
#[utoipa::path(post, path = "/partners/invite", tag = "invitations", request_body = PartnerInviteBody,
    responses((status = 422), (status = 201, body = Invitation), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
async fn invite_partner(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(b): ValidJson<PartnerInviteBody>,
) -> ApiResult<impl IntoResponse> {
    let body = NewInvitationBody {
        email: b.email,
        role: Role::Partner,
        department_id: b.department_id,
        scope: b.scope,
        expires_in_days: b.expires_in_days,
        first_name: b.first_name,
        last_name: b.last_name,
    };
    invite(state, user, client, body).await
}

/// Accepts a partner invitation (the same as `POST /invitations/accept`).
#[utoipa::path(post, path = "/partners/accept", tag = "invitations", request_body = AcceptBody,
    responses((status = 422), (status = 200, body = crate::auth::api::AuthResult), (status = 400), (status = 409), (status = 410)))]
async fn accept_partner(
    state: State<AppState>,
    client: ClientInfo,
    body: ValidJson<AcceptBody>,
) -> ApiResult<impl IntoResponse> {
    accept(state, client, body).await
}

/// The org's partner invitations (accepted ones name the partner's account).
#[utoipa::path(get, path = "/partners", tag = "invitations", params(crate::http::PageQuery, InvitationFilters),
    responses((status = 200, body = [Invitation]), (status = 403)), security(("bearer" = [])))]
async fn list_partners(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<InvitationFilters>,
) -> ApiResult<Page<Invitation>> {
    list_where(&state, &user, q, Some(Role::Partner)).await
}
