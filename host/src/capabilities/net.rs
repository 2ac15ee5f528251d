//! Network targets, shared by the capabilities that open connections (`http`, `nats`,
//! `amqp`, `kafka`, `grpc`): host and port patterns, the classification of addresses, and
//! the rule that loopback, private and link-local addresses are refused unless a pattern
//! names them explicitly.
//!
//! This is not a capability: it owns no interface and no state. The messaging capabilities
//! write their grants as `HOST:PORT[/RESOURCE]` ([`EndpointPolicy`]); what a resource is
//! (a topic, a subject, an exchange, a gRPC method) and how it matches is each
//! capability's own [`Resource`] type.
//!
//! Host part: `*`, `*.example.com` (any subdomain, not the domain itself), a name, an IP
//! address (`[::1]` for IPv6) or a CIDR block (`10.0.0.0/8`, `[fd00::/8]`). Port part: `*`,
//! a number or an inclusive range `8000..8080`. A wildcard never reaches a non-public
//! address: only a pattern that names the host, or an address block holding the address,
//! does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use ipnet::IpNet;

/// Which hosts a pattern matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// `*`: every host (public addresses only, unless named).
    Any,
    /// `*.example.com`: any subdomain; kept with its leading dot, `.example.com`.
    SubdomainOf(String),
    /// A host name, in lower case.
    Name(String),
    /// An address or a block of addresses.
    Net(IpNet),
}

impl HostMatch {
    /// Parses the host part of a pattern.
    pub fn parse(host: &str) -> Result<Self, String> {
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        if host == "*" {
            return Ok(HostMatch::Any);
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.is_empty() || domain.contains('*') {
                return Err("a wildcard host must look like *.example.com".into());
            }
            return Ok(HostMatch::SubdomainOf(format!(
                ".{}",
                domain.to_ascii_lowercase()
            )));
        }
        if host.contains('*') {
            return Err("`*` is allowed only as the whole host or as *.domain".into());
        }
        if let Ok(net) = host.parse::<IpNet>() {
            return Ok(HostMatch::Net(net));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(HostMatch::Net(IpNet::from(ip)));
        }
        let valid = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(format!(
                "{host:?} is not a host name, IP address or CIDR block"
            ));
        }
        Ok(HostMatch::Name(host.to_ascii_lowercase()))
    }

    /// Whether `host` (a name or an address, without brackets) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self {
            HostMatch::Any => true,
            HostMatch::SubdomainOf(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|subdomain| !subdomain.is_empty()),
            HostMatch::Name(name) => *name == host,
            HostMatch::Net(net) => host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        }
    }

    /// Whether this names `host`, or `ip`, explicitly (not through a wildcard): the
    /// condition for reaching a non-public address.
    pub fn names_explicitly(&self, host: &str, ip: IpAddr) -> bool {
        match self {
            HostMatch::Name(name) => name.eq_ignore_ascii_case(host),
            HostMatch::Net(net) => net.contains(&unmapped(ip)) || net.contains(&ip),
            HostMatch::Any | HostMatch::SubdomainOf(_) => false,
        }
    }
}

/// Which ports a pattern matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortMatch {
    /// `*`.
    Any,
    /// `N` or `LOW..HIGH`, inclusive.
    Range(u16, u16),
}

impl PortMatch {
    /// Parses `*`, a number or a range `LOW..HIGH`.
    pub fn parse(port: &str) -> Result<Self, String> {
        if port == "*" {
            return Ok(PortMatch::Any);
        }
        let number = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number"))
        };
        match port.split_once("..") {
            Some((low, high)) => {
                let (low, high) = (number(low)?, number(high)?);
                if low > high {
                    return Err(format!("the port range {port} is empty"));
                }
                Ok(PortMatch::Range(low, high))
            }
            None => {
                let port = number(port)?;
                Ok(PortMatch::Range(port, port))
            }
        }
    }

    /// Whether `port` matches.
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortMatch::Any => true,
            PortMatch::Range(low, high) => (*low..=*high).contains(&port),
        }
    }
}

