//! Which hosts an execution may reach over HTTP: Spin's `allowed_outbound_hosts` syntax,
//! `scheme://host[:port]`, plus the rule that loopback, private and link-local addresses
//! are refused unless a pattern names them explicitly.
//!
//! Pattern parts: scheme `*` or a name (`http`, `https`); host `*`, `*.example.com` (any
//! subdomain, not the domain itself), a name, an IP address (`[::1]` for IPv6) or a CIDR
//! block (`10.0.0.0/8`, `[fd00::/8]`); port omitted (the scheme's default: 80 for http,
//! 443 for https), `*`, a number or a range `8000..8080` (inclusive). No path.

use std::net::IpAddr;

use crate::capabilities::net::{self, HostMatch, PortMatch};

/// The hosts a grant allows. The default allows none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpPolicy {
    patterns: Vec<HostPattern>,
    /// Narrower grants a target must also pass (a job's, within its tenant's).
    within: Vec<HttpPolicy>,
}

/// One `scheme://host[:port]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
    scheme: Option<String>,
    host: HostMatch,
    /// `None`: the scheme's default port.
    port: Option<PortMatch>,
}

/// A request target, as the checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host name or IP address, without brackets.
    pub host: &'a str,
    /// The port, the scheme's default when the URL has none.
    pub port: u16,
}

impl HttpPolicy {
    /// Parses patterns; the error names the pattern and what is wrong with it.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| HostPattern::parse(p.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            patterns,
            within: Vec::new(),
        })
    }

    /// Narrows the grant: from now on a target must also pass `other`.
    pub fn narrow(&mut self, other: HttpPolicy) {
        self.within.push(other);
    }

    /// Allows one more pattern.
    pub fn allow(&mut self, pattern: &str) -> Result<(), String> {
        self.patterns.push(HostPattern::parse(pattern)?);
        Ok(())
    }

    /// Whether no host at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty() || self.within.iter().any(HttpPolicy::is_empty)
    }

    /// Checks a target before any connection: is it in the allowed hosts, and, when its
    /// host is an IP address that is not public, is that address allowed explicitly?
    pub fn check_target(&self, target: &Target) -> Result<(), String> {
        if !self.patterns.iter().any(|p| p.matches(target)) {
            return Err(format!(
                "{} is not in the allowed hosts",
                target.authority()
            ));
        }
        if let Ok(ip) = target.host.parse::<IpAddr>() {
            self.check_address(target, ip)?;
        }
        self.within
            .iter()
            .try_for_each(|narrower| narrower.check_target(target))
    }

    /// Checks one address a target's host resolved to: public addresses pass; loopback,
    /// private, link-local and other non-global ones only when a matching pattern names
    /// the host or the address explicitly (not through a wildcard).
    pub fn check_address(&self, target: &Target, ip: IpAddr) -> Result<(), String> {
        if net::is_public(ip) {
            return Ok(());
        }
        for narrower in &self.within {
            narrower.check_address(target, ip)?;
        }
        let explicit = self
            .patterns
            .iter()
            .any(|p| p.matches(target) && p.host.names_explicitly(target.host, ip));
        if explicit {
            Ok(())
        } else {
            Err(format!(
                "{} is {ip}, a {} address, which is refused unless allowed explicitly \
                 (for example {}://{}:{})",
                target.host,
                net::address_kind(ip),
                target.scheme,
                net::bracketed(ip),
                target.port
            ))
        }
    }
}

impl Target<'_> {
    fn authority(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The default port of a scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl HostPattern {
    /// Parses one pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = |why: &str| format!("allowed host {text:?}: {why}");
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| error("expected scheme://host[:port], e.g. https://example.com"))?;
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(s.to_ascii_lowercase())
            }
            _ => return Err(error("the scheme must be `*` or a name such as https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_host_port(rest).map_err(|why| error(&why))?;
        let host = HostMatch::parse(host).map_err(|why| error(&why))?;
        let port = match port {
            None => {
                if let Some(scheme) = &scheme
                    && default_port(scheme).is_none()
                {
                    return Err(error("give a port: this scheme has no default port"));
                }
                None
            }
            Some(port) => Some(PortMatch::parse(port).map_err(|why| error(&why))?),
        };
        Ok(Self {
            text: text.to_string(),
            scheme,
            host,
            port,
        })
    }

    fn matches(&self, target: &Target) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == target.scheme);
        let port_ok = match self.port {
            Some(port) => port.matches(target.port),
            None => default_port(target.scheme) == Some(target.port),
        };
        scheme_ok && port_ok && self.host.matches(target.host)
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn split_host_port(rest: &str) -> Result<(&str, Option<&str>), String> {
    if rest.contains('/') && !rest.starts_with('[') && !looks_like_cidr(rest) {
        return Err("no path is allowed, only scheme://host[:port]".into());
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| "an IPv6 address must be closed with ]".to_string())?;
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| format!("unexpected {after:?} after the address")),
        };
    }
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    })
}

