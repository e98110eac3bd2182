//! Community (seed 001, HealSpace): support groups, anonymous one-to-one conversations and
//! their moderation, live over Socket.IO (`crate::realtime`). People in distress write to
//! strangers here, so every answer shows a person only as they chose to be shown (their name,
//! or an alias that is theirs in one group or conversation only), every read is limited to the
//! caller's org, and staff see who wrote what only through an audited moderation view.

pub mod aliases;
pub mod chat;
pub mod crisis;
pub mod groups;
pub mod live;
pub mod messages;
pub mod moderation;
pub mod portal;
pub mod safety;
pub mod wiring;

use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Kind, Part, Setting};
use crate::state::AppState;

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(groups::router())
        .merge(chat::router())
        .merge(moderation::router())
}

pub const MEMBERS_CREATE_GROUPS: Setting = Setting {
    key: "community.membersCreateGroups",
    kind: Kind::Bool,
    default: |_| json!(false),
    description: "Whether members (not only staff and practitioners) may start support groups; they run the groups they start.",
};

pub const CRISIS_RESOURCES: Setting = Setting {
    key: "community.crisisResources",
    kind: Kind::Text { max_len: 2000 },
    default: |_| {
        json!(
            "If you are in danger or thinking about ending your life, please call your local emergency number now, or reach a crisis line: in the UK and Ireland Samaritans on 116 123, in the US 988 (call or text). You are not alone."
        )
    },
    description: "What someone whose message reads as a crisis is shown at once: helplines and where to get help now.",
};

pub const LISTENERS_ON_DUTY: Setting = Setting {
    key: "community.listenersOnDuty",
    kind: Kind::Lines {
        min_items: 0,
        max_items: 200,
        max_len: 254,
    },
    default: |_| json!([]),
    description: "Practitioners who take anonymous chats now (/chat/start), one e-mail address or user id per line; members who allow messages take them too.",
};

/// What a person wrote and where, their side only: never the words of the people they talked
/// with, nor anyone's real identity behind an alias.
const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "community_messages",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT m.id, CASE WHEN m.group_id IS NULL THEN 'conversation' ELSE 'group' END AS place,
                        coalesce(m.group_id, m.conversation_id) AS place_id, g.name AS group_name,
                        m.content, m.anonymous AS written_anonymously, m.hidden AS removed_by, m.created_at
                 FROM cm_messages m LEFT JOIN cm_groups g ON g.id = m.group_id
                 WHERE m.sender_id = ?1 ORDER BY m.seq",
                u,
            )
        },
    },
    Exporter {
        name: "community_groups",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT g.id, g.name, g.category, m.status, 'Anonymous User #' || m.alias_n AS alias,
                        g.owner_id = ?1 AS runs_it, m.created_at AS first_joined_at
                 FROM cm_group_members m JOIN cm_groups g ON g.id = m.group_id
                 WHERE m.user_id = ?1 ORDER BY m.created_at",
                u,
            )
        },
    },
    Exporter {
        name: "community_conversations",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT p.conversation_id AS id, c.paired AS anonymous_chat,
                        'Anonymous User #' || p.alias_n AS alias, p.joined_at AS started_at,
                        c.last_message_at
                 FROM cm_participants p JOIN cm_conversations c ON c.id = p.conversation_id
                 WHERE p.user_id = ?1 ORDER BY p.joined_at",
                u,
            )
        },
    },
    Exporter {
        name: "community_reports",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, message_id, reason, status, created_at FROM cm_reports
                 WHERE reporter_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
];