/// A server a capability is about to connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Host name or IP address, without brackets.
    pub host: &'a str,
    /// The port.
    pub port: u16,
}

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a capability's grant scopes besides the server: a topic, a subject, a method.
pub trait Resource: Clone + fmt::Debug + PartialEq + Sized {
    /// What a call names, matched against the pattern.
    type Target: ?Sized + fmt::Display;
    /// What the grant entries call the resource (`topic`, `subject`), for messages.
    const NOUN: &'static str;

    /// Parses the part of a grant entry after `HOST:PORT/`; `None` when the entry has
    /// none, which should allow every resource.
    fn parse(text: Option<&str>) -> Result<Self, String>;

    /// Whether `target` is allowed.
    fn matches(&self, target: &Self::Target) -> bool;
}

/// One `HOST:PORT[/RESOURCE]` grant entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPattern<R> {
    text: String,
    host: HostMatch,
    port: PortMatch,
    resource: R,
}

impl<R: Resource> EndpointPattern<R> {
    /// Parses one entry. The port is required (`*` for any); an IPv6 address or block is
    /// written in brackets.
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = |why: &str| format!("{text:?}: {why}");
        let (host, rest) = if let Some(inner) = text.strip_prefix('[') {
            inner
                .split_once(']')
                .ok_or_else(|| error("an IPv6 address must be closed with ]"))?
        } else {
            let end = text.find(':').unwrap_or(text.len());
            text.split_at(end)
        };
        let rest = rest.strip_prefix(':').ok_or_else(|| {
            error("expected HOST:PORT[/...], e.g. 127.0.0.1:4222 (the port may be `*`)")
        })?;
        let (port, resource) = match rest.split_once('/') {
            Some((port, resource)) => (port, Some(resource)),
            None => (rest, None),
        };
        Ok(Self {
            text: text.to_string(),
            host: HostMatch::parse(host).map_err(|why| error(&why))?,
            port: PortMatch::parse(port).map_err(|why| error(&why))?,
            resource: R::parse(resource).map_err(|why| error(&why))?,
        })
    }

    fn matches_endpoint(&self, endpoint: &Endpoint) -> bool {
        self.host.matches(endpoint.host) && self.port.matches(endpoint.port)
    }
}

impl<R> fmt::Display for EndpointPattern<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The `HOST:PORT[/RESOURCE]` entries a capability was granted. The default allows
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPolicy<R> {
    patterns: Vec<EndpointPattern<R>>,
    /// Narrower grants a call must also pass (a job's, within its tenant's).
    within: Vec<EndpointPolicy<R>>,
}

impl<R> Default for EndpointPolicy<R> {
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            within: Vec::new(),
        }
    }
}

/// The policy of the messaging capabilities: a narrower grant is kept beside this one and
/// a call must pass both.
impl<R: Resource + Send + Sync + 'static> super::unit::Policy for EndpointPolicy<R> {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allow(pattern)
    }

    fn narrow_to(&mut self, narrower: &Self) {
        self.narrow(narrower.clone());
    }

    fn denies_all(&self) -> bool {
        self.is_empty()
    }
}

impl<R: Resource> EndpointPolicy<R> {
    /// Allows one more entry; the error names the entry and what is wrong with it.
    pub fn allow(&mut self, pattern: &str) -> Result<(), String> {
        self.patterns.push(EndpointPattern::parse(pattern)?);
        Ok(())
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty() || self.within.iter().any(EndpointPolicy::is_empty)
    }

    /// Narrows the grant: from now on a call must also pass `other`.
    pub fn narrow(&mut self, other: EndpointPolicy<R>) {
        self.within.push(other);
    }

