//! Each operation's id, derived once from its route so that no two share one and a generated
//! client reads like the API: `listSessions`, `getSession`, `createClientNote`,
//! `approveResponse`. A verb ending a path names the action (`POST /responses/{id}/approve`);
//! otherwise the method does (`GET` a collection lists it, a path ending in an id gets,
//! updates, replaces or deletes the item, `POST` to a collection creates one). The few routes
//! the rule names awkwardly are named here by hand, and aliases kept for the seeds' names are
//! marked deprecated beside the route they stand for.

/// Last path segments that are actions rather than things.
const VERBS: &[&str] = &[
    "accept",
    "approve",
    "archive",
    "block",
    "cancel",
    "change",
    "complete",
    "confirm",
    "connect",
    "disable",
    "dispatch",
    "enable",
    "evaluate",
    "favorite",
    "forgot",
    "generate",
    "invite",
    "join",
    "leave",
    "logout",
    "pay",
    "preview",
    "rate",
    "reactivate",
    "read",
    "redeem",
    "refresh",
    "reject",
    "remind",
    "report",
    "resend",
    "reset",
    "resolve",
    "retry",
    "rotate",
    "run",
    "schedule",
    "send",
    "setup",
    "ship",
    "sign",
    "start",
    "submit",
    "sync",
    "upload",
    "verify",
    "void",
];

/// Routes the rule would name awkwardly: (method, path, id).
const NAMED: &[(&str, &str, &str)] = &[
    ("post", "/api/v1/auth/login", "login"),
    ("post", "/api/v1/auth/signup", "signup"),
    ("post", "/api/v1/auth/social-login", "socialLogin"),
    (
        "post",
        "/api/v1/auth/email/resend",
        "resendVerificationEmail",
    ),
    ("post", "/api/v1/auth/email/verify", "verifyEmail"),
    ("post", "/api/v1/auth/password/change", "changePassword"),
    ("post", "/api/v1/auth/password/forgot", "forgotPassword"),
    ("post", "/api/v1/auth/password/reset", "resetPassword"),
    ("post", "/api/v1/auth/refresh", "refreshTokens"),
    ("post", "/api/v1/auth/logout", "logout"),
    ("post", "/api/v1/auth/mfa/setup", "setupMfa"),
    ("post", "/api/v1/auth/mfa/enable", "enableMfa"),
    ("post", "/api/v1/auth/mfa/disable", "disableMfa"),
    ("post", "/api/v1/auth/mfa/verify", "verifyMfa"),
    ("delete", "/api/v1/auth/sessions/{id}", "revokeAuthSession"),
    (
        "post",
        "/api/v1/ai/summarize/client/{id}",
        "summarizeClient",
    ),
    (
        "post",
        "/api/v1/ai/summarize/project/{id}",
        "summarizeProject",
    ),
    ("post", "/api/v1/bmi/calc", "calculateBmi"),
    ("post", "/api/v1/bookings/free-session", "bookFreeSession"),
    ("post", "/api/v1/calendar/add", "addSessionToCalendar"),
    ("delete", "/api/v1/calendar/connect", "disconnectCalendar"),
    ("get", "/api/v1/calendar/feed.ics", "getCalendarFeed"),
    ("post", "/api/v1/crm/inbound/chatbot", "receiveChatbotLead"),
    ("post", "/api/v1/chat/messages", "sendChatMessage"),
    ("post", "/api/v1/me/delete", "requestAccountDeletion"),
    ("post", "/api/v1/me/export", "requestExport"),
    ("post", "/api/v1/me/phone/verify", "sendPhoneCode"),
    ("post", "/api/v1/me/phone/confirm", "confirmPhone"),
    (
        "post",
        "/api/v1/notifications/read-all",
        "readAllNotifications",
    ),
    ("post", "/api/v1/notifications/test", "sendTestNotification"),
    ("get", "/api/v1/openapi.json", "getOpenApiDocument"),
    ("post", "/api/v1/payments/webhook", "receivePaymentWebhook"),
    ("post", "/api/v1/prep-guide/checklist", "tickPrepGuideItem"),
    ("post", "/api/v1/sessions", "bookSession"),
    ("post", "/api/v1/team/assign-coach", "assignCoach"),
    (
        "post",
        "/api/v1/upload/profile-picture",
        "uploadProfilePicture",
    ),
    ("post", "/api/v1/wellness/logs/bulk", "createWellnessLogs"),
    ("post", "/api/v1/files/sign", "signUpload"),
    ("post", "/api/v1/files/complete", "completeUpload"),
    ("post", "/api/v1/files/upload", "uploadFile"),
    ("put", "/api/v1/files/{id}/content", "putUploadContent"),
    ("get", "/api/v1/crm", "listCrmEntries"),
    ("post", "/api/v1/crm", "createCrmEntry"),
    ("get", "/api/v1/search", "search"),
    ("post", "/api/v1/checkout", "checkout"),
    ("post", "/api/v1/devices", "registerDevice"),
    ("delete", "/api/v1/devices/{token}", "unregisterDevice"),
    // Aliases (below) keep names of their own.
    ("post", "/api/v1/auth/register", "register"),
    ("post", "/api/v1/auth/signin", "signin"),
    ("post", "/api/v1/auth/google", "googleLogin"),
    ("get", "/api/v1/me", "getMe"),
    ("delete", "/api/v1/users/account", "deleteUserAccount"),
    ("post", "/api/v1/partners/accept", "acceptPartner"),
    ("get", "/api/v1/customers", "listCustomers"),
];

