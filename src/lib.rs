//! Haven: a self-hosted client-care platform in one binary. `app::App::start` builds what
//! `haven serve` runs; tests start the same thing on 127.0.0.1:0.

pub mod admin;
pub mod apidocs;
pub mod app;
pub mod appointments;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod bench;
pub mod business;
pub mod care;
pub mod cli;
pub mod clock;
pub mod community;
pub mod compliance;
pub mod config;
pub mod crm;
pub mod db;
pub mod demo;
pub mod feature;
pub mod files;
pub mod health;
pub mod http;
pub mod invitations;
pub mod jobs;
mod layering;
pub mod logging;
pub mod memory;
pub mod notify;
pub mod orgs;
pub mod pdf;
pub mod portal;
pub mod realtime;
pub mod server;
pub mod settings;
pub mod setup;
pub mod state;
pub mod telemetry;
pub mod users;
pub mod wellbeing;
pub mod workplace;

/// The OpenAPI document as pretty JSON, from the same route list the server runs.
pub fn openapi_document() -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&app::openapi()?)?)
}
