//! Invoices for staff: the list (status and words), issuing one with up to eight lines typed
//! in the currency's own units, and an invoice's page — remind the client, record money
//! received, void it with a reason, open the PDF.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{INVOICES, renamed};
use crate::auth::policy::Perm;
use crate::business::invoices::{self, Invoice, InvoiceFilters};
use crate::business::payments;
use crate::care::Reach;
use crate::http::formats::parse_major;
use crate::http::{ApiError, Paged, ValidJson, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

/// Lines the form offers.
pub const LINES: usize = 8;

#[derive(Template)]
#[template(path = "business/invoices.html")]
pub struct InvoicesPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub status: String,
    pub search: String,
    pub invoices: Vec<Invoice>,
    pub pager: Pager,
    pub clients: Vec<(String, String)>,
    pub form: HashMap<String, String>,
    pub lines: Vec<usize>,
}

impl InvoicesPage {
    fn field(&self, k: &str) -> &str {
        self.form.get(k).map(String::as_str).unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "business/invoice.html")]
pub struct InvoicePage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub invoice: Invoice,
    pub amount: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::InvoicesManage])
}

async fn clients(state: &AppState, u: &PortalUser) -> Vec<(String, String)> {
    let (config, me) = (state.config.clone(), u.acting(Perm::InvoicesManage));
    state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &me)?;
            let (cond, values) = reach.condition("c");
            let rows = c
                .prepare(&format!(
                    "SELECT c.id, c.name FROM crm_clients c WHERE {cond} AND c.archived_at IS NULL ORDER BY c.name COLLATE NOCASE LIMIT 500"
                ))?
                .query_map(rusqlite::params_from_iter(values.iter()), |r| Ok((r.get("id")?, r.get("name")?)))?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
            Ok::<_, ApiError>(rows)
        })
        .await
        .unwrap_or_default()
}

