//! Mail notifications through the server's SMTP relay (`serve --mail-host`, Dkron's
//! flags), with lettre: STARTTLS when the relay offers it (as Go's `smtp.SendMail`, which
//! Dkron uses) or always (`--mail-tls required`), the certificate checked against the
//! system's roots (`SSL_CERT_FILE` too); login when a user name is given.
//!
//! Recipients are whatever the rule says, or the job's `owner_email` (Dkron's only
//! recipient), each held to the job's `mail` grant (`capabilities::mail`) before anything
//! is sent: the relay is the operator's, and a hosted tenant may mail only whom it was
//! granted. The relay's password is never printed ([`MailPassword`]'s `Debug`).

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Failure, Values};
use crate::capabilities::mail::MailPolicy;
use crate::jobs::notify::Email;
use crate::jobs::template::{Template, Variable};

/// The longest one try may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// When the relay's connection is encrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MailTls {
    /// STARTTLS when the relay offers it (Dkron's behaviour).
    #[default]
    Opportunistic,
    /// STARTTLS always; a relay without it is refused.
    Required,
    /// Never (a relay on loopback, say).
    Off,
}

/// The SMTP relay mail goes through, with Dkron's settings.
#[derive(Clone, Debug, Default)]
pub struct MailRelay {
    /// Its host (`--mail-host`).
    pub host: String,
    /// Its port (`--mail-port`, 25 by default).
    pub port: u16,
    /// Login (`--mail-username`), with `password` (`--mail-password`).
    pub username: Option<String>,
    /// The login's password.
    pub password: Option<MailPassword>,
    /// The sender (`--mail-from`).
    pub from: String,
    /// Put before Dkron's default subject (`--mail-subject-prefix`, `[Sandcron]`).
    pub subject_prefix: String,
    /// When to encrypt (`--mail-tls`).
    pub tls: MailTls,
}

/// The relay's password: `Debug` shows `<redacted>`, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct MailPassword(String);

impl MailPassword {
    /// The password itself, for the login.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for MailPassword {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_string()))
    }
}

impl fmt::Debug for MailPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl MailTls {
    /// Reads `opportunistic`, `required` or `off`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "opportunistic" => Ok(Self::Opportunistic),
            "required" => Ok(Self::Required),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "{other:?}: expected opportunistic, required or off"
            )),
        }
    }
}

/// Sends the mail once, to recipients `grant` allows (any other refuses it whole).
pub(super) async fn send(
    relay: Option<&MailRelay>,
    mail: &Email,
    grant: &MailPolicy,
    values: &Values<'_>,
) -> Result<(), Failure> {
    let relay = relay.ok_or_else(|| {
        Failure::Final(
            "this server has no SMTP relay: start it with --mail-host (and --mail-from)".into(),
        )
    })?;
    let owner = &values.ended.spec.owner_email;
    let recipients: Vec<&str> = if mail.to.is_empty() {
        vec![owner.as_str()]
    } else {
        mail.to.iter().map(String::as_str).collect()
    };
    if recipients.iter().all(|to| to.is_empty()) {
        return Err(Failure::Final(
            "no recipient: the rule names none and the job has no owner_email".into(),
        ));
    }
    for to in recipients.iter().filter(|to| !to.is_empty()) {
        grant.check(to).map_err(Failure::Final)?;
    }
    let render = |text: &str| -> Result<String, Failure> {
        Template::parse(text)
            .map(|template| template.render(|v| values.get(v), str::to_string))
            .map_err(Failure::Final)
    };
    let subject = if mail.subject.is_empty() {
        format!(
            "{}{} {} execution report",
            relay.subject_prefix,
            if values.get(Variable::Success) == "true" {
                "Success"
            } else {
                "Failed"
            },
            values.ended.spec.name
        )
    } else {
        render(&mail.subject)?
    };
    let body = if mail.body.is_empty() {
        values.get(Variable::Report)
    } else {
        render(&mail.body)?
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| Failure::Final(format!("{what}: {e}"));
    let mut message = Message::builder()
        .from(relay.from.parse().map_err(|e| bad("--mail-from", &e))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for to in recipients.iter().filter(|to| !to.is_empty()) {
        message = message.to(to.parse().map_err(|e| bad(to, &e))?);
    }
    let message = message.body(body).map_err(|e| bad("the mail", &e))?;
    let tls = || TlsParameters::new(relay.host.clone()).map_err(|e| bad("TLS", &e));
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
        .port(relay.port)
        .timeout(Some(TIMEOUT))
        .tls(match relay.tls {
            MailTls::Opportunistic => Tls::Opportunistic(tls()?),
            MailTls::Required => Tls::Required(tls()?),
            MailTls::Off => Tls::None,
        });
    if let Some(username) = &relay.username {
        transport = transport.credentials(Credentials::new(
            username.clone(),
            relay
                .password
                .as_ref()
                .map(|password| password.reveal().to_string())
                .unwrap_or_default(),
        ));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| {
            let text = format!("SMTP {}:{}: {e}", relay.host, relay.port);
            if e.is_permanent() {
                Failure::Final(text)
            } else {
                Failure::Retry(text)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_s_debug_never_shows_its_password() {
        let relay = MailRelay {
            host: "smtp.example.com".into(),
            username: Some("cron".into()),
            password: Some("hunter2".parse().unwrap()),
            ..MailRelay::default()
        };
        let shown = format!("{relay:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("smtp.example.com"));
    }
}