    /// Checks a call before any connection: is the server and the resource in the grant,
    /// and, when the host is a non-public IP address, is it named explicitly?
    pub fn check(&self, endpoint: &Endpoint, resource: &R::Target) -> Result<(), String> {
        if !self.patterns.iter().any(|p| p.matches_endpoint(endpoint)) {
            return Err(format!("server {endpoint} is not in the grant"));
        }
        if !self
            .patterns
            .iter()
            .any(|p| p.matches_endpoint(endpoint) && p.resource.matches(resource))
        {
            return Err(format!(
                "{} {resource} on {endpoint} is not in the grant",
                R::NOUN
            ));
        }
        if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
            self.check_address(endpoint, resource, ip)?;
        }
        self.within
            .iter()
            .try_for_each(|narrower| narrower.check(endpoint, resource))
    }

    /// Checks one address `endpoint`'s host resolved to (or the address of a connection
    /// kept from an earlier execution): public addresses pass, others only when a
    /// matching entry names the host or the address explicitly.
    pub fn check_address(
        &self,
        endpoint: &Endpoint,
        resource: &R::Target,
        ip: IpAddr,
    ) -> Result<(), String> {
        if is_public(ip) {
            return Ok(());
        }
        for narrower in &self.within {
            narrower.check_address(endpoint, resource, ip)?;
        }
        let explicit = self.patterns.iter().any(|p| {
            p.matches_endpoint(endpoint)
                && p.resource.matches(resource)
                && p.host.names_explicitly(endpoint.host, ip)
        });
        if explicit {
            Ok(())
        } else {
            Err(non_public_refusal(endpoint, ip))
        }
    }
}

/// The refusal of a non-public address reached through a wildcard.
pub fn non_public_refusal(endpoint: &Endpoint, ip: IpAddr) -> String {
    format!(
        "{} is {ip}, a {} address, which is refused unless allowed explicitly \
         (for example {}:{})",
        endpoint.host,
        address_kind(ip),
        bracketed(ip),
        endpoint.port
    )
}

/// Why no address could be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Every address was refused by the policy; the first refusal.
    Denied(String),
    /// The name did not resolve.
    Failed(String),
}

/// Resolves `endpoint` and returns the addresses `check` accepts, in the resolver's order.
/// An IP address is returned as it is (after the check).
pub async fn resolve_checked(
    endpoint: &Endpoint<'_>,
    check: impl Fn(IpAddr) -> Result<(), String>,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
        check(ip).map_err(ResolveError::Denied)?;
        return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
    }
    let resolved = tokio::net::lookup_host((endpoint.host, endpoint.port))
        .await
        .map_err(|e| ResolveError::Failed(format!("cannot resolve {}: {e}", endpoint.host)))?;
    let mut allowed = Vec::new();
    let mut first_refusal = None;
    for address in resolved {
        match check(address.ip()) {
            Ok(()) => allowed.push(address),
            Err(reason) => {
                first_refusal.get_or_insert(reason);
            }
        }
    }
    match (allowed.is_empty(), first_refusal) {
        (false, _) => Ok(allowed),
        (true, Some(reason)) => Err(ResolveError::Denied(reason)),
        (true, None) => Err(ResolveError::Failed(format!(
            "{} has no address",
            endpoint.host
        ))),
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6) as written in a URL's authority; the port is
/// `None` when absent.
pub fn split_authority(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("{authority:?}: an IPv6 address must be closed with ]"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{authority:?} has no host"));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("{authority:?}: {p:?} is not a port number"))
        })
        .transpose()?;
    Ok((host, port))
}

