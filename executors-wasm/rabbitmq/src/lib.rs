//! The `rabbitmq` executor: publishes one message as Dkron's rabbitmq executor does,
//! through the `amqp` capability, with publisher confirms (so success means the broker
//! took the message) and, unless `message.mandatory` is false, a failure when no queue
//! takes it.
//!
//! Keys: `url` and `queue.name` (required; the routing key), `exchange`, `queue.create`,
//! `queue.durable`, `queue.auto_delete`, `queue.exclusive`, `message.body` or
//! `message.base64Body`, `message.content_type`, `message.delivery_mode`,
//! `message.messageId`, and Sandcron's `message.mandatory` and `timeout`. See
//! `docs/executors/rabbitmq.md`.

mod config;

use sandcron_sdk::amqp::{self, Message, Queue};
use sandcron_sdk::{Execution, Executor, Failure, output};

use crate::config::RabbitConfig;

struct Rabbit;

impl Executor for Rabbit {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = RabbitConfig::from_execution(&execution)?;
        if let Some(flags) = config.declare {
            let queue = Queue {
                name: config.queue.clone(),
                durable: flags.durable,
                auto_delete: flags.auto_delete,
                exclusive: flags.exclusive,
            };
            let state =
                amqp::declare_queue(&config.url, &queue, execution.bound_timeout(config.timeout))?;
            output::print(&format!(
                "declared queue {} (messages ready: {}, consumers: {})\n",
                config.queue, state.message_count, state.consumer_count
            ));
        }
        let message = Message {
            exchange: config.exchange.clone(),
            routing_key: config.queue.clone(),
            body: config.body,
            content_type: Some(config.content_type),
            delivery_mode: config.delivery_mode,
            message_id: config.message_id,
            headers: Vec::new(),
            mandatory: config.mandatory,
        };
        amqp::publish(
            &config.url,
            &message,
            execution.bound_timeout(config.timeout),
        )?;
        let exchange = if config.exchange.is_empty() {
            "the default exchange".to_owned()
        } else {
            format!("exchange {}", config.exchange)
        };
        output::print(&format!(
            "published {} bytes to {exchange} with routing key {}; the broker confirmed it\n",
            message.body.len(),
            config.queue
        ));
        Ok(())
    }
}

sandcron_sdk::export_executor!(Rabbit);