fn looks_like_cidr(rest: &str) -> bool {
    let host = rest.split(':').next().unwrap_or(rest);
    host.parse::<ipnet::IpNet>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(scheme: &'a str, host: &'a str, port: u16) -> Target<'a> {
        Target { scheme, host, port }
    }

    fn policy(patterns: &[&str]) -> HttpPolicy {
        HttpPolicy::parse(patterns).unwrap()
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let err = HttpPolicy::default()
            .check_target(&target("https", "example.com", 443))
            .unwrap_err();
        assert!(err.contains("not in the allowed hosts"), "{err}");
    }

    #[test]
    fn exact_host_uses_the_scheme_default_port() {
        let p = policy(&["https://example.com"]);
        assert!(p.check_target(&target("https", "example.com", 443)).is_ok());
        assert!(p.check_target(&target("https", "EXAMPLE.com", 443)).is_ok());
        assert!(
            p.check_target(&target("https", "example.com", 8443))
                .is_err()
        );
        assert!(p.check_target(&target("http", "example.com", 80)).is_err());
    }

    #[test]
    fn wildcards_for_scheme_host_and_port() {
        let p = policy(&["*://*.example.com:*"]);
        assert!(
            p.check_target(&target("http", "api.example.com", 8080))
                .is_ok()
        );
        assert!(
            p.check_target(&target("https", "a.b.example.com", 1))
                .is_ok()
        );
        assert!(
            p.check_target(&target("https", "example.com", 443))
                .is_err()
        );
        assert!(
            p.check_target(&target("https", "badexample.com", 443))
                .is_err()
        );
    }

    #[test]
    fn port_ranges_are_inclusive() {
        let p = policy(&["http://example.com:8000..8080"]);
        assert!(p.check_target(&target("http", "example.com", 8000)).is_ok());
        assert!(p.check_target(&target("http", "example.com", 8080)).is_ok());
        assert!(
            p.check_target(&target("http", "example.com", 8081))
                .is_err()
        );
    }

    #[test]
    fn private_addresses_need_an_explicit_pattern() {
        let wildcard = policy(&["*://*:*"]);
        let err = wildcard
            .check_target(&target("http", "10.0.0.1", 80))
            .unwrap_err();
        assert!(err.contains("private"), "{err}");
        assert!(
            wildcard
                .check_target(&target("http", "93.184.216.34", 80))
                .is_ok()
        );
        let err = wildcard
            .check_address(
                &target("http", "rebind.example", 80),
                "127.0.0.1".parse().unwrap(),
            )
            .unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let mapped: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
        assert!(
            wildcard
                .check_address(&target("http", "x.example", 80), mapped)
                .is_err()
        );

        let explicit = policy(&[
            "http://127.0.0.1:8080",
            "http://10.0.0.0/8:*",
            "http://localhost:9000",
        ]);
        assert!(
            explicit
                .check_target(&target("http", "127.0.0.1", 8080))
                .is_ok()
        );
        assert!(
            explicit
                .check_target(&target("http", "10.9.8.7", 1234))
                .is_ok()
        );
        let localhost = target("http", "localhost", 9000);
        assert!(explicit.check_target(&localhost).is_ok());
        assert!(
            explicit
                .check_address(&localhost, "127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn ipv6_spellings_of_loopback_need_an_explicit_pattern() {
        let wildcard = policy(&["*://*:*"]);
        for host in ["::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::7f00:1"] {
            let err = wildcard
                .check_target(&target("http", host, 8080))
                .unwrap_err();
            assert!(err.contains("loopback"), "{host}: {err}");
        }
    }

    #[test]
    fn ipv6_patterns() {
        let p = policy(&["http://[::1]:8080", "https://[fd00::/8]"]);
        assert!(p.check_target(&target("http", "::1", 8080)).is_ok());
        assert!(p.check_target(&target("https", "fd12::1", 443)).is_ok());
    }

    #[test]
    fn bad_patterns_name_themselves() {
        for bad in [
            "example.com",
            "https://example.com/path",
            "https://ex*ample.com",
            "https://example.com:port",
            "https://example.com:9..1",
            "ftp+x://example.com",
            "tcp://example.com",
        ] {
            let err = HttpPolicy::parse(&[bad]).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
