//! Which gRPC servers and methods an execution may call.
//!
//! A grant entry is `HOST:PORT[/METHOD]` (see [`net`](crate::capabilities::net) for the
//! host and port parts). The method is a glob over the full name `package.Service/Method`
//! where `*` stands for any run of characters (`billing.Invoices/*`, `*/Health*`); without
//! it every method is allowed. Reflection calls, which the capability makes to learn a
//! method's types, are allowed on every granted server.

use crate::capabilities::net::{EndpointPolicy, Resource, glob_matches};

/// The gRPC grant: servers and methods.
pub type GrpcPolicy = EndpointPolicy<MethodPattern>;

/// A glob over `package.Service/Method`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodPattern(String);

impl Resource for MethodPattern {
    type Target = str;
    const NOUN: &'static str = "method";

    fn parse(text: Option<&str>) -> Result<Self, String> {
        let text = text.unwrap_or("*");
        if text.is_empty() {
            return Err("the method pattern is empty (leave out the /METHOD part for any)".into());
        }
        Ok(Self(text.to_string()))
    }

    fn matches(&self, method: &str) -> bool {
        glob_matches(&self.0, method)
    }
}

/// Splits `package.Service/Method` into the service's full name and the method's name.
pub fn split_method(method: &str) -> Option<(&str, &str)> {
    let method = method.strip_prefix('/').unwrap_or(method);
    let (service, name) = method.split_once('/')?;
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    (valid(service) && valid(name) && !name.contains('.')).then_some((service, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::net::Endpoint;

    #[test]
    fn methods_are_globs_over_the_full_name() {
        let mut policy = GrpcPolicy::default();
        policy.allow("127.0.0.1:50051/billing.Invoices/*").unwrap();
        let server = Endpoint {
            host: "127.0.0.1",
            port: 50051,
        };
        assert!(policy.check(&server, "billing.Invoices/Create").is_ok());
        let err = policy.check(&server, "billing.Users/Delete").unwrap_err();
        assert!(err.contains("method billing.Users/Delete"), "{err}");
    }

    #[test]
    fn methods_split_into_service_and_name() {
        assert_eq!(split_method("pkg.v1.Svc/Do"), Some(("pkg.v1.Svc", "Do")));
        assert_eq!(split_method("/pkg.Svc/Do"), Some(("pkg.Svc", "Do")));
        assert_eq!(split_method("pkg.Svc"), None);
        assert_eq!(split_method("pkg.Svc/"), None);
        assert_eq!(split_method("pkg Svc/Do"), None);
    }
}
