//! The `syslog` processor: one RFC 5424 message per execution, to the server's syslog
//! target (`serve --syslog udp://127.0.0.1:514`, the default, or `tcp://HOST:PORT` with
//! RFC 6587 octet counting), facility `cron`, severity `info` for a success and `err` for
//! a failure (Dkron: always `info`), app name `sandcron`, message
//! `job=NAME execution=ID success=BOOL OUTPUT`. The output is cut to its tail so that a
//! message fits [`MAX_UDP`] (UDP) or [`MAX_TCP`] bytes (TCP).

use std::fmt;

use tokio::io::AsyncWriteExt;

use super::Ended;
use crate::store::ExecutionState;

/// What the stored output becomes without `forward`.
pub const NOTE: &str = "Output in syslog";

/// The largest message sent over UDP (rsyslog's default maximum is 8 KiB).
pub const MAX_UDP: usize = 8 * 1024;
/// The largest message sent over TCP.
pub const MAX_TCP: usize = 64 * 1024;

/// Facility `cron` (RFC 5424: 9).
const FACILITY_CRON: u8 = 9;
const SEVERITY_ERR: u8 = 3;
const SEVERITY_INFO: u8 = 6;

/// Where syslog messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTarget {
    /// `true` for TCP, `false` for UDP.
    pub tcp: bool,
    /// `HOST:PORT`.
    pub address: String,
}

impl Default for SyslogTarget {
    fn default() -> Self {
        Self {
            tcp: false,
            address: "127.0.0.1:514".into(),
        }
    }
}

impl SyslogTarget {
    /// Reads `udp://HOST:PORT` or `tcp://HOST:PORT`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (tcp, address) = match text.split_once("://") {
            Some(("udp", address)) => (false, address),
            Some(("tcp", address)) => (true, address),
            _ => {
                return Err(format!(
                    "{text:?}: expected udp://HOST:PORT or tcp://HOST:PORT"
                ));
            }
        };
        if address
            .rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(format!(
                "{text:?}: expected udp://HOST:PORT or tcp://HOST:PORT"
            ));
        }
        Ok(Self {
            tcp,
            address: address.to_string(),
        })
    }
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tcp { "tcp" } else { "udp" };
        write!(f, "{scheme}://{}", self.address)
    }
}

/// Sends the execution's message.
pub async fn send(
    target: &SyslogTarget,
    node: &str,
    ended: &Ended,
    output: &[u8],
) -> Result<(), String> {
    let limit = if target.tcp { MAX_TCP } else { MAX_UDP };
    let message = message(node, ended, output, limit);
    let failed = |e: std::io::Error| format!("syslog {target}: {e}");
    if target.tcp {
        let mut stream = tokio::net::TcpStream::connect(&target.address)
            .await
            .map_err(failed)?;
        let mut framed = format!("{} ", message.len()).into_bytes();
        framed.extend_from_slice(&message);
        stream.write_all(&framed).await.map_err(failed)?;
        stream.shutdown().await.map_err(failed)?;
    } else {
        let socket = tokio::net::UdpSocket::bind(if target.address.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        })
        .await
        .map_err(failed)?;
        socket
            .send_to(&message, &target.address)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// The RFC 5424 message, at most `limit` bytes (the output cut to its tail).
fn message(node: &str, ended: &Ended, output: &[u8], limit: usize) -> Vec<u8> {
    let success = ended.record.state == ExecutionState::Succeeded;
    let severity = if success { SEVERITY_INFO } else { SEVERITY_ERR };
    let header = format!(
        "<{}>1 {} {} sandcron {} - - job={} execution={} success={success} ",
        FACILITY_CRON * 8 + severity,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        header_field(node),
        std::process::id(),
        ended.spec.name,
        ended.record.id,
    );
    let room = limit.saturating_sub(header.len());
    let tail = &output[output.len().saturating_sub(room)..];
    let mut message = header.into_bytes();
    message.extend_from_slice(tail);
    message
}

/// A header field as RFC 5424 allows it: printable ASCII without spaces, `-` when empty.
fn header_field(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(255)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_udp_or_tcp_with_a_port() {
        assert_eq!(
            SyslogTarget::parse("tcp://127.0.0.1:6514").unwrap(),
            SyslogTarget {
                tcp: true,
                address: "127.0.0.1:6514".into()
            }
        );
        assert!(!SyslogTarget::parse("udp://[::1]:514").unwrap().tcp);
        for bad in ["127.0.0.1:514", "http://h:1", "udp://h", "udp://:514"] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_fields_are_printable_ascii() {
        assert_eq!(header_field("node 1é"), "node_1_");
        assert_eq!(header_field(""), "-");
    }
}
