//! The harness itself works on both backends.
use crate::common;

use common::TestHub;
use reqwest::StatusCode;

async fn health_answers_without_a_key(hub: &TestHub) {
    let (status, body) = hub.get_without_key("/api/v1/system/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["timestamp"], "2026-01-19T12:00:00Z");
}

on_both_backends!(health_answers_without_a_key);
