//! `/api/openapi.json`, ReDoc at `/api/redoc` and the interactive docs at `/api/docs/`: Swagger UI's bundle and
//! stylesheet (unmodified, `assets/vendor/swagger-ui/`) and a small page and initialiser of our
//! own, all embedded in the binary so the page works offline. Like v1, no key is needed.
//!
//! The two Swagger UI files are embedded gzipped (1.6 MB → 0.4 MB of binary) and sent as they are
//! to clients that accept gzip (every browser); others get them inflated on the fly.

use std::sync::{Arc, LazyLock};

use crate::extract::ApiPath;
use axum::Router;
use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    asset!(
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        "/assets/vendor/swagger-ui/swagger-ui-bundle.js.gz"
    ),
    asset!("swagger-ui.css", "text/css; charset=utf-8", "/assets/vendor/swagger-ui/swagger-ui.css.gz"),
    asset!("swagger-initializer.js", "text/javascript; charset=utf-8", "/assets/api-docs.js"),
    asset!("redoc.standalone.js", "text/javascript; charset=utf-8", "/assets/vendor/redoc/redoc.standalone.js.gz"),
];

/// Which of [`FILES`] are stored gzipped.
fn gzipped(file: &Asset) -> bool {
    file.name != "swagger-initializer.js"
}

const PAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/api-docs.html"));
const REDOC_PAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/redoc.html"));

fn versioned(name: &str) -> String {
    match FILES.iter().find(|file| file.name == name) {
        Some(file) => format!("{name}?v={}", assets::version(file)),
        None => name.to_owned(),
    }
}

/// The page with cache-busted (`?v=` content hash) URLs, so the files can be cached for good.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    PAGE.replace("{{swagger_css}}", &versioned("swagger-ui.css"))
        .replace("{{swagger_js}}", &versioned("swagger-ui-bundle.js"))
        .replace("{{initializer}}", &versioned("swagger-initializer.js"))
});

/// v1's second docs page, ReDoc, from the same embedded files (its bundle under `/api/docs/`).
static REDOC: LazyLock<String> =
    LazyLock::new(|| REDOC_PAGE.replace("{{redoc_js}}", &format!("/api/docs/{}", versioned("redoc.standalone.js"))));

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
        .route("/api/redoc", get(|| async { Html(REDOC.as_str()) }))
}

async fn file(ApiPath(name): ApiPath<String>, headers: HeaderMap) -> Response {
    let Some(file) = FILES.iter().find(|file| file.name == name) else {
        return ApiError::NotFound(format!("No such endpoint: /api/docs/{name}")).into_response();
    };
    if !gzipped(file) {
        return assets::respond(file, &headers);
    }
    let accepts_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("gzip")));
    let mut response = if accepts_gzip {
        let mut response = assets::respond(file, &headers);
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        let mut response = assets::respond(file, &headers);
        if response.status() == StatusCode::OK {
            let mut plain = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(file.bytes).read_to_end(&mut plain) {
                return ApiError::Internal(format!("the embedded {name} cannot be inflated: {e}")).into_response();
            }
            *response.body_mut() = Body::from(plain);
        }
        response
    };
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gzipped_files_inflate() {
        for file in FILES.iter().filter(|file| gzipped(file)) {
            let mut plain = String::new();
            flate2::read::GzDecoder::new(file.bytes).read_to_string(&mut plain).unwrap();
            assert!(plain.len() > 100_000, "{}", file.name);
        }
    }

    #[test]
    fn the_page_names_every_file_with_its_version() {
        for file in FILES.iter().filter(|file| file.name != "redoc.standalone.js") {
            assert!(!file.bytes.is_empty(), "{} is empty", file.name);
            assert!(INDEX.contains(&format!("{}?v={}", file.name, assets::version(file))), "{}", file.name);
        }
        assert!(!INDEX.contains("{{"), "{}", *INDEX);
        assert!(REDOC.contains("/api/docs/redoc.standalone.js?v="), "{}", *REDOC);
    }
}
