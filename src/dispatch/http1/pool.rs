//! Idle connections per receiver origin, and each target URL parsed once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use base64::Engine;
use percent_encoding::percent_decode_str;
use url::{Host, Position, Url};

use super::stream::Stream;

/// Parsed URLs kept at most; past it the cache starts over (URLs edited many times).
const MAX_ENDPOINTS: usize = 10_000;

/// A target URL, parsed: where to connect and what the request line and `Host` say.
#[derive(Debug)]
pub struct Endpoint {
    /// Connections are shared by every URL with the same scheme, host and port.
    pub origin: Arc<str>,
    pub host: Host<String>,
    pub port: u16,
    pub tls: bool,
    pub host_header: String,
    pub path_and_query: String,
    /// `Basic …` from the URL's user and password, as browsers and reqwest send them.
    pub authorization: Option<String>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let parsed = Url::parse(url).map_err(|e| format!("the URL is invalid: {e}"))?;
        let tls = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("`{other}` URLs cannot be sent to")),
        };
        let host = parsed.host().ok_or("the URL has no host")?.to_owned();
        let port = parsed
            .port_or_known_default()
            .ok_or("the URL has no port")?;
        let host_header = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let authorization = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, password) => {
                let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
                let pair = format!("{}:{}", decode(user), decode(password.unwrap_or("")));
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
        };
        Ok(Endpoint {
            origin: format!("{}://{host_header}", parsed.scheme()).into(),
            host,
            port,
            tls,
            host_header,
            path_and_query: parsed[Position::BeforePath..Position::AfterQuery].to_string(),
            authorization,
        })
    }
}

struct Idle {
    stream: Stream,
    since: Instant,
}

/// One origin's connections.
#[derive(Default)]
struct Origin {
    /// Most recently used at the back: taken from there, expired from the front.
    idle: VecDeque<Idle>,
    /// Sends waiting for a new connection, which take a connection coming back first.
    waiting: VecDeque<(u64, oneshot::Sender<Stream>)>,
}

#[derive(Default)]
struct Inner {
    endpoints: HashMap<String, Arc<Endpoint>>,
    origins: HashMap<Arc<str>, Origin>,
    /// Idle connections to every origin together.
    idle: usize,
    next_waiter: u64,
}

pub struct Pool {
    inner: Mutex<Inner>,
    /// Idle connections kept at most, to all origins together: beyond it one is closed.
    max_idle: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Self {
        Pool {
            inner: Mutex::new(Inner::default()),
            max_idle,
            idle_timeout,
        }
    }

    /// Closes the idle connections past the idle timeout and forgets the origins with nothing
    /// left; run every few seconds, so an origin no longer sent to keeps no sockets.
    pub fn sweep(&self) {
        let timeout = self.idle_timeout;
        let mut inner = self.lock();
        let mut closed = 0;
        inner.origins.retain(|_, origin| {
            let before = origin.idle.len();
            origin.idle.retain(|i| i.since.elapsed() <= timeout);
            closed += before - origin.idle.len();
            origin.waiting.retain(|(_, w)| !w.is_closed());
            !(origin.idle.is_empty() && origin.waiting.is_empty())
        });
        inner.idle -= closed;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing in the pool is left half-changed by a panic: the map is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Idle connections in all and origins known, for tests.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.idle, inner.origins.len())
    }

    pub fn endpoint(&self, url: &str) -> Result<Arc<Endpoint>, String> {
        if let Some(endpoint) = self.lock().endpoints.get(url) {
            return Ok(endpoint.clone());
        }
        let endpoint = Arc::new(Endpoint::parse(url)?);
        let mut inner = self.lock();
        if inner.endpoints.len() >= MAX_ENDPOINTS {
            inner.endpoints.clear();
        }
        inner.endpoints.insert(url.to_string(), endpoint.clone());
        Ok(endpoint)
    }

    /// The most recently used idle connection to `origin` that is still open.
    pub fn take(&self, origin: &str) -> Option<Stream> {
        loop {
            let idle = {
                let mut guard = self.lock();
                let inner = &mut *guard;
                let queue = &mut inner.origins.get_mut(origin)?.idle;
                let idle = queue.pop_back()?;
                inner.idle -= 1;
                if idle.since.elapsed() > self.idle_timeout {
                    // The newest is too old, so are all the others.
                    inner.idle -= queue.len();
                    queue.clear();
                    return None;
                }
                idle
            };
            if idle.stream.idle_and_open() {
                return Some(idle.stream);
            }
        }
    }

    /// Keeps a connection that finished a request cleanly (or was opened for a send that no
    /// longer needs it): to a send waiting for a new connection first, else for the next one.
    pub fn put(&self, origin: &Arc<str>, mut stream: Stream) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let entry = inner.origins.entry(origin.clone()).or_default();
        while let Some((_, waiter)) = entry.waiting.pop_front() {
            match waiter.send(stream) {
                Ok(()) => return,
                Err(back) => stream = back,
            }
        }
        let queue = &mut entry.idle;
        while queue
            .front()
            .is_some_and(|i| i.since.elapsed() > self.idle_timeout)
        {
            queue.pop_front();
            inner.idle -= 1;
        }
        if inner.idle >= self.max_idle {
            // Full: this one is closed (dropped) rather than kept.
            return;
        }
        queue.push_back(Idle {
            stream,
            since: Instant::now(),
        });
        inner.idle += 1;
    }

    /// Registers a send about to open a connection: a connection put back meanwhile is handed
    /// to it. [`Pool::stop_waiting`] withdraws it.
    pub fn wait(&self, origin: &Arc<str>) -> (u64, oneshot::Receiver<Stream>) {
        let (sender, receiver) = oneshot::channel();
        let mut inner = self.lock();
        inner.next_waiter += 1;
        let id = inner.next_waiter;
        let waiting = &mut inner.origins.entry(origin.clone()).or_default().waiting;
        // Sends that gave up (timed out) left their places behind.
        waiting.retain(|(_, w)| !w.is_closed());
        waiting.push_back((id, sender));
        (id, receiver)
    }

    pub fn stop_waiting(&self, origin: &str, id: u64) {
        if let Some(entry) = self.lock().origins.get_mut(origin) {
            entry.waiting.retain(|(w, _)| *w != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_origin_host_header_path_and_credentials() {
        let e = Endpoint::parse("https://Shop.Example.com/hooks/lc?x=1").expect("valid");
        assert_eq!(&*e.origin, "https://shop.example.com");
        assert_eq!((e.port, e.tls), (443, true));
        assert_eq!(e.host_header, "shop.example.com");
        assert_eq!(e.path_and_query, "/hooks/lc?x=1");
        assert_eq!(e.authorization, None);

        let e = Endpoint::parse("http://us%40r:p%3Ass@127.0.0.1:9000").expect("valid");
        assert_eq!(&*e.origin, "http://127.0.0.1:9000");
        assert_eq!(e.host_header, "127.0.0.1:9000");
        assert_eq!(e.path_and_query, "/");
        // base64("us@r:p:ss")
        assert_eq!(e.authorization.as_deref(), Some("Basic dXNAcjpwOnNz"));

        let e = Endpoint::parse("http://[::1]:8080/a").expect("valid");
        assert_eq!(e.host_header, "[::1]:8080");
        assert!(Endpoint::parse("ftp://example.com/").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }
}
