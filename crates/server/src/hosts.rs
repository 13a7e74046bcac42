//! Which `Host` headers the server answers: a defence against DNS rebinding.
//!
//! A web page on an attacker's site can make a victim's browser send requests to the
//! attacker's own host name after pointing that name at 127.0.0.1 (or at a steppe server
//! on the victim's network). The browser then treats steppe's answers as the attacker's
//! same-origin responses, so the page could read and change everything. Such requests carry
//! the attacker's name in `Host`. So steppe answers only requests whose `Host` names it:
//! `localhost`, an IP address (a page loaded from an IP address is steppe's own origin, so
//! rebinding cannot produce one), or a name given with `--allowed-host` (`*` turns the check
//! off, behind a proxy that checks it). The port is not looked at, nor AWS SDKs' `sync-`
//! host prefix. A request without `Host` (HTTP/1.0) does not come from a browser and is
//! answered.

use std::net::IpAddr;

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// Names given with `--allowed-host`, lower case, without a trailing dot.
    allowed: Vec<String>,
    /// Whether `*` was given.
    any: bool,
}

impl Hosts {
    /// The names `--allowed-host` gave, besides `localhost` and IP addresses.
    pub fn new(allowed: &[String]) -> Hosts {
        Hosts {
            any: allowed.iter().any(|name| name == "*"),
            allowed: allowed.iter().map(|name| normalized(name)).collect(),
        }
    }

    /// Whether a request with this `Host` header value is answered.
    pub fn permits(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let name = normalized(name_of(host));
        let name = name.strip_prefix("sync-").unwrap_or(&name);
        name == "localhost"
            || name.parse::<IpAddr>().is_ok()
            || self.allowed.iter().any(|allowed| allowed == name)
    }
}

/// The host part of a `Host` value: without the port, and without an IPv6 address's brackets.
fn name_of(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(address, _)| address);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn normalized(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_and_ip_addresses_are_answered_with_any_port() {
        let hosts = Hosts::new(&[]);
        for host in [
            "localhost",
            "localhost:8083",
            "LOCALHOST.:8083",
            "127.0.0.1:8083",
            "10.1.2.3",
            "[::1]:8083",
            "[fe80::1]",
            "sync-localhost:8083",
        ] {
            assert!(hosts.permits(host), "{host}");
        }
    }

    #[test]
    fn other_names_are_refused_unless_allowed() {
        let hosts = Hosts::new(&[]);
        for host in [
            "attacker.example:8083",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "sync-attacker.example",
            "",
        ] {
            assert!(!hosts.permits(host), "{host}");
        }
        let hosts = Hosts::new(&["Steppe.Internal.".to_string()]);
        assert!(hosts.permits("steppe.internal:443"));
        assert!(hosts.permits("sync-steppe.internal"));
        assert!(!hosts.permits("other.internal"));
        assert!(Hosts::new(&["*".to_string()]).permits("anything.example"));
    }
}
