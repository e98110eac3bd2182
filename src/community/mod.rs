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
pub mod safety;

use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Feature, Kind, Setting};
use crate::state::AppState;

/// Groups, chat, moderation.
pub fn feature() -> Feature {
    Feature {
        api: router,
        settings: &[MEMBERS_CREATE_GROUPS, CRISIS_RESOURCES, LISTENERS_ON_DUTY],
        socket: live::attach,
        presence: Some(live::presence),
        ..Feature::named("community")
    }
}

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
