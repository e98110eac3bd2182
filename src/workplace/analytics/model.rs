//! What the analytics answer: participation, the WEMWBS distribution, trends and cohorts.

use crate::http::formats;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participation {
    /// People who logged at least once in the period.
    /// `null` when fewer people than the minimum (but some) were active: it would describe them.
    pub active: Option<i64>,
    /// People in the cohort.
    pub total: i64,
    /// `active / total`, 0..1; `null` with `active`.
    pub rate: Option<f64>,
}

impl Participation {
    /// "12 (40%)", or `fewer` when the count was withheld.
    pub fn logged_text(&self, fewer: &str) -> String {
        match (self.active, self.rate) {
            (Some(a), Some(r)) => format!("{a} ({:.0}%)", r * 100.0),
            _ => fewer.to_string(),
        }
    }
}

/// A count as a page shows it: the number, or `fewer` when it was withheld.
pub fn count_text(n: Option<i64>, fewer: &str) -> String {
    n.map(|n| n.to_string())
        .unwrap_or_else(|| fewer.to_string())
}

/// How many people's latest WEMWBS fell in each category. A category counting fewer people
/// than the minimum (other than none) is `null`: it would describe them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WemwbsDistribution {
    pub low: Option<i64>,
    pub moderate: Option<i64>,
    pub high: Option<i64>,
    /// People whose latest WEMWBS in the period is counted.
    pub respondents: i64,
}

impl WemwbsDistribution {
    /// Whether a category was withheld.
    pub fn withheld(&self) -> bool {
        self.low.is_none() || self.moderate.is_none() || self.high.is_none()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    /// The Monday of the week (whole weeks that touch the period).
    #[schema(value_type = formats::Day)]
    pub period_start: String,
    /// The mean of the domains' averages over the whole week, as a percent of each one's
    /// range (0..100); `null` when fewer people than the minimum logged that week.
    pub average: Option<f64>,
}

/// One cohort's figures. Suppressed: every figure `null`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cohort {
    /// The department (`null` for people in none, and for the whole org).
    pub department_id: Option<String>,
    /// The department's name, `No department`, or the org's name.
    pub name: String,
    /// Fewer people than the minimum cohort size (no figure is given), or some figure of the
    /// row was withheld because it would describe fewer.
    pub suppressed: bool,
    pub participation: Option<Participation>,
    /// Each domain's average score (by key); `null` when fewer people than the minimum
    /// logged in the period.
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub domain_averages: Option<BTreeMap<String, f64>>,
    /// `null` when fewer people than the minimum took the WEMWBS in the period.
    pub wemwbs: Option<WemwbsDistribution>,
    pub trend: Option<Vec<TrendPoint>>,
}

/// How rows are grouped: per department, or all of the org (optionally one department).
#[derive(Debug, Clone)]
pub enum Split {
    Departments,
    Whole { department: Option<String> },
}

impl Split {
    /// The SQL grouping key over a department column (`''` for none).
    pub(super) fn key(&self, col: &str) -> String {
        match self {
            Split::Departments => col.to_string(),
            Split::Whole { .. } => "''".into(),
        }
    }

    /// A condition narrowing a department column to the chosen department (`:dept`).
    pub(super) fn narrow(&self, col: &str) -> String {
        match self {
            Split::Whole {
                department: Some(_),
            } => format!(" AND {col} = :dept"),
            _ => String::new(),
        }
    }

    pub(super) fn department(&self) -> Option<&str> {
        match self {
            Split::Whole { department } => department.as_deref(),
            Split::Departments => None,
        }
    }
}