/// Aliases kept for the seeds' names, and the route each stands for (method, path): deprecated,
/// each with an id of its own (in `NAMED`).
pub const ALIASES: &[(&str, &str, (&str, &str))] = &[
    (
        "post",
        "/api/v1/auth/register",
        ("post", "/api/v1/auth/signup"),
    ),
    (
        "post",
        "/api/v1/auth/signin",
        ("post", "/api/v1/auth/login"),
    ),
    (
        "post",
        "/api/v1/auth/google",
        ("post", "/api/v1/auth/social-login"),
    ),
    ("get", "/api/v1/me", ("get", "/api/v1/auth/me")),
    (
        "delete",
        "/api/v1/users/account",
        ("post", "/api/v1/me/delete"),
    ),
    ("get", "/api/v1/customers", ("get", "/api/v1/clients")),
    (
        "post",
        "/api/v1/partners/accept",
        ("post", "/api/v1/invitations/accept"),
    ),
];

/// When the aliases were deprecated (RFC 9745's `Deprecation`: `@` and a Unix time,
/// 2026-12-07T00:00:00Z) and when they may stop answering (RFC 8594's `Sunset`, an HTTP date):
/// a year's notice.
pub const DEPRECATION: &str = "@1796601600";
pub const SUNSET: &str = "Tue, 07 Dec 2027 00:00:00 GMT";

/// Answers of an alias say it is deprecated, since when, until when, and what replaces it.
pub async fn mark_deprecated(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let successor = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|m| alias_of(req.method().as_str(), m.as_str()));
    let mut res = next.run(req).await;
    if let Some((method, path)) = successor {
        let h = res.headers_mut();
        h.insert("deprecation", HeaderValue::from_static(DEPRECATION));
        h.insert("sunset", HeaderValue::from_static(SUNSET));
        if let Ok(link) = HeaderValue::from_str(&format!(
            "<{path}>; rel=\"successor-version\"; title=\"{} {path}\"",
            method.to_ascii_uppercase()
        )) {
            h.append(axum::http::header::LINK, link);
        }
    }
    res
}

/// The route the alias `method path` stands for, if it is one (`method` in any case).
pub fn alias_of(method: &str, path: &str) -> Option<(&'static str, &'static str)> {
    ALIASES
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|a| a.2)
}

/// The operation id of `method path` (`method` lower case); `lists` when it answers a list.
pub fn operation_id(method: &str, path: &str, lists: bool) -> String {
    if let Some((_, _, id)) = NAMED.iter().find(|(m, p, _)| *m == method && *p == path) {
        return (*id).to_string();
    }
    derive(method, path, lists)
}

