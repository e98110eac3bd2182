//! Where a request came from: the client's address (what rate limits key on, and what sessions
//! and audit entries record) and its user agent.
//!
//! The address is the TCP peer's, unless the peer is one of `server.trusted_proxies`: then the
//! forwarding headers are read right to left (`Forwarded: for=` when present, otherwise
//! `X-Forwarded-For`), each hop standing for the one before while it is itself trusted. The
//! first untrusted hop is the client; anything a client wrote further left is never believed.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::Extensions;
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address, as worked out by [`resolve`] for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// A loopback connection without forwarding headers: a process on this machine.
    pub local: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect());
        let ip = client_addr(&parts.extensions).map(|c| c.ip.to_string());
        Ok(ClientInfo { user_agent, ip })
    }
}

/// The request's client address: [`resolve`]'s when it ran, otherwise the peer's.
pub fn client_addr(extensions: &Extensions) -> Option<ClientAddr> {
    extensions.get::<ClientAddr>().copied().or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| ClientAddr {
                ip: c.0.ip(),
                local: c.0.ip().is_loopback(),
            })
    })
}

/// Middleware: works out the client's address once for every layer and handler after it.
pub async fn resolve(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<IpNet>>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let addr = client_of(peer, req.headers(), &trusted);
        req.extensions_mut().insert(addr);
    }
    next.run(req).await
}

/// The client behind `peer` given the request's forwarding headers.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(&ip));
    let hops = forwarded_hops(headers);
    let forwarded = hops.is_some();
    let Some(hops) = hops.filter(|_| is_trusted(peer)) else {
        return ClientAddr {
            ip: peer,
            // Something forwarded, even by a proxy not trusted to say for whom, is not local.
            local: peer.is_loopback() && !forwarded,
        };
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        // An obfuscated or unknown hop ends the chain at the last proxy that named it.
        let Some(ip) = hop.map(canonical) else {
            break;
        };
        client = ip;
    }
    ClientAddr {
        ip: client,
        local: false,
    }
}

/// The hops the forwarding headers name, leftmost (the original client) first; `None` for a
/// hop that is not an address. `Forwarded` (RFC 7239) wins over `X-Forwarded-For`.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let joined = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined("forwarded") {
        let hops = forwarded
            .split(',')
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| node(v))
                })
            })
            .collect::<Vec<_>>();
        return Some(hops);
    }
    joined("x-forwarded-for").map(|x| x.split(',').map(node).collect())
}

/// One hop: `192.0.2.1`, `"[2001:db8::1]:443"`, `192.0.2.1:8080`; not `unknown` or `_hidden`.
fn node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    s.rsplit_once(':')
        .filter(|(host, _)| !host.contains(':'))
        .and_then(|(host, _)| host.parse().ok())
}

/// IPv4 seen through an IPv6 socket (`::ffff:192.0.2.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_through_trusted_hops() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let xff = |v: &str| headers(&[("x-forwarded-for", v)]);
        // From an untrusted peer the header is ignored: anyone can write it.
        let c = client_of(ip("198.51.100.9"), &xff("203.0.113.5"), &trusted);
        assert_eq!(
            c,
            ClientAddr {
                ip: ip("198.51.100.9"),
                local: false
            }
        );
        // A trusted proxy names the client.
        let c = client_of(ip("10.1.2.3"), &xff("203.0.113.5"), &trusted);
        assert_eq!(c.ip, ip("203.0.113.5"));
        // A client's own forged entry to the left of the real one is not believed.
        let c = client_of(ip("10.1.2.3"), &xff("1.2.3.4, 203.0.113.5"), &trusted);
        assert_eq!(c.ip, ip("203.0.113.5"));
        // Two trusted proxies in a row; several header lines join in order.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-for", "10.9.9.9"),
        ]);
        assert_eq!(
            client_of(ip("127.0.0.1"), &h, &trusted).ip,
            ip("203.0.113.5")
        );
        // An unreadable hop stops at the proxy that wrote it.
        let c = client_of(ip("10.1.2.3"), &xff("garbage"), &trusted);
        assert_eq!(
            c,
            ClientAddr {
                ip: ip("10.1.2.3"),
                local: false
            }
        );
    }

    #[test]
    fn forwarded_wins_and_knows_ports_brackets_and_quotes() {
        let trusted = nets(&["127.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=192.0.2.60:80",
            ),
            ("x-forwarded-for", "203.0.113.99"),
        ]);
        assert_eq!(
            client_of(ip("127.0.0.1"), &h, &trusted).ip,
            ip("192.0.2.60")
        );
        let h = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\"")]);
        assert_eq!(
            client_of(ip("127.0.0.1"), &h, &trusted).ip,
            ip("2001:db8::7")
        );
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_of(ip("127.0.0.1"), &h, &trusted).ip, ip("127.0.0.1"));
    }

    #[test]
    fn only_unforwarded_loopback_is_local() {
        let trusted = nets(&["127.0.0.0/8", "::1/128"]);
        assert!(client_of(ip("127.0.0.1"), &HeaderMap::new(), &trusted).local);
        assert!(client_of(ip("::ffff:127.0.0.1"), &HeaderMap::new(), &trusted).local);
        let h = headers(&[("x-forwarded-for", "127.0.0.1")]);
        assert!(!client_of(ip("127.0.0.1"), &h, &trusted).local);
        // Not trusted to say for whom, a local proxy's requests are still not local.
        assert!(client_of(ip("127.0.0.1"), &HeaderMap::new(), &[]).local);
        assert!(!client_of(ip("127.0.0.1"), &h, &[]).local);
        assert!(!client_of(ip("192.0.2.1"), &HeaderMap::new(), &trusted).local);
    }
}
