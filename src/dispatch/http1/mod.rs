//! The webhook sends' HTTP/1.1 client: one POST, its answer's status, `Retry-After` and first
//! bytes, over pooled keep-alive connections, plain or TLS.
//!
//! Why not reqwest: a send waiting on a slow receiver held about 40 KiB inside hyper (a request
//! channel block, 8 KiB write and read buffers per connection, boxed futures), none of it
//! settable, and a 200 ms receiver at full rate holds thousands of sends. Here an idle
//! connection holds its socket only and a send in flight its request bytes and a small read
//! buffer. Parsing is `httparse`'s (hyper's parser), TLS is rustls with the Mozilla roots, as
//! reqwest had it; HTTP/2 is not offered.

mod connect;
mod pool;
mod response;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, AUTHORIZATION, USER_AGENT};
use rustls::pki_types::CertificateDer;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

use super::guard::TargetPolicy;
use connect::Connector;
use pool::{Endpoint, Pool};
use response::ReadError;
pub use response::Response;
use stream::Stream;

/// How long an idle connection is kept for the next send (reqwest's default, too).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often idle connections past [`IDLE_TIMEOUT`] are closed.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Why a send got no answer; the prefixes are the delivery log's (and the concurrency limit
/// reads "timed out" and "connection failed" as a receiver in trouble).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("blocked: {0}")]
    Blocked(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("reading the response failed: {0}")]
    Response(String),
}

pub struct Client {
    pool: Arc<Pool>,
    connector: Connector,
    user_agent: &'static str,
}

impl Client {
    /// `extra_roots` are trusted besides the Mozilla roots (tests' own certificates). On a
    /// runtime, a task closes expired idle connections until the client is dropped.
    pub fn new(
        policy: Arc<TargetPolicy>,
        connect_timeout: Duration,
        max_idle: usize,
        user_agent: &'static str,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, rustls::Error> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for root in extra_roots {
            roots.add(root)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let pool = Arc::new(Pool::new(max_idle, IDLE_TIMEOUT));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pool = Arc::downgrade(&pool);
            runtime.spawn(async move {
                let mut every = tokio::time::interval(SWEEP_EVERY);
                every.tick().await;
                loop {
                    every.tick().await;
                    match pool.upgrade() {
                        Some(pool) => pool.sweep(),
                        None => return,
                    }
                }
            });
        }
        Ok(Client {
            pool,
            connector: Connector {
                policy,
                tls: TlsConnector::from(Arc::new(config)),
                timeout: connect_timeout,
            },
            user_agent,
        })
    }

    /// POSTs `body` to `url`, keeping the answer's first `keep` bytes. A pooled connection the
    /// receiver closed while idle is noticed by silence and the request sent once more on a new
    /// one; every other failure is the caller's to retry.
    pub async fn post(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
        keep: usize,
    ) -> Result<Response, Error> {
        let endpoint = self.pool.endpoint(url).map_err(Error::Request)?;
        let request = self.request(&endpoint, headers, body);
        if let Some(stream) = self.pool.take(&endpoint.origin) {
            match self.exchange(&endpoint, stream, &request, keep).await {
                Err(Failed::Silent(_)) => {}
                done => return done.map_err(Failed::into_error),
            }
        }
        let stream = self.fresh(&endpoint).await?;
        self.exchange(&endpoint, stream, &request, keep)
            .await
            .map_err(Failed::into_error)
    }

    /// A connection for a send that found none idle: a new one, or one another send puts back
    /// first, as hyper's pool does. A burst of new connections can overflow a receiver's accept
    /// queue, and a dropped SYN is retried only after a second; a connection freed meanwhile
    /// carries the send instead, and the new one, when it comes, is kept for the next.
    async fn fresh(&self, endpoint: &Arc<Endpoint>) -> Result<Stream, Error> {
        let (id, mut handed) = self.pool.wait(&endpoint.origin);
        let (done, mut connected) = oneshot::channel();
        let (connector, pool, target) =
            (self.connector.clone(), self.pool.clone(), endpoint.clone());
        tokio::spawn(async move {
            let result = connector.connect(&target).await;
            // The send took another connection, or gave up: keep this one.
            if let Err(Ok(stream)) = done.send(result) {
                pool.put(&target.origin, stream);
            }
        });
        tokio::select! {
            biased;
            Ok(stream) = &mut handed => {
                connected.close();
                if let Ok(Ok(new)) = connected.try_recv() {
                    self.pool.put(&endpoint.origin, new);
                }
                Ok(stream)
            }
            result = &mut connected => {
                self.pool.stop_waiting(&endpoint.origin, id);
                handed.close();
                if let Ok(stream) = handed.try_recv() {
                    self.pool.put(&endpoint.origin, stream);
                }
                result.unwrap_or_else(|_| Err(Error::Connect("the connection attempt stopped".into())))
            }
        }
    }

    /// The request's bytes: request line, `Host`, the headers, `Content-Length`, the body.
    fn request(&self, endpoint: &Endpoint, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + headers.len() * 64 + body.len());
        out.extend_from_slice(b"POST ");
        out.extend_from_slice(endpoint.path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(endpoint.host_header.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut line = |name: &[u8], value: &[u8]| {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        for (name, value) in headers {
            line(name.as_str().as_bytes(), value.as_bytes());
        }
        if let Some(basic) = &endpoint.authorization {
            if !headers.contains_key(AUTHORIZATION) {
                line(b"authorization", basic.as_bytes());
            }
        }
        if !headers.contains_key(USER_AGENT) {
            line(b"user-agent", self.user_agent.as_bytes());
        }
        line(b"content-length", body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    async fn exchange(
        &self,
        endpoint: &Endpoint,
        mut stream: Stream,
        request: &[u8],
        keep: usize,
    ) -> Result<Response, Failed> {
        if let Err(e) = write(&mut stream, request).await {
            return Err(Failed::Silent(e.to_string()));
        }
        match response::read(&mut stream, keep).await {
            Ok((response, reusable)) => {
                if reusable {
                    self.pool.put(&endpoint.origin, stream);
                }
                Ok(response)
            }
            Err(ReadError::Silent(e)) => Err(Failed::Silent(e)),
            Err(ReadError::Head(e)) => Err(Failed::Other(Error::Request(e))),
            Err(ReadError::Body(e)) => Err(Failed::Other(Error::Response(e))),
        }
    }
}

/// How an exchange failed: `Silent` when nothing came back (the request may be sent again on a
/// fresh connection if this one was an idle one).
enum Failed {
    Silent(String),
    Other(Error),
}

impl Failed {
    fn into_error(self) -> Error {
        match self {
            Failed::Silent(e) => Error::Request(e),
            Failed::Other(e) => e,
        }
    }
}

async fn write(stream: &mut Stream, request: &[u8]) -> std::io::Result<()> {
    stream.write_all(request).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests;
