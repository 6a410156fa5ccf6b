//! The SSRF guard: which addresses webhooks may reach. A URL's literal address is checked when
//! it is registered and before each send; a hostname is checked on every address it resolves
//! to, each time the sender connects, so DNS rebinding cannot slip past.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::Host;

use crate::domain::{Invalid, Problem};

/// Which addresses are refused: some always, private ranges when asked, minus the exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    block_private: bool,
    allow: Vec<IpNet>,
}

impl TargetPolicy {
    /// `allow` makes exceptions to the private ranges only: metadata and link-local addresses
    /// stay refused whatever it says.
    pub fn new(block_private: bool, allow: Vec<IpNet>) -> Self {
        TargetPolicy {
            block_private,
            allow,
        }
    }

    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let ip = canonical(ip);
        if let Some(why) = always_refused(ip) {
            return Some(format!("{ip} is {why}, which webhooks are never sent to"));
        }
        let why = private(ip)?;
        if !self.block_private || self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        Some(format!(
            "{ip} is {why} and private targets are blocked (--block-private-targets); \
             --allow-targets can make an exception"
        ))
    }

    /// Why the URL's host, when it is a literal address, may not be reached. Hostnames are
    /// checked when connecting.
    pub fn url_refusal(&self, url: &str) -> Option<String> {
        let parsed = url::Url::parse(url).ok()?;
        let ip = match parsed.host()? {
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
            Host::Domain(_) => return None,
        };
        self.refusal(ip)
    }

    /// A registration's check: a literal refused address is a `blocked_url`.
    pub fn check_url(&self, url: &str) -> Result<(), Invalid> {
        match self.url_refusal(url) {
            Some(why) => Err(Invalid::new(
                Problem::BlockedUrl,
                format!("url points at a refused address: {why}"),
            )),
            None => Ok(()),
        }
    }
}

/// An IPv4 address written inside IPv6 is judged as the IPv4 address it reaches: mapped
/// `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d` and `64:ff9b:1::/48`, 6to4 `2002:aabb:ccdd::/16`.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    };
    let compatible = s[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback();
    let translated = s[..6] == [0, 0, 0, 0, 0xffff, 0];
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1];
    if compatible || translated || nat64 {
        v4(s[6], s[7])
    } else if s[0] == 0x2002 {
        v4(s[1], s[2])
    } else {
        ip
    }
}

/// Metadata services that answer outside link-local: Alibaba Cloud's (inside the shared range)
/// and Oracle Cloud's legacy one.
const METADATA_V4: [Ipv4Addr; 2] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];

const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

fn always_refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, ..] = v4.octets();
            if a == 0 {
                Some("an unspecified address")
            } else if v4.is_link_local() {
                Some("a link-local address (where cloud metadata services answer)")
            } else if METADATA_V4.contains(&v4) {
                Some("a cloud metadata address")
            } else if v4.is_multicast() {
                Some("a multicast address")
            } else if v4.is_broadcast() || a >= 240 {
                Some("a broadcast or reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6 == EC2_METADATA_V6 {
                Some("a cloud metadata address")
            } else if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

fn private(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared (carrier-grade NAT) address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                Some("a loopback address")
            } else if (v6.segments()[0] & 0xfe00) == 0xfc00 {
                Some("a unique local (private) address")
            } else if (v6.segments()[0] & 0xffc0) == 0xfec0 {
                Some("a site-local (private) address")
            } else {
                None
            }
        }
    }
}

/// Why a hostname gives no address to connect to.
#[derive(Debug)]
pub(super) enum Unresolved {
    /// Every address it resolves to is refused; the first refusal says why.
    Blocked(String),
    Lookup(String),
}

/// The addresses `host` resolves to that the policy allows, checked on every send so that DNS
/// rebinding cannot slip past.
pub(super) async fn resolve(
    policy: &TargetPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Unresolved> {
    let resolved = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Unresolved::Lookup(format!("{host}: {e}")))?;
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .filter(|addr| match policy.refusal(addr.ip()) {
            Some(why) => {
                refused.get_or_insert(why);
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), refused) {
        (true, Some(why)) => Err(Unresolved::Blocked(format!("{host} resolves to {why}"))),
        _ => Ok(allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &TargetPolicy, url: &str) -> bool {
        policy.check_url(url).is_err()
    }

    #[test]
    fn metadata_link_local_unspecified_and_multicast_are_always_refused_in_every_spelling() {
        let open = TargetPolicy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0251.0376.0251.0376/",
            "http://169.254.169.254./",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[::ffff:0:a9fe:a9fe]/",
            "http://[::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://100.100.100.200/latest/meta-data/",
            "http://192.0.0.192/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://0.0.0.0:8080/",
            "http://0/",
            "http://[::]/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://255.255.255.255/",
        ] {
            assert!(refused(&open, url), "{url} should be refused");
        }
    }

    #[test]
    fn private_ranges_are_refused_only_when_blocked_and_allowed_by_exception() {
        let urls = [
            "http://127.0.0.1:9000/",
            "http://2130706433/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://[fc00::1]/",
            "http://[fec0::1]/",
            "http://[2002:7f00:1::]/",
        ];
        let open = TargetPolicy::default();
        let blocked = TargetPolicy::new(true, vec![]);
        for url in urls {
            assert!(!refused(&open, url), "{url} is open by default");
            assert!(refused(&blocked, url), "{url} should be blocked");
        }
        let except = TargetPolicy::new(true, vec!["10.0.0.0/8".parse().expect("cidr")]);
        assert!(!refused(&except, "http://10.1.2.3/"));
        assert!(refused(&except, "http://192.168.1.1/"));
        let metadata = TargetPolicy::new(true, vec!["169.254.0.0/16".parse().expect("cidr")]);
        assert!(
            refused(&metadata, "http://169.254.169.254/"),
            "never allowed"
        );
    }

    #[test]
    fn public_addresses_and_hostnames_pass_the_literal_check() {
        let blocked = TargetPolicy::new(true, vec![]);
        assert!(!refused(&blocked, "https://93.184.216.34/hook"));
        assert!(!refused(&blocked, "https://[2606:2800:220:1::1]/"));
        assert!(
            !refused(&blocked, "http://localhost:9000/"),
            "checked on connect"
        );
        assert!(!refused(&blocked, "https://shop.example.com/"));
    }
}
