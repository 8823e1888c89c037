//! Behind a TLS-terminating proxy: which addresses are trusted proxies (`--trusted-proxy`), and the client
//! address such a proxy reports in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! Headers are believed only on connections from a trusted proxy, and then only up to the first hop that is not
//! itself trusted: everything left of that was written by the client and may be invented.

use hyper::header::HeaderMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A network in CIDR notation; a bare address is the one host (/32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?}: expected an IP address or a network like 10.0.0.0/8 or fd00::/8");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(format!("{s:?}: a prefix length of at most {max}"));
        }
        let cidr = Cidr { network, prefix };
        if cidr.mask(network) != network {
            return Err(format!("{s:?}: has host bits set; did you mean {}/{prefix}?", cidr.mask(network)));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let m = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.network.is_ipv4() && self.mask(ip) == self.network
    }
}

/// The `--trusted-proxy` networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(networks: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// For the banner: `10.0.0.0/8, 127.0.0.1/32`.
    pub fn describe(&self) -> String {
        self.0.iter().map(Cidr::to_string).collect::<Vec<_>>().join(", ")
    }

    /// Where a request from `peer` really comes from: the client a trusted proxy reports, else `peer` itself.
    pub fn origin(&self, peer: SocketAddr, headers: &HeaderMap) -> Origin {
        if !self.contains(peer.ip()) {
            return Origin::Direct;
        }
        match self.client(headers) {
            Some(client) => Origin::Proxied(client),
            None => Origin::Direct,
        }
    }

    /// The right-most hop not itself a trusted proxy, from `Forwarded` if the proxy sent one, else from
    /// `X-Forwarded-For`. `None` when the headers are absent or that hop is not an address (`unknown`, an
    /// obfuscated name, garbage).
    fn client(&self, headers: &HeaderMap) -> Option<Client> {
        let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
        let hops: Vec<Option<Client>> = if !forwarded.is_empty() {
            forwarded.iter().flat_map(|v| split_list(v)).map(forwarded_for).collect()
        } else {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|hop| parse_node(hop.trim()))
                .collect()
        };
        for hop in hops.into_iter().rev() {
            match hop {
                Some(c) if self.contains(c.ip) => continue,
                other => return other,
            }
        }
        None
    }
}

/// Whom a request is recorded as coming from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The TCP peer itself.
    Direct,
    /// A client reported by the trusted proxy that is the TCP peer.
    Proxied(Client),
}

/// A client address from a proxy's header; the port only when the proxy gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl fmt::Display for Client {
    /// As records spell peers: `ip:port` with IPv6 in brackets, or the address alone without a port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => SocketAddr::new(self.ip, port).fmt(f),
            None => self.ip.fmt(f),
        }
    }
}

/// The elements of a `Forwarded` value, split at commas outside quoted strings.
fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// The `for=` of one `Forwarded` element; an element without one is a hop of unknown address.
fn forwarded_for(element: &str) -> Option<Client> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))?
    })
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or a bare IPv6 address (as
/// X-Forwarded-For often has it).
fn parse_node(node: &str) -> Option<Client> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(Client { ip, port: None });
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(Client { ip: addr.ip(), port: Some(addr.port()) });
    }
    let inner = node.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(|ip| Client { ip: IpAddr::V6(ip), port: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn origin(p: &TrustedProxies, peer: &str, pairs: &[(&'static str, &str)]) -> String {
        match p.origin(peer.parse().unwrap(), &headers(pairs)) {
            Origin::Direct => "direct".into(),
            Origin::Proxied(c) => c.to_string(),
        }
    }

    #[test]
    fn cidrs() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()) && !c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.9.9.9".parse().unwrap()), "IPv4-mapped");
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains("192.0.2.7".parse().unwrap()) && !host.contains("192.0.2.8".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap()));
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "proxy", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn x_forwarded_for_takes_the_right_most_untrusted_hop() {
        let p = proxies(&["10.0.0.0/8"]);
        let xff = |v: &str| origin(&p, "10.0.0.5:999", &[("x-forwarded-for", v)]);
        assert_eq!(xff("203.0.113.9"), "203.0.113.9");
        // The client wrote the left part itself: only the hop the proxy saw counts.
        assert_eq!(xff("1.1.1.1, 203.0.113.9"), "203.0.113.9");
        assert_eq!(xff("203.0.113.9, 10.0.0.7"), "203.0.113.9", "an inner proxy is skipped");
        assert_eq!(xff("2001:db8::1"), "2001:db8::1");
        assert_eq!(xff("garbage"), "direct");
        assert_eq!(xff("10.0.0.7"), "direct", "only proxies: no client known");
        // Several header lines are one list.
        let two = origin(&p, "10.0.0.5:1", &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")]);
        assert_eq!(two, "2.2.2.2");
    }

    #[test]
    fn forwarded_handles_quotes_ports_and_ipv6_and_wins_over_x_forwarded_for() {
        let p = proxies(&["10.0.0.0/8"]);
        let fwd = |v: &str| origin(&p, "10.0.0.5:999", &[("forwarded", v), ("x-forwarded-for", "9.9.9.9")]);
        assert_eq!(fwd("for=192.0.2.60;proto=https;by=203.0.113.43"), "192.0.2.60");
        assert_eq!(fwd(r#"for="[2001:db8:cafe::17]:4711""#), "[2001:db8:cafe::17]:4711");
        assert_eq!(fwd(r#"For="[2001:db8::1]""#), "2001:db8::1");
        assert_eq!(fwd(r#"for="192.0.2.1:8080""#), "192.0.2.1:8080");
        assert_eq!(fwd("for=198.51.100.17, for=192.0.2.43"), "192.0.2.43");
        assert_eq!(fwd(r#"for=192.0.2.43;by="a,b", for=10.1.1.1"#), "192.0.2.43");
        assert_eq!(fwd("for=unknown"), "direct");
        assert_eq!(fwd("for=_hidden, for=10.0.0.9"), "direct");
        assert_eq!(fwd("proto=https"), "direct");
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(origin(&p, "192.0.2.1:5", &[("x-forwarded-for", "1.2.3.4")]), "direct");
        assert_eq!(origin(&p, "192.0.2.1:5", &[("forwarded", "for=1.2.3.4")]), "direct");
        assert_eq!(origin(&TrustedProxies::default(), "10.0.0.1:5", &[("forwarded", "for=1.2.3.4")]), "direct");
    }
}