/// Matches `text` against a glob where `*` stands for any run of characters (possibly
/// empty). The grant patterns of topics, exchanges and methods use it.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    if !text.ends_with(last) {
        return false;
    }
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Address blocks that are not reachable on the public internet, with their kind.
static NON_PUBLIC: LazyLock<Vec<(IpNet, &'static str)>> = LazyLock::new(|| {
    [
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "NAT64 (local use)"),
        ("100::/64", "discard"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ]
    .into_iter()
    .map(|(net, kind)| (net.parse().expect("a valid constant"), kind))
    .collect()
});

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The IPv4 addresses an IPv6 address carries, by the forms that embed one: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-compatible (`::/96`), IPv4-translated (SIIT,
/// `::ffff:0:0:0/96`), the well-known NAT64 prefix (`64:ff9b::/96`), 6to4 (`2002::/16`,
/// the gateway's address in bits 16–48) and Teredo (`2001::/32`: the server's address,
/// and the client's, inverted, in the last 32 bits). Traffic to such an address may end up
/// at the IPv4 address (a translator, a relay, a dual-stack socket), so each is classified
/// too.
pub fn embedded_ipv4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let segments = v6.segments();
    let octets = v6.octets();
    let last = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => vec![last],
        [0x2002, ..] => vec![Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])],
        [0x2001, 0, ..] => vec![
            Ipv4Addr::new(octets[4], octets[5], octets[6], octets[7]),
            Ipv4Addr::from(!u32::from(last)),
        ],
        _ => Vec::new(),
    }
}

/// The kind of the first non-public block holding `ip` or an IPv4 address it embeds
/// ([`embedded_ipv4`]); `None` when all are public.
fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    let kind_of = |ip: IpAddr| {
        NON_PUBLIC
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, kind)| *kind)
    };
    kind_of(ip).or_else(|| match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6)
            .into_iter()
            .find_map(|v4| kind_of(IpAddr::V4(v4))),
        IpAddr::V4(_) => None,
    })
}

/// Whether `ip` is reachable on the public internet: neither it nor an IPv4 address it
/// embeds is in a non-public block.
pub fn is_public(ip: IpAddr) -> bool {
    non_public_kind(ip).is_none()
}

/// What kind of address `ip` is: `loopback`, `private`, `link-local`, … or `public`; an
/// IPv6 address embedding an IPv4 one is of the IPv4 one's kind.
pub fn address_kind(ip: IpAddr) -> &'static str {
    non_public_kind(ip).unwrap_or("public")
}

