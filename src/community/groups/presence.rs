//! Who is online in a group, for its members.

use super::*;
use crate::auth::CurrentUser;
use crate::http::ApiError;
use rusqlite::{Connection, params};
use serde_json::json;

/// Members online per group, counted from the people online now (few) rather than from the
/// groups' members (many).
pub(super) fn online_counts(
    c: &Connection,
    online: &[String],
    ids: &[String],
) -> rusqlite::Result<std::collections::HashMap<String, i64>> {
    if online.is_empty() {
        return Ok(Default::default());
    }
    c.prepare_cached(
        "SELECT group_id, count(*) AS online FROM cm_group_members
         WHERE status = 'member' AND user_id IN (SELECT value FROM json_each(?1))
           AND group_id IN (SELECT value FROM json_each(?2))
         GROUP BY group_id",
    )?
    .query_map(
        params![json!(online).to_string(), json!(ids).to_string()],
        |r| Ok((r.get("group_id")?, r.get("online")?)),
    )?
    .collect()
}

/// Members online now in a group the caller belongs to; 404 outside their org, 403 when
/// they are not a member (`joinGroup`).
pub fn online_if_member(
    c: &Connection,
    user: &CurrentUser,
    online: &[String],
    id: &str,
) -> Result<i64, ApiError> {
    let g = seen(c, user, online, id)?;
    if !g.joined {
        return Err(ApiError::forbidden().with_cause("only the group's members join its room"));
    }
    Ok(g.online_count)
}

/// Members online now in each group a person belongs to.
pub fn online_in_groups_of(
    c: &Connection,
    user_id: &str,
    online: &[String],
) -> rusqlite::Result<Vec<(String, i64)>> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT group_id FROM cm_group_members WHERE user_id = ?1 AND status = 'member'",
        )?
        .query_map([user_id], |r| r.get("group_id"))?
        .collect::<rusqlite::Result<_>>()?;
    let counts = online_counts(c, online, &ids)?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let n = counts.get(&id).copied().unwrap_or(0);
            (id, n)
        })
        .collect())
}
