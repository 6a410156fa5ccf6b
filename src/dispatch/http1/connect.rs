//! Opening a connection: the guard's addresses, TCP, then TLS for `https`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Host;

use super::pool::Endpoint;
use super::stream::Stream;
use super::Error;
use crate::dispatch::guard::{self, TargetPolicy};

/// Everything a connection attempt needs, cheap to clone into a task of its own.
#[derive(Clone)]
pub struct Connector {
    pub policy: Arc<TargetPolicy>,
    pub tls: TlsConnector,
    pub timeout: Duration,
}

impl Connector {
    /// A new connection to one of the endpoint's addresses the policy allows, the name's
    /// lookup included, within the connect timeout.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Stream, Error> {
        tokio::time::timeout(self.timeout, self.open(endpoint))
            .await
            .map_err(|_| Error::Connect("timed out".into()))?
    }

    async fn open(&self, endpoint: &Endpoint) -> Result<Stream, Error> {
        let addresses = match &endpoint.host {
            Host::Ipv4(ip) => self.literal(IpAddr::V4(*ip), endpoint.port)?,
            Host::Ipv6(ip) => self.literal(IpAddr::V6(*ip), endpoint.port)?,
            Host::Domain(name) => guard::resolve(&self.policy, name, endpoint.port)
                .await
                .map_err(|e| match e {
                    guard::Unresolved::Blocked(why) => Error::Blocked(why),
                    guard::Unresolved::Lookup(why) => Error::Connect(why),
                })?,
        };
        let tcp = first_to_answer(addresses, self.timeout).await?;
        // The request goes out in one write; waiting to coalesce it only adds latency.
        tcp.set_nodelay(true)
            .map_err(|e| Error::Connect(e.to_string()))?;
        if !endpoint.tls {
            return Ok(Stream::Tcp(tcp));
        }
        let name = match &endpoint.host {
            Host::Domain(name) => ServerName::try_from(name.clone())
                .map_err(|e| Error::Connect(format!("TLS: {e}")))?,
            Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
            Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
        };
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Connect(format!("TLS: {e}")))?;
        Ok(Stream::Tls(Box::new(tls)))
    }

    fn literal(&self, ip: IpAddr, port: u16) -> Result<Vec<SocketAddr>, Error> {
        match self.policy.refusal(ip) {
            Some(why) => Err(Error::Blocked(why)),
            None => Ok(vec![SocketAddr::new(ip, port)]),
        }
    }
}

/// Tries the addresses in turn, each with its share of `budget` (an address that drops packets
/// must not take the others' time); the last failure when none connects.
async fn first_to_answer(addresses: Vec<SocketAddr>, budget: Duration) -> Result<TcpStream, Error> {
    let share = budget / u32::try_from(addresses.len().max(1)).unwrap_or(u32::MAX);
    let mut last = String::from("no address to connect to");
    for address in addresses {
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("{address} timed out"),
        }
    }
    Err(Error::Connect(last))
}
