//! Integration tests: each test starts its own server on 127.0.0.1:0 with a fresh data dir and
//! talks to it over real HTTP (docs/conventions.md, "Tests").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod files;
mod fixtures;
mod github;
mod google;
mod google_calendar;
mod sockets;
mod support;
mod traces;

mod anonymity;
mod api_changes;
mod appointments;
mod browser;
mod business;
mod care;
mod clamav;
mod cli;
mod community;
mod compliance;
mod container;
mod contract;
mod crash;
mod crm;
mod demo;
mod first_run;
mod idempotency;
mod identity;
mod lifecycle;
mod litestream;
mod mail;
mod notify;
mod openapi;
mod ops;
mod org_transfer;
mod outbox;
mod packaging;
mod policy;
mod portal;
mod portal_pages;
mod postman;
mod proxy;
mod push;
mod realtime;
mod s3;
mod seeds;
mod sms;
mod wellbeing;
mod workplace;
