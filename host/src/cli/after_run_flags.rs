//! `serve`'s flags for processors and notifications: where the built-in processors send
//! output, and the server's default notification rules, with Dkron's flag names for the
//! webhook and the mail (`--webhook-endpoint`, `--mail-host`, …).

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::after_run::{
    AfterRunConfig, FluentTarget, MailPassword, MailRelay, MailTls, SyslogTarget,
};
use crate::jobs::notify::{Email, NotifyOn, NotifyRule, Webhook};

/// The flags.
#[derive(Clone, Debug, Args)]
pub struct AfterRunFlags {
    /// Where the `files` processor writes; a job's `log_dir` must lie inside it (none:
    /// the `files` processor fails).
    #[arg(long, value_name = "DIR")]
    processor_files_dir: Option<PathBuf>,
    /// Where the `syslog` processor sends RFC 5424 messages: udp://HOST:PORT or
    /// tcp://HOST:PORT.
    #[arg(long, default_value = "udp://127.0.0.1:514", value_name = "TARGET")]
    syslog: String,
    /// The Fluentd or Fluent Bit forward input the `fluent` processor sends to.
    #[arg(long, default_value = "127.0.0.1:24224", value_name = "HOST:PORT")]
    fluent: String,
    /// The tag of the `fluent` processor's events.
    #[arg(long, default_value = "sandcron", value_name = "TAG")]
    fluent_tag: String,
    /// Dkron's: a URL every job without `notify` of its own is reported to.
    #[arg(long, value_name = "URL")]
    webhook_endpoint: Option<String>,
    /// Dkron's: the body template of that webhook (`{{.JobName}}`, `{{.Success}}`, …).
    #[arg(long, value_name = "TEMPLATE")]
    webhook_payload: Option<String>,
    /// Dkron's: a header of that webhook, "Name: value"; repeat.
    #[arg(long = "webhook-headers", value_name = "HEADER")]
    webhook_headers: Vec<String>,
    /// Dkron's: the SMTP relay mail notifications go through; every job without `notify`
    /// of its own mails its `owner_email`.
    #[arg(long, value_name = "HOST")]
    mail_host: Option<String>,
    /// Dkron's: the relay's port.
    #[arg(long, default_value_t = 25, value_name = "PORT")]
    mail_port: u16,
    /// Dkron's: the relay's user name.
    #[arg(long, value_name = "NAME")]
    mail_username: Option<String>,
    /// Dkron's: the relay's password.
    #[arg(long, value_name = "PASSWORD")]
    mail_password: Option<MailPassword>,
    /// Dkron's: the sender of notification mail.
    #[arg(long, default_value = "sandcron@localhost", value_name = "ADDRESS")]
    mail_from: String,
    /// Dkron's: the body template of the default mail.
    #[arg(long, value_name = "TEMPLATE")]
    mail_payload: Option<String>,
    /// Dkron's: put before the default mail's subject.
    #[arg(long, default_value = "[Sandcron] ", value_name = "TEXT")]
    mail_subject_prefix: String,
    /// When the relay's connection is encrypted: opportunistic (STARTTLS when offered,
    /// as Dkron), required, or off.
    #[arg(long, default_value = "opportunistic", value_name = "MODE")]
    mail_tls: String,
    /// When the default rules (webhook, mail) fire: failure, success, recovery or always
    /// (Dkron's); repeat.
    #[arg(long = "notify-on", value_name = "EVENT")]
    notify_on: Vec<String>,
}

impl AfterRunFlags {
    /// The processors' and notifications' settings.
    pub fn config(&self) -> Result<AfterRunConfig, CliError> {
        let usage = |flag: &str, error: String| CliError::Usage(format!("--{flag} {error}"));
        let on = self
            .notify_on
            .iter()
            .map(|event| {
                serde_json::from_value::<NotifyOn>(serde_json::Value::String(event.clone()))
                    .map_err(|_| {
                        usage(
                            "notify-on",
                            format!("{event:?}: expected failure, success, recovery or always"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let on = if on.is_empty() {
            vec![NotifyOn::Always]
        } else {
            on
        };
        let mut default_rules = Vec::new();
        if let Some(url) = &self.webhook_endpoint {
            let headers = self
                .webhook_headers
                .iter()
                .map(|header| match header.split_once(':') {
                    Some((name, value)) if !name.trim().is_empty() => {
                        Ok((name.trim().to_string(), value.trim().to_string()))
                    }
                    _ => Err(usage(
                        "webhook-headers",
                        format!("{header:?}: expected \"Name: value\""),
                    )),
                })
                .collect::<Result<_, _>>()?;
            default_rules.push(NotifyRule {
                on: on.clone(),
                webhook: Some(Webhook {
                    url: url.clone(),
                    method: String::new(),
                    headers,
                    body: self.webhook_payload.clone().unwrap_or_default(),
                }),
                email: None,
            });
        }
        let mail = match &self.mail_host {
            None => None,
            Some(host) => {
                default_rules.push(NotifyRule {
                    on,
                    webhook: None,
                    email: Some(Email {
                        body: self.mail_payload.clone().unwrap_or_default(),
                        ..Email::default()
                    }),
                });
                self.mail_from
                    .parse::<lettre::Address>()
                    .map_err(|e| usage("mail-from", format!("{:?}: {e}", self.mail_from)))?;
                Some(MailRelay {
                    host: host.clone(),
                    port: self.mail_port,
                    username: self.mail_username.clone(),
                    password: self.mail_password.clone(),
                    from: self.mail_from.clone(),
                    subject_prefix: self.mail_subject_prefix.clone(),
                    tls: MailTls::parse(&self.mail_tls).map_err(|e| usage("mail-tls", e))?,
                })
            }
        };
        crate::jobs::notify::check_rules(&default_rules).map_err(|e| {
            CliError::Usage(format!(
                "the default notification (--webhook-*, --mail-*): {}",
                e.message
            ))
        })?;
        let (fluent_host, fluent_port) = self
            .fluent
            .rsplit_once(':')
            .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            .ok_or_else(|| usage("fluent", format!("{:?}: expected HOST:PORT", self.fluent)))?;
        Ok(AfterRunConfig {
            node: String::new(),
            files_dir: self
                .processor_files_dir
                .as_deref()
                .map(std::path::absolute)
                .transpose()
                .map_err(|e| usage("processor-files-dir", e.to_string()))?,
            syslog: SyslogTarget::parse(&self.syslog).map_err(|e| usage("syslog", e))?,
            fluent: FluentTarget {
                address: format!("{fluent_host}:{fluent_port}"),
                tag: self.fluent_tag.clone(),
            },
            mail,
            default_rules,
        })
    }
}
