//! The address a request came from, for the limits that count per device
//! (client keys' request rate, failed sign-ins per address).
//!
//! Without `--trusted-proxy-header` it is the TCP peer: whatever a request
//! says about its origin is ignored, since anyone can write any header.
//! Behind a reverse proxy every request's peer is the proxy, so the operator
//! names the header the proxy writes (`X-Forwarded-For`, `X-Real-IP`,
//! `Forwarded`); then the **last** address in it counts, the one the trusted
//! proxy appended itself (`X-Forwarded-For: <what the client claimed>,
//! <the client's real address>`). A request without the header, or with
//! nothing readable in it, falls back to the peer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};

use crate::state::AppState;

/// The client's address: the peer, or the trusted proxy header's last entry
/// when one is configured and readable. `None` only where the connection
/// has no peer address (a router called without a socket).
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted_header: Option<&HeaderName>,
) -> Option<IpAddr> {
    trusted_header
        .and_then(|name| forwarded_address(headers, name))
        .or(peer)
}

/// The last address the header's last occurrence names.
fn forwarded_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?;
    parse_entry(last)
}

/// One entry: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:4711`,
/// `203.0.113.7:4711`, or RFC 7239's `for=…` (quoted or not, among other
/// parameters).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let for_parameter = entry.split(';').map(str::trim).find_map(|part| {
        let (name, value) = part.split_once('=')?;
        name.eq_ignore_ascii_case("for")
            .then(|| value.trim_matches('"'))
    });
    let node = for_parameter.unwrap_or(entry);
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

/// The client's address as an extractor (see [`client_address`]).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(of_request(parts, state)))
    }
}

/// The client's address of a request's parts under the service's settings.
pub fn of_request(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    client_address(
        &parts.headers,
        peer,
        state.config.trusted_proxy_header.as_ref(),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn the_trusted_header_last_entry_counts_and_nothing_else() {
        let xff = HeaderName::from_static("x-forwarded-for");
        let forwarded = HeaderName::from_static("forwarded");
        let peer = ip("10.0.0.1");
        for (header, values, trusted, expected) in [
            // No trusted header: the peer, whatever the request claims.
            ("x-forwarded-for", &["203.0.113.7"][..], None, "10.0.0.1"),
            // The proxy's entry is the last one; earlier ones are the client's claims.
            (
                "x-forwarded-for",
                &["203.0.113.7"][..],
                Some(&xff),
                "203.0.113.7",
            ),
            (
                "x-forwarded-for",
                &["1.1.1.1, 203.0.113.7"][..],
                Some(&xff),
                "203.0.113.7",
            ),
            (
                "x-forwarded-for",
                &["1.1.1.1", "203.0.113.8"][..],
                Some(&xff),
                "203.0.113.8",
            ),
            (
                "x-forwarded-for",
                &[" 2001:db8::1 "][..],
                Some(&xff),
                "2001:db8::1",
            ),
            (
                "x-forwarded-for",
                &["[2001:db8::2]:4711"][..],
                Some(&xff),
                "2001:db8::2",
            ),
            (
                "x-forwarded-for",
                &["203.0.113.9:4711"][..],
                Some(&xff),
                "203.0.113.9",
            ),
            // Unreadable or missing: the peer.
            ("x-forwarded-for", &["unknown"][..], Some(&xff), "10.0.0.1"),
            ("x-real-ip", &["203.0.113.7"][..], Some(&xff), "10.0.0.1"),
            // RFC 7239.
            (
                "forwarded",
                &["for=1.1.1.1, for=\"[2001:db8::3]:80\";proto=https"][..],
                Some(&forwarded),
                "2001:db8::3",
            ),
            (
                "forwarded",
                &["proto=https;For=198.51.100.2"][..],
                Some(&forwarded),
                "198.51.100.2",
            ),
        ] {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(
                    HeaderName::from_static(header),
                    HeaderValue::from_static(value),
                );
            }
            assert_eq!(
                client_address(&headers, peer, trusted),
                ip(expected),
                "{header}: {values:?} (trusted {trusted:?})"
            );
        }
        assert_eq!(client_address(&HeaderMap::new(), None, Some(&xff)), None);
    }
}