/// `ip` as written before a port: IPv6 in brackets.
pub fn bracketed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource for the tests: a glob over names.
    #[derive(Clone, Debug, PartialEq)]
    struct Name(String);

    impl Resource for Name {
        type Target = str;
        const NOUN: &'static str = "name";

        fn parse(text: Option<&str>) -> Result<Self, String> {
            Ok(Name(text.unwrap_or("*").to_string()))
        }

        fn matches(&self, target: &str) -> bool {
            glob_matches(&self.0, target)
        }
    }

    fn policy(patterns: &[&str]) -> EndpointPolicy<Name> {
        let mut policy = EndpointPolicy::default();
        for p in patterns {
            policy.allow(p).unwrap();
        }
        policy
    }

    fn at(host: &str, port: u16) -> Endpoint<'_> {
        Endpoint { host, port }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let err = EndpointPolicy::<Name>::default()
            .check(&at("example.com", 4222), "x")
            .unwrap_err();
        assert!(
            err.contains("example.com:4222 is not in the grant"),
            "{err}"
        );
    }

    #[test]
    fn server_port_and_resource_must_all_match() {
        let p = policy(&["nats.example.com:4222/jobs.*", "*.example.org:*"]);
        assert!(p.check(&at("nats.example.com", 4222), "jobs.a").is_ok());
        let err = p.check(&at("nats.example.com", 4222), "other").unwrap_err();
        assert!(err.contains("name other on nats.example.com:4222"), "{err}");
        assert!(p.check(&at("nats.example.com", 4223), "jobs.a").is_err());
        assert!(p.check(&at("a.example.org", 1), "anything").is_ok());
        assert!(p.check(&at("example.org", 1), "anything").is_err());
    }

    #[test]
    fn non_public_addresses_need_an_explicit_entry() {
        let wildcard = policy(&["*:*"]);
        let err = wildcard.check(&at("127.0.0.1", 4222), "x").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(err.contains("127.0.0.1:4222"), "{err}");
        assert!(wildcard.check(&at("93.184.216.34", 4222), "x").is_ok());
        let resolved: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(
            wildcard
                .check_address(&at("broker.example", 9092), "x", resolved)
                .is_err()
        );

        let explicit = policy(&["127.0.0.1:4222", "10.0.0.0/8:*", "localhost:9092"]);
        assert!(explicit.check(&at("127.0.0.1", 4222), "x").is_ok());
        assert!(explicit.check(&at("10.9.8.7", 5672), "x").is_ok());
        let localhost = at("localhost", 9092);
        assert!(explicit.check(&localhost, "x").is_ok());
        assert!(
            explicit
                .check_address(&localhost, "x", "127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn ipv6_forms_embedding_an_ipv4_address_are_classified_by_it() {
        for (written, kind) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::127.0.0.1", "loopback"),
            ("::ffff:0:127.0.0.1", "loopback"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::169.254.169.254", "link-local"),
            ("::ffff:0:192.168.1.1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe:1::1", "link-local"),
            ("2002:c0a8:101::", "private"),
            // Teredo: server 127.0.0.1, client 8.8.8.8 (inverted: f7f7:f7f7).
            ("2001:0:7f00:1::f7f7:f7f7", "loopback"),
            // Teredo: server 8.8.8.8, client 10.0.0.1 (inverted: f5ff:fffe).
            ("2001:0:808:808::f5ff:fffe", "private"),
            ("64:ff9b:1::1", "NAT64 (local use)"),
            ("::1", "loopback"),
            ("::", "unspecified"),
        ] {
            let ip: IpAddr = written.parse().unwrap();
            assert!(!is_public(ip), "{written} passed as public");
            assert_eq!(address_kind(ip), kind, "{written}");
        }
        for public in [
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
            "2606:4700::1111",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} refused");
            assert_eq!(address_kind(ip), "public", "{public}");
        }
    }

    #[test]
    fn a_wildcard_never_reaches_loopback_through_an_ipv6_spelling() {
        let wildcard = policy(&["*:*"]);
        for host in [
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:127.0.0.1",
            "2002:7f00:1::1",
        ] {
            let err = wildcard.check(&at(host, 4222), "x").unwrap_err();
            assert!(err.contains("loopback"), "{host}: {err}");
        }
    }

    #[test]
    fn ipv6_entries_are_bracketed() {
        let p = policy(&["[::1]:4222", "[fd00::/8]:*/a*"]);
        assert!(p.check(&at("::1", 4222), "x").is_ok());
        assert!(p.check(&at("fd12::1", 1), "abc").is_ok());
        assert!(p.check(&at("fd12::1", 1), "b").is_err());
    }

    #[test]
    fn bad_entries_name_themselves() {
        for bad in [
            "example.com",
            "example.com/topic",
            "ex*ample.com:1",
            "example.com:port",
            "example.com:9..1",
            "[::1:4222",
        ] {
            let err = EndpointPattern::<Name>::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_matches("*", ""));
        assert!(glob_matches("jobs-*", "jobs-1"));
        assert!(!glob_matches("jobs-*", "job"));
        assert!(glob_matches("a*b*c", "abbbc"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(glob_matches("*.Method", "pkg.Svc/x.Method"));
        assert!(!glob_matches("ab*ba", "aba"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("h:1").unwrap(), ("h", Some(1)));
        assert_eq!(split_authority("h").unwrap(), ("h", None));
        assert_eq!(split_authority("[::1]:80").unwrap(), ("::1", Some(80)));
        assert!(split_authority(":80").is_err());
        assert!(split_authority("h:x").is_err());
    }
}