async fn render_list(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: HashMap<String, String>,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(INVOICES, raw, &["status", "search"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["createdAt", "dueAt", "number", "total"], &mut notes);
    let status = q.get("status");
    let filters = InvoiceFilters {
        status: serde_json::from_value(json!(status)).ok(),
        client_id: None,
        search: forms::given(&q.get("search")),
    };
    let listed = invoices::list(
        State(state.clone()),
        u.acting(Perm::InvoicesView),
        Paged {
            page: params.clone(),
            filters,
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the invoices", &e),
    };
    let mut form = form;
    form.entry("currency".into())
        .or_insert_with(|| "EUR".into());
    page(
        problems.status(),
        &InvoicesPage {
            chrome: Chrome::of(&u, INVOICES).await,
            problems,
            status,
            search: q.get("search"),
            pager: q.pager(&params, listed.total),
            invoices: listed.items,
            clients: clients(&state, &u).await,
            form,
            lines: (1..=LINES).collect(),
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render_list(state, u, raw, HashMap::new(), Problems::none()).await
}

/// The form as the API's body: amounts typed in the currency's units become minor units (a
/// figure that is not an amount goes through as text, for the API to name), the due date is
/// the end of that day in the viewer's zone.
async fn body(state: &AppState, u: &PortalUser, f: &HashMap<String, String>) -> Value {
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let currency = get("currency").to_uppercase();
    let mut items = Vec::new();
    for i in 1..=LINES {
        let (d, q, p) = (
            get(&format!("description_{i}")),
            get(&format!("quantity_{i}")),
            get(&format!("price_{i}")),
        );
        if d.is_empty() && q.is_empty() && p.is_empty() {
            continue;
        }
        // A blank quantity is one; anything else not a number goes through for the API to name.
        let quantity = match q.as_str() {
            "" => json!(1),
            q => q.parse::<i64>().map(Value::from).unwrap_or(Value::from(q)),
        };
        let price = parse_major(&p, &currency)
            .map(Value::from)
            .unwrap_or(Value::from(p));
        items.push(json!({"description": d, "quantity": quantity, "unitPrice": price}));
    }
    let uid = u.user.id.clone();
    let zone = state
        .db
        .read(move |c| {
            crate::appointments::portal::zone_of(c, &uid).map_err(crate::db::DbError::from)
        })
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let due = get("due");
    let due_at = due
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| {
            d.to_datetime(jiff::civil::time(23, 59, 59, 0))
                .to_zoned_datetime(zone)
                .ok()
        })
        .map(|z| crate::clock::format(z.timestamp()))
        .unwrap_or(due);
    let mut b =
        json!({"clientId": get("client"), "currency": currency, "dueAt": due_at, "items": items});
    let tax = get("tax");
    if !tax.is_empty() {
        b["taxRateBps"] = parse_major(&tax, "EUR")
            .map(Value::from)
            .unwrap_or(Value::from(tax));
    }
    for k in ["number", "notes"] {
        let v = get(k);
        if !v.is_empty() {
            b[k] = json!(v);
        }
    }
    b
}

fn problems_of(e: &ApiError) -> Problems {
    let mut names: Vec<(String, String)> = vec![
        ("clientId".into(), "client".into()),
        ("dueAt".into(), "due".into()),
        ("taxRateBps".into(), "tax".into()),
    ];
    for i in 0..LINES {
        for (api, form) in [
            ("description", "description"),
            ("quantity", "quantity"),
            ("unitPrice", "price"),
        ] {
            names.push((format!("items[{i}].{api}"), format!("{form}_{}", i + 1)));
        }
    }
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    renamed(e, &pairs)
}

pub async fn create(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let made = match forms::body(body(&state, &u, &f).await) {
        Ok(b) => invoices::create(State(state.clone()), u.acting(Perm::InvoicesManage), b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(inv) => {
            let inv = inv.into_inner();
            flash(&session, &format!("Invoice {} is issued.", inv.number)).await;
            Redirect::to(&format!("{INVOICES}/{}", inv.id)).into_response()
        }
        Err(e) => render_list(state, u, None, f, problems_of(&e)).await,
    }
}

async fn render_one(
    state: AppState,
    u: PortalUser,
    id: String,
    amount: String,
    problems: Problems,
) -> Response {
    let inv =
        match invoices::get_one(State(state), u.acting(Perm::InvoicesView), ValidPath(id)).await {
            Ok(i) => i.into_inner(),
            Err(e) if e.status() == StatusCode::NOT_FOUND => {
                return refused::not_found(&u, "There is no such invoice.");
            }
            Err(e) => return refused::failed("the invoice", &e),
        };
    page(
        problems.status(),
        &InvoicePage {
            chrome: Chrome::of(&u, INVOICES).await,
            problems,
            invoice: inv,
            amount,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render_one(state, u, id, String::new(), Problems::none()).await
}

/// The PDF, for the signed-in staff member.
pub async fn pdf(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    match invoices::pdf_of(State(state), u.acting(Perm::InvoicesView), ValidPath(id)).await {
        Ok(r) => r,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            refused::not_found(&u, "There is no such invoice.")
        }
        Err(e) => refused::failed("the PDF", &e),
    }
}

/// Remind, void or record a payment.
pub async fn act(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath((id, action)): ValidPath<(String, String)>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::InvoicesManage);
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let (done, amount) = match action.as_str() {
        "remind" => (
            invoices::remind(State(state.clone()), me, ValidPath(id.clone()))
                .await
                .map(|(_, d)| d.into_inner()),
            String::new(),
        ),
        "void" => (
            match forms::body(json!({"reason": get("reason")})) {
                Ok(b) => invoices::void(State(state.clone()), me, ValidPath(id.clone()), b)
                    .await
                    .map(|d| d.into_inner()),
                Err(e) => Err(e),
            },
            String::new(),
        ),
        "payment" => {
            let currency = get("currency");
            let typed = get("amount");
            let amount = parse_major(&typed, &currency)
                .map(Value::from)
                .unwrap_or(Value::from(typed.clone()));
            let r = match forms::body::<payments::ManualPayment>(
                json!({"amount": amount, "method": get("method")}),
            ) {
                Ok(ValidJson(b)) => payments::record(
                    State(state.clone()),
                    me,
                    ValidPath(id.clone()),
                    ValidJson(b),
                )
                .await
                .map(|d| d.into_inner()),
                Err(e) => Err(e),
            };
            (r, typed)
        }
        _ => return refused::not_found(&u, "There is no such action."),
    };
    match done {
        Ok(inv) => {
            let said = match action.as_str() {
                "remind" => format!(
                    "A reminder of {} is on its way to {}.",
                    inv.number, inv.client_name
                ),
                "void" => format!("Invoice {} is void.", inv.number),
                _ => format!(
                    "Payment recorded: {} is {}.",
                    inv.number,
                    inv.status.as_str()
                ),
            };
            flash(&session, &said).await;
            Redirect::to(&format!("{INVOICES}/{id}")).into_response()
        }
        Err(e) => render_one(state, u, id, amount, Problems::from_api(&e)).await,
    }
}
