//! Security headers on every dashboard answer. The policy is what the dashboard needs and no
//! more: scripts and styles from the hub only (our files and the vendored htmx and uPlot), inline
//! `style` attributes (the cards' meter widths, htmx's indicator style) but no inline scripts, no
//! framing by other sites (clickjacking of the bulk actions), no MIME sniffing, and no URL with
//! a server or alert id leaked to other sites in `Referer`.
//!
//! No `'unsafe-eval'` either: htmx evaluates `hx-vals='js:…'`, `hx-on` and trigger filters
//! (`sse:summary[…]`), so templates use none of them; what they did lives in `app.js`
//! (`data-switch`, `data-hold-while`). The browser tests fail on any policy violation.

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::response::Response;

pub const CONTENT_SECURITY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Adds the headers unless a handler set its own.
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "same-origin"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}
