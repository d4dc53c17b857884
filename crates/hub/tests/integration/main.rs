//! The hub's integration tests, linked as one test binary: one link instead of sixteen, one
//! throw-away PostgreSQL cluster for the whole run, and a fraction of the disk space. Each module
//! is one area of the API or the dashboard, against a real listener on a loopback port.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod agent_e2e;
mod alerts_api;
mod api_conventions;
mod api_heartbeat;
mod api_metrics;
mod api_registration;
mod api_servers;
mod backpressure;
mod config_api;
mod dependencies;
mod durability;
mod fleet_status;
mod hardening;
mod hostile_corpus;
mod install_script;
mod inventory_api;
mod notification_channels;
mod notification_timing;
mod notifications_api;
mod notifications_delivery;
mod offline_timing;
mod openapi_conformance;
mod services_api;
mod smoke;
mod v1_ui;
mod web_e2e;
mod web_handlers;
