//! The REST API under `/api/v1` (v1 wire-compatible), its OpenAPI document and docs page.
//! Handlers stay thin: authenticate, extract, call one `crate::service` function, answer JSON.

pub mod agents;
pub mod alerts;
pub mod compat;
pub mod config;
pub mod costs;
mod docs;
pub mod document;
pub mod export;
pub mod fleet;
pub mod inventory;
pub mod metrics;
pub mod notifications;
pub mod preferences;
pub mod registration;
pub mod servers;
pub mod services;
pub mod system;
pub mod tags;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Homelab Command API",
        description = "Wire-compatible with the HomelabCmd v1 API. Authenticate with the `X-API-Key` header; \
                       agents may instead send `X-Agent-Token` and `X-Server-GUID`.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "system", description = "Health"),
        (name = "servers", description = "Machines and their state"),
        (name = "agents", description = "Heartbeat ingest"),
        (name = "metrics", description = "Metric history"),
        (name = "registration", description = "Agent registration tokens and credentials"),
        (name = "notifications", description = "Notification channels"),
        (name = "alerts", description = "Alert history, acknowledgement and resolution"),
        (name = "services", description = "Expected services per server"),
        (name = "inventory", description = "Containers, temperatures, disk health and GPUs (not in v1)"),
        (name = "config", description = "Alert thresholds and notification settings"),
        (name = "fleet", description = "Fleet-wide counts"),
        (name = "costs", description = "Electricity tariff and estimated power and cost"),
        (name = "preferences", description = "The original web UI's dashboard layout"),
        (name = "actions", description = "Remediation actions (none on this hub; v1's empty list)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |name: &str| SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(name)));
        components.add_security_scheme("api_key", header(crate::auth::API_KEY_HEADER));
        components.add_security_scheme("agent_token", header(crate::auth::AGENT_TOKEN_HEADER));
        components.add_security_scheme("server_guid", header(crate::auth::SERVER_GUID_HEADER));
    }
}

/// The API routes and the OpenAPI document generated from their annotations.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(servers::list, servers::create))
        .routes(routes!(servers::get, servers::update, servers::delete))
        .routes(routes!(servers::pause))
        .routes(routes!(servers::unpause))
        .routes(routes!(servers::packages))
        .routes(routes!(tags::get, tags::put))
        .routes(routes!(agents::heartbeat))
        .routes(routes!(metrics::history))
        .routes(routes!(metrics::sparkline))
        .routes(routes!(metrics::series))
        .routes(routes!(export::export))
        .routes(routes!(registration::create_token, registration::list_tokens))
        .routes(routes!(registration::delete_token))
        .routes(routes!(registration::claim))
        .routes(routes!(registration::credential))
        .routes(routes!(registration::rotate))
        .routes(routes!(registration::revoke))
        .routes(routes!(registration::install_script))
        .routes(routes!(registration::download_agent))
        .routes(routes!(notifications::list_channels, notifications::create_channel))
        .routes(routes!(notifications::update_channel, notifications::delete_channel))
        .routes(routes!(notifications::test_channel))
        .routes(routes!(notifications::test_webhook))
        .routes(routes!(notifications::list_deliveries))
        .routes(routes!(notifications::retry_delivery))
        .routes(routes!(notifications::discard_delivery))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::pending))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::resolve))
        .routes(routes!(alerts::timeline))
        .routes(routes!(services::list, services::create))
        .routes(routes!(services::update, services::delete))
        .routes(routes!(services::reported))
        .routes(routes!(inventory::get))
        .routes(routes!(inventory::summary))
        .routes(routes!(inventory::watch, inventory::unwatch))
        .routes(routes!(inventory::watch_all))
        .routes(routes!(config::get_all))
        .routes(routes!(config::get_thresholds, config::put_thresholds))
        .routes(routes!(config::get_notifications, config::put_notifications))
        .routes(routes!(fleet::fleet_summary))
        .routes(routes!(costs::get_config, costs::put_config))
        .routes(routes!(costs::summary))
        .routes(routes!(costs::breakdown))
        .routes(routes!(preferences::get_dashboard, preferences::put_dashboard))
        .routes(routes!(compat::list_actions))
        .routes(routes!(compat::agent_version))
        .routes(routes!(compat::config_packs))
        .routes(routes!(compat::assigned_packs))
        .split_for_parts();
    // After the routes: the document is complete only now.
    document::Truthful.modify(&mut openapi);
    (router, openapi)
}

/// The API plus `/api/openapi.json` and the interactive docs at `/api/docs/` (Swagger UI from
/// files embedded in the binary, so it works offline; cached as immutable). No key needed.
pub fn with_docs(router: Router<AppState>, openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    router.merge(docs::router(&openapi))
}

/// CORS (v1 §1.1), so that a web UI on another origin (the original React app) can call this
/// hub: any method and header, from the configured origins (`*`: any). Preflights are answered
/// here, before authentication. No credentials: the API authenticates by header, and the
/// dashboard's session cookie must never be usable from another origin.
pub fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
    let origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
}

/// Unknown paths: a trailing slash is redirected (as v1 does), everything else is a JSON 404.
pub async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let mut target = path.trim_end_matches('/').to_owned();
        if let Some(query) = uri.query() {
            target.push('?');
            target.push_str(query);
        }
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    ApiError::NotFound(format!("No such endpoint: {path}")).into_response()
}

pub async fn method_not_allowed() -> Response {
    let body = crate::error::ErrorBody {
        detail: crate::error::ErrorDetail { code: "METHOD_NOT_ALLOWED".into(), message: "Method Not Allowed".into() },
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
