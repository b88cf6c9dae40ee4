//! Where a webhook may point. A webhook URL is chosen by an admin, but the request is made from inside the
//! deployment: aimed at `169.254.169.254` it would read the instance metadata service, at `127.0.0.1:9001` the
//! Lambda runtime API, at a private address whatever the VPC reaches (SSRF). So a webhook is HTTPS to a public
//! address, checked twice: here on the URL when it is configured (a literal IP, `localhost`), and by the
//! delivering adapter on every address the host name resolves to, the one it then connects to (DNS rebinding).
//!
//! [`WebhookPolicy::AllowPrivate`] lifts both checks, and allows plain HTTP, for tests and local development
//! with a receiver on loopback; it is off unless turned on explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::destination::DestinationError;

/// Which webhook targets are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookPolicy {
    /// HTTPS to public addresses only: every deployment.
    #[default]
    PublicHttps,
    /// Also plain HTTP and loopback, private and link-local targets: tests and local development only
    /// (`SLUICE_ALLOW_PRIVATE_WEBHOOKS=true`).
    AllowPrivate,
}

impl WebhookPolicy {
    /// Whether private targets (and plain HTTP) are allowed.
    #[must_use]
    pub const fn allows_private(self) -> bool {
        matches!(self, Self::AllowPrivate)
    }
}

/// The webhook URL, parsed, if `policy` allows it.
///
/// Refused under [`WebhookPolicy::PublicHttps`]: another scheme than `https`; a user name or password (`@` before
/// the host) and a backslash, which parsers read differently (`http://evil\@127.0.0.1/` is host `evil` to the
/// WHATWG parser and `127.0.0.1` to others), and control characters or spaces, which the parser silently drops;
/// `localhost` and `*.localhost`; a literal IP that is not public ([`is_public_ip`]), in any spelling the parser
/// accepts (`https://2130706433/` is `127.0.0.1`, `[::ffff:127.0.0.1]` too). A host name that resolves to a
/// private address passes here: the adapter checks the addresses at delivery.
///
/// # Errors
/// `MalformedUrl`, `AmbiguousAuthority`, `InsecureWebhook` or `PrivateTarget`.
pub fn webhook_url_allowed(url: &str, policy: WebhookPolicy) -> Result<Url, DestinationError> {
    let malformed = || DestinationError::MalformedUrl(url.to_owned());
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(malformed());
    }
    let authority = url
        .split_once("://")
        .ok_or_else(malformed)?
        .1
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.is_empty() {
        // `https:///path` would otherwise be read as host `path`.
        return Err(malformed());
    }
    if url.contains('\\') || authority.contains('@') {
        return Err(DestinationError::AmbiguousAuthority(url.to_owned()));
    }
    let parsed = Url::parse(url).map_err(|_| malformed())?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allows_private() => {}
        "http" => return Err(DestinationError::InsecureWebhook(url.to_owned())),
        _ => return Err(malformed()),
    }
    let public = match parsed.host() {
        None => return Err(malformed()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            if name.is_empty() {
                return Err(malformed());
            }
            name != "localhost" && !name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_public_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_public_ip(IpAddr::V6(ip)),
    };
    if public || policy.allows_private() {
        Ok(parsed)
    } else {
        Err(DestinationError::PrivateTarget(url.to_owned()))
    }
}

/// Whether a webhook may connect to `ip`: not unspecified, loopback, private (RFC 1918), shared (CGNAT
/// `100.64.0.0/10`), link-local (the metadata service `169.254.169.254`), unique-local IPv6 (`fd00:ec2::254`),
/// multicast, broadcast, reserved or documentation ranges, nor an IPv6 form that carries such an IPv4 address
/// (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`).
#[must_use]
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0
        || a == 10
        || (a == 100 && b & 0xc0 == 64) // shared address space (CGNAT)
        || a == 127
        || (a == 169 && b == 254) // link-local: instance metadata, Amazon DNS
        || (a == 172 && b & 0xf0 == 16)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF protocol assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && b & 0xfe == 18) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match s {
        // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64: the IPv4 address it stands for decides
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 6to4: likewise
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        [first, second, ..] => {
            let local_nat64 = first == 0x64 && second == 0xff9b;
            let discard = first == 0x100 && s[1..4] == [0, 0, 0];
            let teredo = first == 0x2001 && second == 0;
            let documentation = first == 0x2001 && second == 0xdb8;
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_or_site_local = first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0;
            let multicast = first & 0xff00 == 0xff00;
            !(local_nat64
                || discard
                || teredo
                || documentation
                || unique_local
                || link_or_site_local
                || multicast)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: WebhookPolicy = WebhookPolicy::PublicHttps;

    fn refused(url: &str) -> DestinationError {
        webhook_url_allowed(url, STRICT).expect_err(url)
    }

    #[test]
    fn https_to_a_public_host_is_allowed() {
        for url in [
            "https://hooks.example.com/sluice",
            "HTTPS://Hooks.Example.com:8443/x?y=1",
            "https://93.184.215.14/hook",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
        ] {
            assert!(webhook_url_allowed(url, STRICT).is_ok(), "{url}");
        }
    }

    #[test]
    fn userinfo_and_backslash_tricks_are_refused() {
        for url in [
            "http://evil\\@127.0.0.1/",
            "https://evil\\@127.0.0.1/",
            "https://hooks.example.com\\@127.0.0.1/",
            "https://user:pass@hooks.example.com/",
            "https://@hooks.example.com/",
            "https://localhost@hooks.example.com/",
            "https://hooks.example.com@169.254.169.254/",
        ] {
            assert_eq!(
                refused(url),
                DestinationError::AmbiguousAuthority(url.to_owned()),
                "{url}"
            );
        }
        for url in [
            "https://127.0.0.\n1/",
            "https://hooks.example.com\t/",
            " https://hooks.example.com/",
        ] {
            assert!(
                matches!(refused(url), DestinationError::MalformedUrl(_)),
                "{url:?}"
            );
        }
    }

    #[test]
    fn loopback_link_local_and_private_targets_are_refused_in_every_spelling() {
        for url in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://0.0.0.0/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[ff02::1]/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
        ] {
            assert_eq!(
                refused(url),
                DestinationError::PrivateTarget(url.to_owned()),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_http_is_refused_even_to_a_public_host() {
        for url in ["http://hooks.example.com/x", "http://127.0.0.1:9001/"] {
            assert_eq!(
                refused(url),
                DestinationError::InsecureWebhook(url.to_owned())
            );
        }
        for url in [
            "ftp://example.com",
            "file:///etc/passwd",
            "hooks.example.com",
            "https:///path",
        ] {
            assert!(
                matches!(refused(url), DestinationError::MalformedUrl(_)),
                "{url}"
            );
        }
    }

    #[test]
    fn the_test_setting_allows_loopback_and_plain_http_but_not_tricks() {
        let allow = WebhookPolicy::AllowPrivate;
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9000/",
            "https://10.0.0.1/",
        ] {
            assert!(webhook_url_allowed(url, allow).is_ok(), "{url}");
        }
        assert!(matches!(
            webhook_url_allowed("http://evil\\@127.0.0.1/", allow),
            Err(DestinationError::AmbiguousAuthority(_))
        ));
        assert!(matches!(
            webhook_url_allowed("file:///etc/passwd", allow),
            Err(DestinationError::MalformedUrl(_))
        ));
        assert_eq!(WebhookPolicy::default(), STRICT);
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public_ip(ip.parse().expect("ip")), "{ip}");
        }
    }
}
