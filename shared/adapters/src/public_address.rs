//! `PublicAddressesOnly`: a reqwest DNS resolver that refuses any answer holding an address that is not public
//! (`sluice_core::notify::is_public_ip`), shared by the webhook client, the web search providers and the web fetch client.
//!
//! The client connects to the addresses returned here, so the check and the connection see the same answer: a
//! name that answers a public address to a check and `127.0.0.1` to the connection (DNS rebinding) gets no second
//! answer. A literal IP in a URL is not resolved; its owner checks it before sending (and on each redirect).

use std::net::{IpAddr, SocketAddr};

use sluice_core::notify::is_public_ip;

/// The system resolver's answer, refused whole if any address is not public (or if there is none). `purpose`
/// names the client in the refusal ("webhook host ... resolves to ...").
#[derive(Debug, Clone, Copy)]
pub struct PublicAddressesOnly {
    purpose: &'static str,
}

impl PublicAddressesOnly {
    /// The webhook client's resolver.
    pub const WEBHOOK: Self = Self { purpose: "webhook" };
    /// The web search providers' resolver.
    pub const SEARCH: Self = Self {
        purpose: "search provider",
    };
    /// The web fetch client's resolver (pages the model asks for).
    pub const FETCH: Self = Self {
        purpose: "web fetch",
    };
}

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let purpose = self.purpose;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs = public_only(purpose, &host, addrs)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `addrs` if every one is public and there is at least one.
pub(crate) fn public_only(
    purpose: &'static str,
    host: &str,
    addrs: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, PrivateAddress> {
    if let Some(private) = addrs.iter().find(|a| !is_public_ip(a.ip())) {
        return Err(PrivateAddress {
            purpose,
            host: host.to_owned(),
            ip: Some(private.ip()),
        });
    }
    if addrs.is_empty() {
        return Err(PrivateAddress {
            purpose,
            host: host.to_owned(),
            ip: None,
        });
    }
    Ok(addrs)
}

/// A host that resolves to an address its client may not reach (or to none).
#[derive(Debug, thiserror::Error)]
#[error("{purpose} host {host} resolves to {}, not a public address", ip.map_or_else(|| "no address".to_owned(), |ip| ip.to_string()))]
pub(crate) struct PrivateAddress {
    purpose: &'static str,
    host: String,
    pub(crate) ip: Option<IpAddr>,
}

/// Whether the cause of `err` is [`PublicAddressesOnly`] refusing a host's addresses.
pub(crate) fn refused_address(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(cause) = source {
        if cause.is::<PrivateAddress>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// `err` and its causes, `: `-separated.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    #[tokio::test]
    async fn the_search_resolver_refuses_loopback_and_says_whose_host_it_was() {
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        let err = match PublicAddressesOnly::SEARCH.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(refused_address(err.as_ref()), "{err}");
        assert!(
            err.to_string()
                .starts_with("search provider host localhost resolves to "),
            "{err}"
        );
    }
}
