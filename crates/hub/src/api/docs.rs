//! `/api/openapi.json` and the interactive docs at `/api/docs/`: Swagger UI's bundle and
//! stylesheet (unmodified, `assets/vendor/swagger-ui/`) and a small page and initialiser of our
//! own, all embedded in the binary so the page works offline. Like v1, no key is needed.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::web::assets::{self, Asset};

macro_rules! asset {
    ($name:literal, $type:literal, $path:literal) => {
        Asset { name: $name, content_type: $type, bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), $path)) }
    };
}

/// Everything under `/api/docs/` but the page itself.
static FILES: &[Asset] = &[
    asset!("swagger-ui-bundle.js", "text/javascript; charset=utf-8", "/assets/vendor/swagger-ui/swagger-ui-bundle.js"),
    asset!("swagger-ui.css", "text/css; charset=utf-8", "/assets/vendor/swagger-ui/swagger-ui.css"),
    asset!("swagger-initializer.js", "text/javascript; charset=utf-8", "/assets/api-docs.js"),
];

const PAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/api-docs.html"));

/// The page with cache-busted (`?v=` content hash) URLs, so the files can be cached for good.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    let url = |name: &str| match FILES.iter().find(|file| file.name == name) {
        Some(file) => format!("{name}?v={}", assets::version(file)),
        None => name.to_owned(),
    };
    PAGE.replace("{{swagger_css}}", &url("swagger-ui.css"))
        .replace("{{swagger_js}}", &url("swagger-ui-bundle.js"))
        .replace("{{initializer}}", &url("swagger-initializer.js"))
});

/// The docs routes for `openapi`, serialised once.
pub fn router<S: Clone + Send + Sync + 'static>(openapi: &utoipa::openapi::OpenApi) -> Router<S> {
    let document: Arc<Result<String, String>> = Arc::new(openapi.to_json().map_err(|e| e.to_string()));
    Router::new()
        .route(
            "/api/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move {
                    match document.as_ref() {
                        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
                        Err(e) => ApiError::Internal(format!("the OpenAPI document cannot be serialised: {e}"))
                            .into_response(),
                    }
                }
            }),
        )
        .route("/api/docs", get(|| async { Redirect::temporary("/api/docs/") }))
        .route("/api/docs/", get(|| async { Html(INDEX.as_str()) }))
        .route("/api/docs/{file}", get(file))
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match FILES.iter().find(|file| file.name == name) {
        Some(file) => assets::respond(file, &headers),
        None => ApiError::NotFound(format!("No such endpoint: /api/docs/{name}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_file_with_its_version() {
        for file in FILES {
            assert!(!file.bytes.is_empty(), "{} is empty", file.name);
            assert!(INDEX.contains(&format!("{}?v={}", file.name, assets::version(file))), "{}", file.name);
        }
        assert!(!INDEX.contains("{{"), "{}", *INDEX);
    }
}
