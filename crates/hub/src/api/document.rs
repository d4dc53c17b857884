//! Makes the generated OpenAPI document say what the API does (issue 14): v1's operation ids,
//! the error answers every operation can give (401 without the key, 404 for a path naming
//! something that does not exist, 422 for input that does not parse, 413 for a body too large),
//! the servers and contact. Done once over the whole document, so that a new route cannot forget.
//!
//! It also declares the rules the derive cannot state, so that a request the document allows is
//! one the hub accepts (the schemathesis run of issue 14): no string anywhere may hold a NUL
//! (U+0000: PostgreSQL cannot store it and `extract.rs` refuses it in any body, key, path or
//! query), list items' own rules, and patterns built from the code's own tables.

use homelab_core::history::MetricKind;
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Object, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// Any text without U+0000; given to every string that has no stricter pattern or list of values.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// The component for any JSON value without U+0000 in a string or a key: what a request may hold
/// where its type names no field (ignored keys, free-form values).
const NUL_FREE_JSON: &str = "NulFreeJson";

fn nul_free_json() -> Schema {
    let any = || RefOr::Ref(Ref::from_schema_name(NUL_FREE_JSON));
    let mut text = Object::with_type(Type::String);
    text.pattern = Some(NO_NUL.to_owned());
    let mut names = Object::with_type(Type::String);
    names.pattern = Some(NO_NUL.to_owned());
    let mut map = Object::with_type(Type::Object);
    map.property_names = Some(Box::new(Schema::Object(names)));
    map.additional_properties = Some(Box::new(AdditionalProperties::RefOr(any())));
    let scalar = Object::with_type(SchemaType::Array(vec![Type::Null, Type::Boolean, Type::Number]));
    let list = utoipa::openapi::schema::Array::new(any());
    let mut one_of = utoipa::openapi::schema::AnyOf::new();
    one_of.items = vec![
        RefOr::T(Schema::Object(scalar)),
        RefOr::T(Schema::Object(text)),
        RefOr::T(Schema::Array(list)),
        RefOr::T(Schema::Object(map)),
    ];
    one_of.description = Some("Any JSON value without U+0000 in a string or a key".to_owned());
    Schema::AnyOf(one_of)
}

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
        declare_item_rules(openapi);
        let mut input_schemas = Vec::new();
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
                    declare_parameter_rules(operation);
                    for parameter in operation.parameters.iter_mut().flatten() {
                        if let Some(schema) = &mut parameter.schema {
                            forbid_nul(schema, &mut input_schemas);
                        }
                    }
                    if let Some(body) = &mut operation.request_body {
                        for content in body.content.values_mut() {
                            if let Some(schema) = &mut content.schema {
                                forbid_nul(schema, &mut input_schemas);
                            }
                        }
                    }
                }
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.insert(NUL_FREE_JSON.to_owned(), RefOr::T(nul_free_json()));
        }
        // Only what requests reference: answers may quote a refused NUL back (a 422's `input`).
        let mut done = std::collections::BTreeSet::new();
        while let Some(name) = input_schemas.pop() {
            if !done.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = openapi.components.as_mut().and_then(|c| c.schemas.get_mut(&name)) {
                forbid_nul(schema, &mut input_schemas);
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

/// The named schema `name` in the components, if it is an object.
fn component<'a>(openapi: &'a mut utoipa::openapi::OpenApi, name: &str) -> Option<&'a mut Object> {
    match openapi.components.as_mut()?.schemas.get_mut(name)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

/// The item schema of the list property `field` of `object` (a list or a nullable list).
fn items_of<'a>(object: &'a mut Object, field: &str) -> Option<&'a mut Object> {
    let mut property = object.properties.get_mut(field)?;
    if let RefOr::T(Schema::OneOf(one_of)) = property {
        property = one_of.items.iter_mut().find(|s| matches!(s, RefOr::T(Schema::Array(_))))?;
    }
    match property {
        RefOr::T(Schema::Array(array)) => match &mut array.items {
            ArrayItems::RefOrSchema(items) => match items.as_mut() {
                RefOr::T(Schema::Object(item)) => Some(item),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Rules on list items, which a field attribute cannot reach; each is the validation's own.
fn declare_item_rules(openapi: &mut utoipa::openapi::OpenApi) {
    if let Some(tags) = component(openapi, "TagsBody").and_then(|body| items_of(body, "tags")) {
        tags.pattern = Some(crate::service::tags::TAG_PATTERN.to_owned());
    }
    let services = component(openapi, "CreateTokenRequest").and_then(|body| items_of(body, "monitored_services"));
    if let Some(name) = services {
        name.min_length = Some(1);
        name.max_length = Some(255);
    }
}

/// `metrics=` of the series endpoint: metric names from [`MetricKind::ALL`], separated by commas
/// (spaces around them and empty entries are ignored), as `service::metrics::series` reads it.
pub fn metrics_pattern() -> String {
    let names = MetricKind::ALL.map(MetricKind::as_str).join("|");
    format!("^[ ,]*(?:(?:{names})[ ]*(?:,[ ,]*|$))*$")
}

fn declare_parameter_rules(operation: &mut Operation) {
    if operation.operation_id.as_deref() != Some("get_metrics_series") {
        return;
    }
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.name == "metrics"
            && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
        {
            schema.pattern = Some(metrics_pattern());
        }
    }
}

fn is_string(kind: &SchemaType) -> bool {
    match kind {
        SchemaType::Type(kind) => *kind == Type::String,
        SchemaType::Array(kinds) => kinds.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

fn is_object(kind: &SchemaType) -> bool {
    match kind {
        SchemaType::Type(kind) => *kind == Type::Object,
        SchemaType::Array(kinds) => kinds.contains(&Type::Object),
        SchemaType::AnyValue => false,
    }
}

/// Every string in `schema` (properties, items, alternatives, map values, and the names of an
/// object's keys) gets [`NO_NUL`] unless it already has a pattern or a list of values. The
/// names of referenced schemas are added to `referenced`, for the caller to treat in turn.
fn forbid_nul(schema: &mut RefOr<Schema>, referenced: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(reference) => {
            let name = reference.ref_location.trim_start_matches("#/components/schemas/");
            referenced.push(name.to_owned());
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            if is_string(&object.schema_type) && object.pattern.is_none() && object.enum_values.is_none() {
                object.pattern = Some(NO_NUL.to_owned());
            }
            if is_object(&object.schema_type) && object.property_names.is_none() {
                let mut names = Object::with_type(Type::String);
                names.pattern = Some(NO_NUL.to_owned());
                object.property_names = Some(Box::new(Schema::Object(names)));
            }
            // Keys the type does not name are ignored, but their values are read for NULs too.
            let free_form =
                matches!(object.additional_properties.as_deref(), None | Some(AdditionalProperties::FreeForm(true)));
            if is_object(&object.schema_type) && free_form {
                let any = RefOr::Ref(Ref::from_schema_name(NUL_FREE_JSON));
                object.additional_properties = Some(Box::new(AdditionalProperties::RefOr(any)));
            }
            for property in object.properties.values_mut() {
                forbid_nul(property, referenced);
            }
            if let Some(additional) = &mut object.additional_properties
                && let AdditionalProperties::RefOr(values) = additional.as_mut()
            {
                forbid_nul(values, referenced);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                forbid_nul(items, referenced);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(|s| forbid_nul(s, referenced)),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(|s| forbid_nul(s, referenced)),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(|s| forbid_nul(s, referenced)),
        _ => {}
    }
}
