//! The client against real loopback servers: raw TCP ones that say exactly what a test needs,
//! and a TLS one with a certificate made for the test by `openssl`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::header::{HeaderValue, CONTENT_TYPE};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn client(policy: TargetPolicy, roots: Vec<CertificateDer<'static>>) -> Client {
    Client::new(Arc::new(policy), 5 * SECOND, 16, "test-agent/1", roots).expect("a client")
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("webhook-id", HeaderValue::from_static("d1"));
    h
}

/// Reads one request (head and `Content-Length` body) and returns it as text.
async fn read_request<S: AsyncRead + Unpin>(io: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if io.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    io.read_exact(&mut body).await.ok()?;
    buf.extend(body);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// How a test server treats the requests on each connection.
#[derive(Clone, Copy)]
enum Manner {
    /// Answers each and keeps the connection.
    Keep,
    /// Answers the first and closes the connection without saying so.
    CloseAfterAnswer,
    /// Answers the first and drops the connection on the second, unanswered.
    AnswerOnlyTheFirst,
    /// Reads a request and drops the connection unanswered.
    DropUnanswered,
}

/// A server that answers requests with `answer` in its `manner`. It counts connections and keeps
/// the requests it saw.
struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    async fn start(answer: &'static str, manner: Manner) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks?x=1", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut answered = 0;
                    while let Some(request) = read_request(&mut socket).await {
                        r.lock().expect("lock").push(request);
                        match manner {
                            Manner::DropUnanswered => return,
                            Manner::AnswerOnlyTheFirst if answered > 0 => return,
                            _ => {}
                        }
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        answered += 1;
                        if matches!(manner, Manner::CloseAfterAnswer) {
                            return;
                        }
                    }
                });
            }
        });
        Server {
            url,
            connections,
            requests,
        }
    }

    fn requests(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nreceived";

#[tokio::test]
async fn the_request_carries_host_headers_length_body_and_the_urls_credentials() {
    let server = Server::start(OK, Manner::Keep).await;
    let url = server.url.replace("http://", "http://user:p%40ss@");
    let response = client(TargetPolicy::default(), vec![])
        .post(&url, &headers(), b"{\"a\":1}", 4096)
        .await
        .expect("an answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"received");
    let requests = server.requests.lock().expect("lock").clone();
    let request = &requests[0];
    let host = server.url.trim_start_matches("http://").split('/').next();
    assert!(
        request.starts_with("POST /hooks?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&format!("host: {}\r\n", host.expect("host"))));
    assert!(request.contains("content-type: application/json\r\n"));
    assert!(request.contains("webhook-id: d1\r\n"));
    assert!(request.contains("user-agent: test-agent/1\r\n"));
    // base64("user:p@ss")
    assert!(request.contains("authorization: Basic dXNlcjpwQHNz\r\n"));
    assert!(
        request.ends_with("content-length: 7\r\n\r\n{\"a\":1}"),
        "{request}"
    );
}

#[tokio::test]
async fn one_connection_carries_one_send_after_another() {
    let server = Server::start(OK, Manner::Keep).await;
    let client = client(TargetPolicy::default(), vec![]);
    for _ in 0..5 {
        let r = client.post(&server.url, &headers(), b"{}", 4096).await;
        assert_eq!(r.expect("an answer").status, 200);
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_connection_the_receiver_closed_while_idle_is_replaced_without_an_error() {
    let server = Server::start(OK, Manner::CloseAfterAnswer).await;
    let client = client(TargetPolicy::default(), vec![]);
    for _ in 0..3 {
        // The close may or may not have reached the pool before the next send: either way the
        // send gets its answer.
        let r = client.post(&server.url, &headers(), b"{}", 4096).await;
        assert_eq!(r.expect("an answer").status, 200);
        tokio::task::yield_now().await;
    }
    assert_eq!(server.connections(), 3);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_reused_connection_that_dies_unanswered_is_retried_once_on_a_new_one() {
    // What a receiver closing an idle connection looks like when the close crosses the next
    // request.
    let server = Server::start(OK, Manner::AnswerOnlyTheFirst).await;
    let client = client(TargetPolicy::default(), vec![]);
    for _ in 0..2 {
        let r = client.post(&server.url, &headers(), b"{}", 4096).await;
        assert_eq!(r.expect("an answer").status, 200);
    }
    assert_eq!(server.requests(), 3, "the second send went twice");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn the_pool_keeps_at_most_its_cap_and_the_sweep_closes_what_outlived_its_time() {
    let server = Server::start(OK, Manner::Keep).await;
    let origin: Arc<str> = pool::Endpoint::parse(&server.url).expect("url").origin;
    let address = server.url.trim_start_matches("http://").split('/').next();
    let address = address.expect("address").to_string();
    let open = || async {
        Stream::Tcp(
            tokio::net::TcpStream::connect(&address)
                .await
                .expect("connect"),
        )
    };

    let capped = pool::Pool::new(2, 60 * SECOND);
    for _ in 0..3 {
        capped.put(&origin, open().await);
    }
    assert_eq!(capped.counts(), (2, 1), "the third was closed");
    assert!(capped.take(&origin).is_some() && capped.take(&origin).is_some());
    assert!(capped.take(&origin).is_none());

    let expiring = pool::Pool::new(8, Duration::ZERO);
    expiring.put(&origin, open().await);
    assert_eq!(expiring.counts(), (1, 1));
    expiring.sweep();
    assert_eq!(
        expiring.counts(),
        (0, 0),
        "closed, and the origin forgotten"
    );
}

#[tokio::test]
async fn a_receiver_that_answers_nothing_on_a_new_connection_is_an_error() {
    let server = Server::start(OK, Manner::DropUnanswered).await;
    let error = client(TargetPolicy::default(), vec![])
        .post(&server.url, &headers(), b"{}", 4096)
        .await
        .expect_err("no answer");
    assert!(error.to_string().starts_with("request failed"), "{error}");
}

#[tokio::test]
async fn nothing_listening_is_a_failed_connection() {
    // A port held but not listening: refused, and no other test can take it meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let url = format!("http://{}/", socket.local_addr().expect("addr"));
    let error = client(TargetPolicy::default(), vec![])
        .post(&url, &headers(), b"{}", 4096)
        .await
        .expect_err("refused");
    drop(socket);
    assert!(
        error.to_string().starts_with("connection failed"),
        "{error}"
    );
}

#[tokio::test]
async fn blocked_addresses_are_refused_before_connecting_by_name_or_literal() {
    let server = Server::start(OK, Manner::Keep).await;
    let blocked = client(TargetPolicy::new(true, vec![]), vec![]);
    let error = blocked
        .post(&server.url, &headers(), b"{}", 4096)
        .await
        .expect_err("blocked");
    assert!(
        error
            .to_string()
            .starts_with("blocked: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    let by_name = server.url.replace("127.0.0.1", "localhost");
    let error = blocked
        .post(&by_name, &headers(), b"{}", 4096)
        .await
        .expect_err("blocked");
    assert!(
        error
            .to_string()
            .starts_with("blocked: localhost resolves to"),
        "{error}"
    );
    assert_eq!(server.connections(), 0, "nothing was sent");
}

/// A certificate authority and a leaf for 127.0.0.1 and localhost, made by `openssl`.
fn certificates(dir: &std::path::Path) -> (CertificateDer<'static>, Vec<CertificateDer<'static>>) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian's openssl package)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=lc-test-ca",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    let ca = CertificateDer::from_pem_file(dir.join("ca.pem")).expect("ca");
    let leaf = CertificateDer::from_pem_file(dir.join("leaf.pem")).expect("leaf");
    (ca, vec![leaf])
}

async fn tls_server(dir: &std::path::Path, chain: Vec<CertificateDer<'static>>) -> String {
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("https://{}/secure", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                while read_request(&mut tls).await.is_some() {
                    if answer(&mut tls).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

async fn answer<S: AsyncWrite + Unpin>(io: &mut S) -> std::io::Result<()> {
    io.write_all(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecure\r\n0\r\n\r\n",
    )
    .await?;
    io.flush().await
}

#[tokio::test]
async fn https_is_sent_over_tls_checked_against_the_trusted_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, chain) = certificates(dir.path());
    let url = tls_server(dir.path(), chain).await;

    let trusting = client(TargetPolicy::default(), vec![ca]);
    for _ in 0..2 {
        let r = trusting.post(&url, &headers(), b"{}", 4096).await;
        let r = r.expect("an answer over TLS");
        assert_eq!((r.status, r.body.as_slice()), (201, &b"secure"[..]));
    }
    let by_name = url.replace("127.0.0.1", "localhost");
    let r = trusting.post(&by_name, &headers(), b"{}", 4096).await;
    assert_eq!(r.expect("the name is in the certificate").status, 201);

    let error = client(TargetPolicy::default(), vec![])
        .post(&url, &headers(), b"{}", 4096)
        .await
        .expect_err("an unknown issuer");
    assert!(
        error.to_string().starts_with("connection failed: TLS"),
        "{error}"
    );
}
