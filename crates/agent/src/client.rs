//! Talking to the hub: a blocking HTTP client (ureq on rustls with ring, trusting the platform's
//! certificates so a home CA installed on the machine works) and the classification of answers
//! into delivered, rejected for good, or worth keeping for later.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Auth;

/// The heartbeat endpoint, relative to the hub URL.
pub const HEARTBEAT_PATH: &str = "/api/v1/agents/heartbeat";
/// The health check, relative to the hub URL: asked when a heartbeat fails with a hub error, to
/// tell a hub that is down from one that cannot take this one heartbeat.
pub const HEALTH_PATH: &str = "/api/v1/system/health";
/// The registration endpoint, relative to the hub URL.
pub const CLAIM_PATH: &str = "/api/v1/agents/register/claim";

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// The request never got an HTTP answer (refused, reset, timed out, TLS failure…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Sends a JSON body; a trait so the sender's logic is tested without a network.
pub trait Transport {
    fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError>;
    /// A plain GET (the health check). Transports that cannot (test doubles) answer as an
    /// unreachable hub would, which never sets a heartbeat aside.
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        Err(TransportError(format!("GET {url} is not supported by this transport")))
    }
}

/// The real transport.
#[derive(Debug, Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
}

impl HttpClient {
    /// A client whose every request is abandoned after `timeout`. Redirects are not followed:
    /// a hub URL that redirects (http → https, say) is a configuration to fix, and following it
    /// would turn the POST into a GET. ureq keeps idle connections for 15 s, so a replay burst
    /// reuses one connection while a once-a-minute heartbeat opens a fresh one, and never trips
    /// over a connection a proxy closed while it sat idle.
    pub fn new(timeout: Duration) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("homelabcmd-agent/{}", crate::AGENT_VERSION))
            .tls_config(tls)
            .build()
            .new_agent();
        HttpClient { agent }
    }
}

/// Answers are small (`{"status":"ok",…}` or an error detail); anything bigger is cut.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

impl Transport for HttpClient {
    fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError> {
        let mut request = self.agent.post(url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send(body).map_err(|e| TransportError(e.to_string()))?;
        Ok(read_answer(response))
    }

    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        let response = self.agent.get(url).call().map_err(|e| TransportError(e.to_string()))?;
        Ok(read_answer(response))
    }
}

fn read_answer(mut response: ureq::http::Response<ureq::Body>) -> HttpResponse {
    let status = response.status().as_u16();
    let body = match response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_string() {
        Ok(text) => text,
        // The status is what matters; an unreadable body only loses detail for the log.
        Err(e) => format!("(unreadable body: {e})"),
    };
    HttpResponse { status, body }
}

/// The authentication headers for `auth` (v1 §6: token + GUID, or the admin key).
pub fn auth_headers<'a>(auth: &'a Auth, server_guid: &'a str) -> Vec<(&'static str, &'a str)> {
    match auth {
        Auth::Token(token) => vec![("x-agent-token", token.as_str()), ("x-server-guid", server_guid)],
        Auth::ApiKey(key) => vec![("x-api-key", key.as_str())],
    }
}

/// What to do with a heartbeat after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the hub has it; remove it from the spool.
    Delivered,
    /// The hub will never accept *this heartbeat* (400, 413, 422…): sending it again cannot
    /// help, so it is dropped.
    Rejected(String),
    /// The hub refuses *this agent* (401, 403, 404, 409, 3xx): every heartbeat would get the
    /// same answer until a human fixes the credentials or the URL. Nothing is retried until the
    /// next interval, and spooled heartbeats are kept for when it is fixed.
    Refused(String),
    /// The hub is unavailable (connection failure, timeout, 408, 429, 502, 503, 504): keep it
    /// and try later, for as long as the spool's bounds allow.
    Retry(String),
    /// The hub answered with an error of its own (500 and the other 5xx): perhaps a passing
    /// fault, perhaps something in this heartbeat it cannot store. Kept and retried, but set
    /// aside after a few tries while the hub answers otherwise, so it cannot block newer ones.
    Failed(String),
}