fn derive(method: &str, path: &str, lists: bool) -> String {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let nouns: Vec<&str> = segments
        .iter()
        .copied()
        .filter(|s| !s.starts_with('{'))
        .collect();
    let Some(last) = segments.last() else {
        return method.to_string();
    };
    let singular_of =
        |words: &[&str]| -> String { words.iter().map(|w| pascal(&singular(w))).collect() };
    if last.starts_with('{') {
        let verb = match method {
            "get" => "get",
            "patch" => "update",
            "put" => "replace",
            "delete" => "delete",
            _ => "post",
        };
        return format!("{verb}{}", singular_of(&nouns));
    }
    let (head, tail) = nouns.split_at(nouns.len() - 1);
    let action = tail[0];
    if method != "get" && VERBS.contains(&action) {
        let verb = match (method, action) {
            ("delete", "block") => "unblock".to_string(),
            _ => camel(action),
        };
        let of = if head.is_empty() {
            String::new()
        } else {
            singular_of(head)
        };
        return format!("{verb}{of}");
    }
    // A thing that is not one item of a collection keeps its name (`getMoodStats`,
    // `updateNotificationPreferences`); `POST` adds one item to it.
    let whole = format!("{}{}", singular_of(head), pascal(action));
    match method {
        "get" if lists => format!("list{whole}"),
        "get" => format!("get{whole}"),
        "post" => format!("create{}", singular_of(&nouns)),
        "patch" => format!("update{whole}"),
        "put" => format!("replace{whole}"),
        _ => format!("delete{whole}"),
    }
}

/// A path word in the singular, enough for this API's words.
fn singular(word: &str) -> String {
    const SAME: &[&str] = &[
        "access",
        "analytics",
        "business",
        "news",
        "progress",
        "series",
        "settings",
        "status",
        "wellness",
        "wemwbs",
    ];
    if SAME.contains(&word) {
        return word.to_string();
    }
    if let Some(stem) = word.strip_suffix("zzes") {
        return format!("{stem}z"); // quizzes
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y"); // entries
    }
    for plural in ["ches", "shes", "sses", "xes"] {
        if word.ends_with(plural) {
            return word[..word.len() - 2].to_string(); // coaches, passes
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if !word.ends_with("ss") => stem.to_string(),
        _ => word.to_string(),
    }
}

fn pascal(word: &str) -> String {
    word.split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn camel(word: &str) -> String {
    let p = pascal(word);
    let mut cs = p.chars();
    cs.next()
        .map(|c| c.to_ascii_lowercase().to_string() + cs.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_like_the_api() {
        for (m, p, lists, id) in [
            ("get", "/api/v1/sessions", true, "listSessions"),
            ("get", "/api/v1/sessions/{id}", false, "getSession"),
            (
                "post",
                "/api/v1/clients/{clientId}/notes",
                false,
                "createClientNote",
            ),
            (
                "post",
                "/api/v1/responses/{id}/approve",
                false,
                "approveResponse",
            ),
            ("get", "/api/v1/journal/entries", true, "listJournalEntries"),
            (
                "get",
                "/api/v1/journal/entries/{id}",
                false,
                "getJournalEntry",
            ),
            ("get", "/api/v1/coaches/{id}", false, "getCoach"),
            ("get", "/api/v1/quizzes/{slug}", false, "getQuiz"),
            ("get", "/api/v1/passes", true, "listPasses"),
            (
                "delete",
                "/api/v1/chat/conversations/{id}/block",
                false,
                "unblockChatConversation",
            ),
            ("delete", "/api/v1/groups/{id}/leave", false, "leaveGroup"),
            ("get", "/api/v1/me/sharing", false, "getMeSharing"),
            ("get", "/api/v1/mood/stats", false, "getMoodStats"),
            (
                "patch",
                "/api/v1/notifications/preferences",
                false,
                "updateNotificationPreferences",
            ),
            ("get", "/api/v1/me", false, "getMe"),
            ("get", "/api/v1/customers", true, "listCustomers"),
            (
                "post",
                "/api/v1/assessments/wemwbs",
                false,
                "createAssessmentWemwbs",
            ),
        ] {
            assert_eq!(operation_id(m, p, lists), id, "{m} {p}");
        }
    }

    #[test]
    fn every_alias_has_an_id_of_its_own_and_the_dates_agree() {
        for (m, p, _) in ALIASES {
            assert!(NAMED.iter().any(|n| n.0 == *m && n.1 == *p), "{m} {p}");
        }
        let since = jiff::Timestamp::from_second(DEPRECATION[1..].parse().unwrap()).unwrap();
        assert_eq!(since.to_string(), "2026-12-07T00:00:00Z");
        let sunset = jiff::fmt::rfc2822::parse(SUNSET).unwrap().timestamp();
        assert_eq!(sunset.to_string(), "2027-12-07T00:00:00Z");
    }
}
