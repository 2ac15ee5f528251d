//! The `nats` executor: publishes one message as Dkron's nats executor does, through the
//! `nats` capability (the host checks the server and subject against the grant and keeps
//! the connection for the next executions).
//!
//! Keys: `url` and `subject` (required), `message`, `userName`, `password`, `debug`, and
//! Sandcron's `jetstream` (publish with acknowledgement), `headers` and `timeout`. The
//! output names the subject and server, and for JetStream the stream and sequence. See
//! `docs/executors/nats.md`.

mod config;

use sandcron_sdk::nats::{self, Message, Server};
use sandcron_sdk::{Execution, Executor, Failure, output};

use crate::config::NatsConfig;

struct Nats;

impl Executor for Nats {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = NatsConfig::from_execution(&execution)?;
        if config.debug {
            execution.print_config(&["password"]);
        }
        let timeout = execution.bound_timeout(config.timeout);
        let server = Server {
            url: config.url.clone(),
            user: config.user.clone(),
            password: config.password.clone(),
        };
        let message = Message {
            subject: config.subject.clone(),
            payload: config.message.into_bytes(),
            headers: config.headers,
        };
        let size = message.payload.len();
        let published = format!(
            "published {size} bytes to subject {} on {}",
            config.subject, config.url
        );
        if config.jetstream {
            let ack = nats::publish_jetstream(&server, &message, timeout)?;
            let duplicate = if ack.duplicate {
                " (a duplicate: the stream already had it)"
            } else {
                ""
            };
            output::print(&format!(
                "{published}: stream {}, sequence {}{duplicate}\n",
                ack.stream_name, ack.sequence
            ));
        } else {
            nats::publish(&server, &message, timeout)?;
            output::print(&format!("{published}\n"));
        }
        Ok(())
    }
}

sandcron_sdk::export_executor!(Nats);
