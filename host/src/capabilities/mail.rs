//! The `mail` grant: whom a job's mail notifications may reach through the server's SMTP
//! relay (`crate::after_run`). It has no interface: no component sends mail itself, only
//! the host does, for a job, under the job's grant (its tenant's, narrowed by the job's
//! own `grants`), so that a hosted tenant cannot mail arbitrary addresses through the
//! operator's relay.
//!
//! A pattern names recipients: `*` (anyone), `example.com` (any address at that domain),
//! `*.example.com` (any address at a domain under it, not at `example.com` itself) or
//! `ops@example.com` (that address). Matching ignores case. The default grants nobody.

use std::fmt;

use wasmtime::component::Linker;

use super::unit::{Capability, Holds, Policy};
use crate::output::OutputSink;

/// The unit: granted by recipient patterns (`mail=example.com`, `mail=*`), serving no
/// import.
pub struct Mail;

impl Capability for Mail {
    const NAME: &'static str = "mail";
    const INTERFACES: &'static [&'static str] = &[];
    type Policy = MailPolicy;
    type Shared = ();
    type State = ();

    fn new_state(_: &MailPolicy, _: &OutputSink, _: &()) {}

    fn add_to_linker<T: Holds<Self>>(_: &mut Linker<T>) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// One recipient pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Recipients {
    /// `*`.
    Anyone,
    /// `example.com`.
    Domain(String),
    /// `*.example.com`: the domain below the dot.
    Under(String),
    /// `ops@example.com`.
    Address(String),
}

impl Recipients {
    fn parse(pattern: &str) -> Result<Self, String> {
        let pattern = pattern.trim().to_ascii_lowercase();
        let valid_domain = |domain: &str| {
            !domain.is_empty()
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        };
        let refused = || {
            format!(
                "recipient pattern {pattern:?}: expected *, DOMAIN, *.DOMAIN or \
                 NAME@DOMAIN"
            )
        };
        if pattern == "*" {
            return Ok(Self::Anyone);
        }
        if let Some(domain) = pattern.strip_prefix("*.") {
            return valid_domain(domain)
                .then(|| Self::Under(domain.to_string()))
                .ok_or_else(refused);
        }
        match pattern.split_once('@') {
            Some((name, domain))
                if !name.is_empty()
                    && !name.contains(char::is_whitespace)
                    && valid_domain(domain) =>
            {
                Ok(Self::Address(pattern.clone()))
            }
            Some(_) => Err(refused()),
            None if valid_domain(&pattern) => Ok(Self::Domain(pattern.clone())),
            None => Err(refused()),
        }
    }

    fn matches(&self, address: &str, domain: &str) -> bool {
        match self {
            Self::Anyone => true,
            Self::Domain(allowed) => domain == allowed,
            Self::Under(parent) => domain
                .strip_suffix(parent.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            Self::Address(allowed) => address == allowed,
        }
    }
}

/// Whom mail may be sent to: an address must match a pattern of the grant and, for each
/// grant it was narrowed by, one of that grant's too. The default allows nobody.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MailPolicy {
    allowed: Vec<Recipients>,
    /// The grants it was narrowed by (a job's within its tenant's).
    within: Vec<Vec<Recipients>>,
}

impl MailPolicy {
    /// A grant of anyone (the default tenant's when the server grants no `mail`).
    pub fn anyone() -> Self {
        Self {
            allowed: vec![Recipients::Anyone],
            within: Vec::new(),
        }
    }

    /// Whether mail may go to `address`; the error says why not.
    pub fn check(&self, address: &str) -> Result<(), String> {
        let address = address.trim().to_ascii_lowercase();
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        let matches = |patterns: &[Recipients]| {
            patterns
                .iter()
                .any(|pattern| pattern.matches(&address, domain))
        };
        if matches(&self.allowed) && self.within.iter().all(|grant| matches(grant)) {
            Ok(())
        } else {
            Err(format!(
                "mail to {address} denied: the job's mail grant does not name it"
            ))
        }
    }
}

impl Policy for MailPolicy {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allowed.push(Recipients::parse(pattern)?);
        Ok(())
    }

    fn narrow_to(&mut self, narrower: &Self) {
        self.within.push(narrower.allowed.clone());
        self.within.extend(narrower.within.iter().cloned());
    }

    fn denies_all(&self) -> bool {
        self.allowed.is_empty() || self.within.iter().any(Vec::is_empty)
    }
}

impl fmt::Debug for MailPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailPolicy")
            .field("allowed", &self.allowed)
            .field("within", &self.within)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> MailPolicy {
        let mut policy = MailPolicy::default();
        for pattern in patterns {
            policy.allow_pattern(pattern).unwrap();
        }
        policy
    }

    #[test]
    fn patterns_name_anyone_a_domain_the_domains_under_one_or_an_address() {
        let grant = policy(&["example.com", "*.corp.example", "Boss@Elsewhere.org"]);
        assert!(grant.check("ops@example.com").is_ok());
        assert!(grant.check("OPS@EXAMPLE.COM").is_ok());
        assert!(grant.check("ops@mail.example.com").is_err());
        assert!(grant.check("a@eu.corp.example").is_ok());
        assert!(grant.check("a@corp.example").is_err());
        assert!(grant.check("a@evilcorp.example").is_err());
        assert!(grant.check("boss@elsewhere.org").is_ok());
        assert!(grant.check("other@elsewhere.org").is_err());
        let error = grant.check("x@attacker.net").unwrap_err();
        assert!(error.contains("x@attacker.net") && error.contains("mail grant"));
        assert!(MailPolicy::anyone().check("x@attacker.net").is_ok());
        assert!(MailPolicy::default().check("ops@example.com").is_err());
        assert!(MailPolicy::default().denies_all());
    }

    #[test]
    fn bad_patterns_are_refused_with_the_forms_accepted() {
        for bad in [
            "",
            "a b@example.com",
            "@example.com",
            "*.",
            "ex ample.com",
            "a@",
        ] {
            let error = MailPolicy::default().allow_pattern(bad).unwrap_err();
            assert!(error.contains("NAME@DOMAIN"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_narrowed_grant_allows_what_both_allow() {
        let mut tenant = policy(&["example.com", "elsewhere.org"]);
        tenant.narrow_to(&policy(&["ops@example.com"]));
        assert!(tenant.check("ops@example.com").is_ok());
        assert!(tenant.check("dev@example.com").is_err());
        assert!(tenant.check("ops@elsewhere.org").is_err());
        let mut nobody = MailPolicy::anyone();
        nobody.narrow_to(&MailPolicy::default());
        assert!(nobody.denies_all());
        assert!(nobody.check("ops@example.com").is_err());
    }
}
