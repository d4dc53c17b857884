//! Static files compiled into the binary (`include_bytes!`, no build script), served with a year
//! of caching. URLs carry a content hash (`?v=`) so that a new binary busts browser caches.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal, $path:literal) => {
        Asset { name: $name, content_type: $type, bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), $path)) }
    };
}

/// Everything under `/assets/`. The vendored files are the unmodified npm release files
/// (see `assets/vendor/VERSIONS.md`).
pub static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8", "/assets/app.css"),
    asset!("app.js", "text/javascript; charset=utf-8", "/assets/app.js"),
    asset!("charts.js", "text/javascript; charset=utf-8", "/assets/charts.js"),
    asset!("chart-scale.js", "text/javascript; charset=utf-8", "/assets/chart-scale.js"),
    asset!("favicon.svg", "image/svg+xml", "/assets/favicon.svg"),
    asset!("htmx.min.js", "text/javascript; charset=utf-8", "/assets/vendor/htmx.min.js"),
    asset!("htmx-ext-sse.min.js", "text/javascript; charset=utf-8", "/assets/vendor/htmx-ext-sse.min.js"),
    asset!("uPlot.iife.min.js", "text/javascript; charset=utf-8", "/assets/vendor/uPlot.iife.min.js"),
    asset!("uPlot.min.css", "text/css; charset=utf-8", "/assets/vendor/uPlot.min.css"),
];

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// First 12 hex digits of the SHA-256 of the content.
pub fn version(asset: &Asset) -> String {
    hex::encode(&Sha256::digest(asset.bytes)[..6])
}

/// Cache-busted URLs of the assets the templates use, computed once.
pub struct AssetUrls {
    pub app_css: String,
    pub app_js: String,
    pub charts_js: String,
    pub chart_scale_js: String,
    pub favicon: String,
    pub htmx: String,
    pub htmx_sse: String,
    pub uplot_js: String,
    pub uplot_css: String,
}

fn url(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/assets/{name}?v={}", version(asset)),
        None => format!("/assets/{name}"),
    }
}

static URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
    app_css: url("app.css"),
    app_js: url("app.js"),
    charts_js: url("charts.js"),
    chart_scale_js: url("chart-scale.js"),
    favicon: url("favicon.svg"),
    htmx: url("htmx.min.js"),
    htmx_sse: url("htmx-ext-sse.min.js"),
    uplot_js: url("uPlot.iife.min.js"),
    uplot_css: url("uPlot.min.css"),
});

pub fn urls() -> &'static AssetUrls {
    &URLS
}

/// `GET /assets/{file}`: public (the login page needs the CSS), immutable for a year.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match find(&file) {
        Some(asset) => respond(asset, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// One embedded file, immutable for a year, with its content hash as the ETag.
pub fn respond(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", version(asset));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, asset.content_type.to_owned()),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_owned()),
            (header::ETAG, etag),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_versioned() {
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
        }
        assert!(urls().htmx.starts_with("/assets/htmx.min.js?v="));
        assert_eq!(urls().app_css.len(), "/assets/app.css?v=".len() + 12);
    }
}
