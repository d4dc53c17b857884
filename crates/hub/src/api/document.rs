//! Makes the generated OpenAPI document say what the API does (issue 14): v1's operation ids,
//! the error answers every operation can give (401 without the key, 404 for a path naming
//! something that does not exist, 422 for input that does not parse, 413 for a body too large),
//! the servers and contact. Done once over the whole document, so that a new route cannot forget.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// v1's operation ids (its routes name them explicitly: `list_servers`, `get_server`, …), and the
/// same style for the routes v1 lacks.
const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("get", "/api/v1/system/health", "health_check"),
    ("get", "/api/v1/servers", "list_servers"),
    ("post", "/api/v1/servers", "create_server"),
    ("get", "/api/v1/servers/{server_id}", "get_server"),
    ("put", "/api/v1/servers/{server_id}", "update_server"),
    ("delete", "/api/v1/servers/{server_id}", "delete_server"),
    ("put", "/api/v1/servers/{server_id}/pause", "pause_server"),
    ("put", "/api/v1/servers/{server_id}/unpause", "unpause_server"),
    ("get", "/api/v1/servers/{server_id}/packages", "get_server_packages"),
    ("get", "/api/v1/servers/{server_id}/tags", "get_server_tags"),
    ("put", "/api/v1/servers/{server_id}/tags", "set_server_tags"),
    ("get", "/api/v1/servers/{server_id}/reported-services", "list_reported_services"),
    ("get", "/api/v1/servers/{server_id}/config/packs", "get_assigned_packs"),
    ("post", "/api/v1/agents/heartbeat", "receive_heartbeat"),
    ("get", "/api/v1/agents/version", "get_agent_version"),
    ("get", "/api/v1/servers/{server_id}/metrics", "get_metrics_history"),
    ("get", "/api/v1/servers/{server_id}/metrics/sparkline", "get_metrics_sparkline"),
    ("get", "/api/v1/servers/{server_id}/metrics/series", "get_metrics_series"),
    ("get", "/api/v1/servers/{server_id}/metrics/export", "export_metrics"),
    ("post", "/api/v1/agents/register/tokens", "create_registration_token"),
    ("get", "/api/v1/agents/register/tokens", "list_registration_tokens"),
    ("delete", "/api/v1/agents/register/tokens/{token_id}", "cancel_registration_token"),
    ("post", "/api/v1/agents/register/claim", "claim_registration_token"),
    ("get", "/api/v1/agents/register/install.sh", "get_install_script"),
    ("get", "/api/v1/agents/download/{arch}", "download_agent"),
    ("get", "/api/v1/agents/register/credentials/{server_guid}", "get_credential_status"),
    ("post", "/api/v1/agents/register/credentials/{server_guid}/rotate", "rotate_credential"),
    ("post", "/api/v1/agents/register/credentials/{server_guid}/revoke", "revoke_credential"),
    ("get", "/api/v1/alerts", "list_alerts"),
    ("get", "/api/v1/alerts/pending", "get_pending_alerts"),
    ("get", "/api/v1/alerts/{alert_id}", "get_alert"),
    ("post", "/api/v1/alerts/{alert_id}/acknowledge", "acknowledge_alert"),
    ("post", "/api/v1/alerts/{alert_id}/resolve", "resolve_alert"),
    ("get", "/api/v1/alerts/{alert_id}/timeline", "get_alert_timeline"),
    ("get", "/api/v1/servers/{server_id}/services", "list_expected_services"),
    ("get", "/api/v1/servers/{server_id}/inventory", "get_server_inventory"),
    ("get", "/api/v1/inventory/summary", "get_inventory_summary"),
    ("put", "/api/v1/servers/{server_id}/containers/{name}/watch", "watch_container"),
    ("delete", "/api/v1/servers/{server_id}/containers/{name}/watch", "unwatch_container"),
    ("put", "/api/v1/servers/{server_id}/containers/watch-all", "set_watch_all_containers"),
    ("post", "/api/v1/servers/{server_id}/services", "create_expected_service"),
    ("put", "/api/v1/servers/{server_id}/services/{service_name}", "update_expected_service"),
    ("delete", "/api/v1/servers/{server_id}/services/{service_name}", "delete_expected_service"),
    ("get", "/api/v1/config", "get_config"),
    ("get", "/api/v1/config/thresholds", "get_thresholds"),
    ("put", "/api/v1/config/thresholds", "update_thresholds"),
    ("get", "/api/v1/config/notifications", "get_notifications"),
    ("put", "/api/v1/config/notifications", "update_notifications"),
    ("post", "/api/v1/config/test-webhook", "test_webhook"),
    ("get", "/api/v1/config/cost", "get_cost_config"),
    ("put", "/api/v1/config/cost", "update_cost_config"),
    ("get", "/api/v1/config/packs", "list_config_packs"),
    ("get", "/api/v1/costs/summary", "get_cost_summary"),
    ("get", "/api/v1/costs/breakdown", "get_cost_breakdown"),
    ("get", "/api/v1/fleet/summary", "get_fleet_summary"),
    ("get", "/api/v1/preferences/dashboard", "get_dashboard_preferences"),
    ("put", "/api/v1/preferences/dashboard", "save_dashboard_preferences"),
    ("get", "/api/v1/actions", "list_actions"),
    ("get", "/api/v1/notifications/channels", "list_channels"),
    ("post", "/api/v1/notifications/channels", "create_channel"),
    ("put", "/api/v1/notifications/channels/{id}", "update_channel"),
    ("delete", "/api/v1/notifications/channels/{id}", "delete_channel"),
    ("post", "/api/v1/notifications/channels/{id}/test", "test_channel"),
    ("get", "/api/v1/notifications/deliveries", "list_deliveries"),
    ("post", "/api/v1/notifications/deliveries/{id}/retry", "retry_delivery"),
    ("post", "/api/v1/notifications/deliveries/{id}/discard", "discard_delivery"),
];

