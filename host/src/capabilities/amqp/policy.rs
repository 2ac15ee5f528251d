//! Which AMQP brokers, exchanges and routing keys an execution may publish to.
//!
//! A grant entry is `HOST:PORT[/EXCHANGE[/ROUTING-KEY]]` (see
//! [`net`](crate::capabilities::net) for the host and port parts). The exchange and the
//! routing key are globs where `*` stands for any run of characters; a missing part allows
//! any. The default exchange is the empty name, so `127.0.0.1:5672//jobs-*` allows the
//! queues `jobs-*` through it, and `127.0.0.1:5672/events` any routing key on the exchange
//! `events`. Declaring a queue counts as a route to it through the default exchange.
//! Virtual hosts are not scoped here: the broker's own permissions for the URL's user do
//! that.

use std::fmt;

use crate::capabilities::net::{EndpointPolicy, Resource, glob_matches};

/// The AMQP grant: brokers, exchanges and routing keys.
pub type AmqpPolicy = EndpointPolicy<RoutePattern>;

/// An exchange glob and a routing-key glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    exchange: String,
    routing_key: String,
}

/// Where a message goes: an exchange and a routing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The exchange; `""` is the default one.
    pub exchange: String,
    /// The routing key.
    pub routing_key: String,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exchange {:?} with routing key {:?}",
            self.exchange, self.routing_key
        )
    }
}

impl Resource for RoutePattern {
    type Target = Route;
    const NOUN: &'static str = "route";

    fn parse(text: Option<&str>) -> Result<Self, String> {
        let (exchange, routing_key) = match text {
            None => ("*", "*"),
            Some(text) => text.split_once('/').unwrap_or((text, "*")),
        };
        Ok(Self {
            exchange: exchange.to_string(),
            routing_key: routing_key.to_string(),
        })
    }

    fn matches(&self, route: &Route) -> bool {
        glob_matches(&self.exchange, &route.exchange)
            && glob_matches(&self.routing_key, &route.routing_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::net::Endpoint;

    fn route(exchange: &str, routing_key: &str) -> Route {
        Route {
            exchange: exchange.into(),
            routing_key: routing_key.into(),
        }
    }

    #[test]
    fn exchanges_and_routing_keys_are_globs() {
        let mut policy = AmqpPolicy::default();
        policy.allow("127.0.0.1:5672//jobs-*").unwrap();
        policy.allow("127.0.0.1:5672/events").unwrap();
        let broker = Endpoint {
            host: "127.0.0.1",
            port: 5672,
        };
        assert!(policy.check(&broker, &route("", "jobs-1")).is_ok());
        assert!(policy.check(&broker, &route("", "other")).is_err());
        assert!(policy.check(&broker, &route("events", "any.key")).is_ok());
        let err = policy.check(&broker, &route("logs", "x")).unwrap_err();
        assert!(err.contains(r#"exchange "logs""#), "{err}");
    }

    #[test]
    fn no_route_part_allows_every_route() {
        let mut policy = AmqpPolicy::default();
        policy.allow("127.0.0.1:5672").unwrap();
        let broker = Endpoint {
            host: "127.0.0.1",
            port: 5672,
        };
        assert!(policy.check(&broker, &route("x", "y")).is_ok());
        assert!(policy.check(&broker, &route("", "")).is_ok());
    }
}
