//! The `kafka` executor: produces one record as Dkron's kafka executor does (acks from
//! every in-sync replica), through the `kafka` capability, and prints where the cluster
//! stored it.
//!
//! Keys: `brokerAddress` and `topic` (required), `key`, `message`, `tlsEnable`,
//! `tlsInsecureSkipVerify`, `saslUsername`, `saslPassword`, `saslMechanism`, `debug`, and
//! Sandcron's `headers` and `timeout`. See `docs/executors/kafka.md`.

mod config;

use sandcron_sdk::kafka::{self, Cluster, Record, Sasl};
use sandcron_sdk::{Execution, Executor, Failure, output};

use crate::config::KafkaConfig;

struct Kafka;

impl Executor for Kafka {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = KafkaConfig::from_execution(&execution)?;
        if config.debug {
            execution.print_config(&["saslPassword"]);
        }
        let cluster = Cluster {
            brokers: config.brokers.clone(),
            tls: config.tls,
            tls_insecure_skip_verify: config.tls_insecure_skip_verify,
            sasl: config.sasl.map(|(mechanism, username, password)| Sasl {
                mechanism,
                username,
                password,
            }),
        };
        let record = Record {
            topic: config.topic.clone(),
            key: config.key.map(String::into_bytes),
            value: Some(config.message.into_bytes()),
            headers: config
                .headers
                .into_iter()
                .map(|(name, value)| (name, value.into_bytes()))
                .collect(),
        };
        let delivery = kafka::produce(&cluster, &record, execution.bound_timeout(config.timeout))?;
        output::print(&format!(
            "produced {} bytes to topic {} on {}: partition {}, offset {}\n",
            record.value.as_ref().map_or(0, Vec::len),
            config.topic,
            config.brokers.join(","),
            delivery.partition,
            delivery.offset
        ));
        Ok(())
    }
}

sandcron_sdk::export_executor!(Kafka);