pub struct Truthful;

impl Modify for Truthful {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.servers = Some(vec![
            utoipa::openapi::ServerBuilder::new()
                .url("/")
                .description(Some("This hub (the API is mounted under /api/v1)"))
                .build(),
        ]);
        openapi.info.contact = Some(utoipa::openapi::ContactBuilder::new().name(Some("Homelab Command")).build());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let methods = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in methods {
                if let Some(operation) = operation {
                    name(operation, method, path);
                    add_error_answers(operation);
                }
            }
        }
    }
}

fn name(operation: &mut Operation, method: &str, path: &str) {
    if let Some((_, _, id)) = OPERATION_IDS.iter().find(|(m, p, _)| *m == method && *p == path) {
        operation.operation_id = Some((*id).to_owned());
    }
}

fn error(description: &str, schema: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
}

fn is_integer(schema: Option<&RefOr<Schema>>) -> bool {
    matches!(schema, Some(RefOr::T(Schema::Object(object))) if object.schema_type == SchemaType::Type(Type::Integer))
}

fn add_error_answers(operation: &mut Operation) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_path = parameters.iter().any(|p| p.parameter_in == ParameterIn::Path);
    // Query values and integer path segments are parsed, and a request body always is.
    let parses = operation.request_body.is_some()
        || parameters.iter().any(|p| {
            p.parameter_in == ParameterIn::Query
                || (p.parameter_in == ParameterIn::Path && is_integer(p.schema.as_ref()))
        });
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    if secured {
        responses.entry("401".into()).or_insert_with(|| error("Missing or wrong API key", "ErrorBody"));
    }
    if has_path {
        responses.entry("404".into()).or_insert_with(|| error("Nothing with that id", "ErrorBody"));
    }
    if parses {
        responses
            .entry("422".into())
            .or_insert_with(|| error("Input that does not parse or breaks a field's rule", "ValidationBody"));
    }
    if has_body {
        responses.entry("413".into()).or_insert_with(|| error("The body is larger than the limit", "ErrorBody"));
    }
}