/// Classifies one attempt.
pub fn classify(result: &Result<HttpResponse, TransportError>) -> Outcome {
    let response = match result {
        Ok(response) => response,
        Err(e) => return Outcome::Retry(format!("hub unreachable: {e}")),
    };
    let status = response.status;
    let detail = || {
        let text = summarise(&response.body);
        if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") }
    };
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 502..=504 => Outcome::Retry(detail()),
        500..=599 => Outcome::Failed(detail()),
        401 => Outcome::Refused(format!("{} (check api_token and server_guid, or api_key)", detail())),
        403 => Outcome::Refused(detail()),
        404 => Outcome::Refused(format!("{} (is hub_url the hub's address?)", detail())),
        409 => Outcome::Refused(format!("{} (this server's GUID differs from the hub's record)", detail())),
        300..=399 => Outcome::Refused(format!("{} (hub_url redirects; use the final address)", detail())),
        _ => Outcome::Rejected(detail()),
    }
}

/// The hub's `detail` (or the raw body), on one line and short enough for a log.
pub fn summarise(body: &str) -> String {
    let text = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").cloned())
        .map(|detail| match detail {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(ref o) => {
                o.get("message").and_then(|m| m.as_str()).map_or_else(|| detail.to_string(), str::to_owned)
            }
            other => other.to_string(),
        })
        .unwrap_or_else(|| body.to_owned());
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 { format!("{}…", line.chars().take(300).collect::<String>()) } else { line }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse { status, body: body.into() })
    }

    #[test]
    fn successes() {
        assert_eq!(classify(&answer(200, r#"{"status":"ok"}"#)), Outcome::Delivered);
        assert_eq!(classify(&answer(204, "")), Outcome::Delivered);
    }

    #[test]
    fn temporary_failures_are_kept() {
        for status in [408, 429, 502, 503, 504] {
            assert!(matches!(classify(&answer(status, "")), Outcome::Retry(_)), "{status}");
        }
        for status in [500, 501, 507] {
            assert!(matches!(classify(&answer(status, "")), Outcome::Failed(_)), "{status}");
        }
        let outcome = classify(&Err(TransportError("connection refused".into())));
        assert_eq!(outcome, Outcome::Retry("hub unreachable: connection refused".into()));
    }

    #[test]
    fn agent_level_refusals() {
        let unauthorised = r#"{"detail":{"code":"UNAUTHORIZED","message":"Invalid agent token or server GUID"}}"#;
        match classify(&answer(401, unauthorised)) {
            Outcome::Refused(m) => assert!(m.starts_with("HTTP 401: Invalid agent token or server GUID"), "{m}"),
            other => panic!("{other:?}"),
        }
        for status in [301, 308, 403, 404, 409] {
            assert!(matches!(classify(&answer(status, "{}")), Outcome::Refused(_)), "{status}");
        }
    }

    #[test]
    fn heartbeat_level_rejections() {
        let invalid = r#"{"detail":[{"loc":["body","services",0,"cpu_percent"],"msg":"too big"}]}"#;
        match classify(&answer(422, invalid)) {
            Outcome::Rejected(m) => assert!(m.starts_with("HTTP 422: [{"), "{m}"),
            other => panic!("{other:?}"),
        }
        for status in [400, 413, 418] {
            assert!(matches!(classify(&answer(status, "")), Outcome::Rejected(_)), "{status}");
        }
    }

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(summarise(r#"{"detail":"Invalid token"}"#), "Invalid token");
        assert_eq!(summarise("<html>\n  Bad   Gateway\n</html>"), "<html> Bad Gateway </html>");
        assert_eq!(summarise(&"x".repeat(1000)).chars().count(), 301);
    }

    #[test]
    fn auth_header_pairs() {
        let token = Auth::Token("tok".into());
        assert_eq!(auth_headers(&token, "g"), vec![("x-agent-token", "tok"), ("x-server-guid", "g")]);
        assert_eq!(auth_headers(&Auth::ApiKey("k".into()), "g"), vec![("x-api-key", "k")]);
    }
}
