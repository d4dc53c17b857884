//! E-mail over SMTP, for people without chat tools. STARTTLS by default (port 587), implicit
//! TLS (465) or, for a relay on the same trusted network, none.

use async_trait::async_trait;
use homelab_core::alerts::AlertEvent;
use homelab_core::notify::email_message;
use homelab_core::time::Timestamp;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Channel, DeliveryError, SEND_TIMEOUT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

/// `Debug` by hand: the password is masked.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmailSettings {
    pub smtp_host: String,
    #[serde(default = "default_port")]
    pub smtp_port: u16,
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let EmailSettings { smtp_host, smtp_port, security, username, password, from, to } = self;
        f.debug_struct("EmailSettings")
            .field("smtp_host", smtp_host)
            .field("smtp_port", smtp_port)
            .field("security", security)
            .field("username", username)
            .field("password", &password.as_ref().map(|_| super::config::MASK))
            .field("from", from)
            .field("to", to)
            .finish()
    }
}

fn default_port() -> u16 {
    587
}

fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

pub struct Email {
    settings: EmailSettings,
}

impl Email {
    pub fn new(settings: EmailSettings) -> Self {
        Email { settings }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        let s = &self.settings;
        let builder = match s.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.smtp_host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.smtp_host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.smtp_host)),
        }
        .map_err(|e| DeliveryError::Permanent(format!("SMTP set-up failed: {e}")))?;
        let mut builder = builder.port(s.smtp_port).timeout(Some(SEND_TIMEOUT));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

fn mailbox(text: &str) -> Result<Mailbox, DeliveryError> {
    text.parse().map_err(|e| DeliveryError::Permanent(format!("invalid address '{text}': {e}")))
}

#[async_trait]
impl Channel for Email {
    async fn send(&self, events: &[AlertEvent], delivery_id: &str, now: Timestamp) -> Result<(), DeliveryError> {
        let (subject, body) = email_message(events, &now);
        let mut message = Message::builder().from(mailbox(&self.settings.from)?).subject(subject);
        for to in &self.settings.to {
            message = message.to(mailbox(to)?);
        }
        let message = message
            .message_id(Some(format!("<{delivery_id}@homelabcmd>")))
            .body(body)
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the e-mail: {e}")))?;
        match self.transport()?.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(DeliveryError::Permanent(format!("SMTP: {error}"))),
            Err(error) => Err(DeliveryError::Retry { message: format!("SMTP: {error}"), retry_after: None }),
        }
    }
}
