//! Where the HTTP Task and API Gateway calls may connect: the addresses a definition's author
//! chooses, checked after name resolution, so a name that resolves to a refused address is
//! refused too.
//!
//! By default link-local addresses are refused, the cloud metadata services among them
//! (169.254.0.0/16 with 169.254.169.254, fe80::/10, and fd00:ec2::254, EC2's IPv6 metadata
//! address): a definition must not be able to read a machine's instance credentials and hand
//! them back in its output. `--http-deny` refuses more hosts or CIDR ranges, `--http-allow`
//! lets some through again. The order: a deny rule refuses; else an allow rule permits; else
//! the default ranges refuse; else the destination is permitted. Rules naming a host match
//! the URL's host name; rules naming a range match every address it resolves to.
//!
//! Lambda endpoints and AWS service endpoints are the operator's own configuration and are
//! not checked.

use ipnet::IpNet;
use std::net::IpAddr;

/// Ranges refused unless an allow rule names them.
pub const REFUSED_BY_DEFAULT: [&str; 3] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

/// Loopback and private ranges, refused too when the server checks signatures
/// ([`Destinations::refusing_private`]): a caller with a key must not reach the machine's or
/// the network's own services through a definition.
pub const PRIVATE: [&str; 6] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

/// See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Destinations {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
    refused_by_default: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Host(String),
    Range(IpNet),
}

impl Default for Destinations {
    fn default() -> Destinations {
        Destinations {
            allow: Vec::new(),
            deny: Vec::new(),
            refused_by_default: REFUSED_BY_DEFAULT
                .iter()
                .map(|range| range.parse().expect("the default ranges parse"))
                .collect(),
        }
    }
}

impl Destinations {
    /// The default policy with `allow` and `deny` rules: each a host name, an IP address or a
    /// CIDR range.
    pub fn new(allow: &[String], deny: &[String]) -> Result<Destinations, String> {
        Ok(Destinations {
            allow: allow
                .iter()
                .map(|rule| parse_rule(rule))
                .collect::<Result<_, _>>()?,
            deny: deny
                .iter()
                .map(|rule| parse_rule(rule))
                .collect::<Result<_, _>>()?,
            ..Destinations::default()
        })
    }

    /// The same policy, also refusing loopback and private ranges ([`PRIVATE`]) unless an
    /// allow rule names them.
    pub fn refusing_private(mut self) -> Destinations {
        self.refused_by_default.extend(
            PRIVATE
                .iter()
                .map(|range| range.parse::<IpNet>().expect("the private ranges parse")),
        );
        self
    }

    /// Whether a call to `host` may connect to `address`; `Err` says why not.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), String> {
        let host = normalized(host);
        let matches = |rule: &Rule| match rule {
            Rule::Host(name) => *name == host,
            Rule::Range(range) => range.contains(&address),
        };
        if self.deny.iter().any(matches) {
            return Err(format!(
                "steppe refuses to connect to {host} ({address}): --http-deny names it"
            ));
        }
        if self.allow.iter().any(matches) {
            return Ok(());
        }
        if self
            .refused_by_default
            .iter()
            .any(|range| range.contains(&address))
        {
            return Err(format!(
                "steppe refuses to connect to {host} ({address}): link-local and cloud metadata \
                 addresses (and, with --credentials, loopback and private ones) are refused \
                 unless --http-allow names them"
            ));
        }
        Ok(())
    }
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let rule = rule.trim();
    if let Ok(range) = rule.parse::<IpNet>() {
        return Ok(Rule::Range(range));
    }
    if let Ok(address) = rule.parse::<IpAddr>() {
        return Ok(Rule::Range(IpNet::from(address)));
    }
    let valid = !rule.is_empty()
        && rule
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if valid {
        Ok(Rule::Host(normalized(rule)))
    } else {
        Err(format!(
            "'{rule}' is not a host name, an IP address or a CIDR range (such as 10.0.0.0/8)"
        ))
    }
}

fn normalized(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_addresses_are_refused_by_default() {
        let destinations = Destinations::default();
        for address in ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1"] {
            let refused = destinations.check("metadata", ip(address)).unwrap_err();
            assert!(refused.contains("--http-allow"), "{refused}");
        }
        for address in ["127.0.0.1", "10.0.0.1", "93.184.216.34", "::1"] {
            assert_eq!(destinations.check("example", ip(address)), Ok(()));
        }
    }

    #[test]
    fn deny_rules_come_before_allow_rules_and_allow_rules_before_the_defaults() {
        let destinations = Destinations::new(
            &[
                "169.254.10.0/24".to_string(),
                "Internal.Example.".to_string(),
            ],
            &["10.0.0.0/8".to_string(), "169.254.10.7".to_string()],
        )
        .unwrap();
        assert_eq!(destinations.check("x", ip("169.254.10.1")), Ok(()));
        assert!(destinations.check("x", ip("169.254.10.7")).is_err());
        assert!(destinations.check("x", ip("169.254.169.254")).is_err());
        assert!(destinations.check("x", ip("10.1.2.3")).is_err());
        // A host rule matches the URL's name, whatever it resolves to.
        assert_eq!(
            destinations.check("internal.example", ip("169.254.169.254")),
            Ok(())
        );
        assert!(Destinations::new(&["not a host/8".to_string()], &[]).is_err());
    }

    #[test]
    fn with_credentials_loopback_and_private_ranges_are_refused_unless_allowed() {
        let destinations = Destinations::new(&["10.1.0.0/16".to_string()], &[])
            .unwrap()
            .refusing_private();
        for address in [
            "127.0.0.1",
            "::1",
            "10.2.0.1",
            "172.20.1.1",
            "192.168.1.1",
            "fd12::1",
        ] {
            assert!(destinations.check("x", ip(address)).is_err(), "{address}");
        }
        assert_eq!(destinations.check("x", ip("10.1.2.3")), Ok(()));
        assert_eq!(destinations.check("x", ip("93.184.216.34")), Ok(()));
    }
}
