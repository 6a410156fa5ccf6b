//! Reading one HTTP/1.1 response: its head (parsed by `httparse`), then its body by the framing
//! the head gives, keeping only the first bytes the delivery log shows.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A response head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
/// A body up to this size is read to its end so the connection can carry the next send; a
/// longer one is cut short and its connection closed.
const DRAIN_LIMIT: u64 = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// What a send keeps of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    /// At most the `keep` bytes asked for.
    pub body: Vec<u8>,
}

/// Why no response was read. `Silent` (the connection closed or failed before a byte came
/// back) is the one a reused connection may be retried after: the receiver closed it idle.
#[derive(Debug)]
pub enum ReadError {
    Silent(String),
    Head(String),
    Body(String),
}

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: u16,
    retry_after: Option<String>,
    framing: Framing,
    close: bool,
}

/// Reads one response from `io`. The flag says whether the connection may carry another request:
/// the body ended where its framing said, nothing followed it, and neither side asked to close.
pub async fn read<S: AsyncRead + Unpin>(
    io: &mut S,
    keep: usize,
) -> Result<(Response, bool), ReadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    // Whether anything came back (an interim answer counts): only silence may be retried.
    let mut heard = false;
    let head = loop {
        match parse_head(&buf).map_err(ReadError::Head)? {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            Some((len, head)) if (100..200).contains(&head.status) => {
                buf.drain(..len);
                continue;
            }
            Some((len, head)) => {
                buf.drain(..len);
                break head;
            }
            None => {}
        }
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_HEAD {
                return Err(ReadError::Head("the response head is over 64 KiB".into()));
            }
            buf.reserve(buf.len().max(1024));
        }
        let n = match io.read_buf(&mut buf).await {
            Ok(n) => n,
            Err(e) if !heard => return Err(ReadError::Silent(e.to_string())),
            Err(e) => return Err(ReadError::Head(e.to_string())),
        };
        if n == 0 {
            return Err(if heard {
                ReadError::Head("the connection closed inside the response head".into())
            } else {
                ReadError::Silent("the connection closed before the response".into())
            });
        }
        heard = true;
    };
    let mut body = Kept::new(keep);
    let complete = match head.framing {
        Framing::Empty => true,
        Framing::Length(n) => read_length(io, &mut buf, n, &mut body).await?,
        Framing::Chunked => read_chunked(io, &mut buf, &mut body).await?,
        Framing::UntilClose => {
            read_until_close(io, &mut buf, &mut body).await?;
            false
        }
    };
    let reusable = complete && !head.close && buf.is_empty();
    let response = Response {
        status: head.status,
        retry_after: head.retry_after,
        body: body.bytes,
    };
    Ok((response, reusable))
}

/// The head's length and meaning once `buf` holds all of it.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("the response head is malformed: {e}")),
    };
    let status = response.code.ok_or("the response has no status")?;
    let http_1_0 = response.version == Some(0);
    let mut close = http_1_0;
    let mut length: Option<u64> = None;
    // The last coding of the last Transfer-Encoding, if any.
    let mut coding: Option<String> = None;
    let mut retry_after = None;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            // `5, 5` (a list of equal values) is one length; anything else is refused.
            for item in value.split(',').map(str::trim) {
                let n = content_length(item).ok_or_else(|| {
                    format!("the response's Content-Length `{value}` is not a number")
                })?;
                if length.is_some_and(|m| m != n) {
                    return Err("the response has two different Content-Lengths".into());
                }
                length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            coding = value
                .rsplit(',')
                .next()
                .map(|last| last.trim().to_ascii_lowercase());
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && response.version == Some(0) {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            retry_after = Some(value.to_string());
        }
    }
    // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length, and a connection whose
    // answer carried both (or carried chunks in HTTP/1.0) is not trusted with another request.
    let framing = if status == 101 {
        return Err("the receiver switched protocols".into());
    } else if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if let Some(coding) = &coding {
        close |= length.is_some() || http_1_0;
        if coding == "chunked" {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let head = Head {
        status,
        retry_after,
        framing,
        close: close || framing == Framing::UntilClose,
    };
    Ok(Some((len, head)))
}

/// A Content-Length value: digits only (no sign, no spaces inside).
fn content_length(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The first `keep` bytes of a body.
struct Kept {
    bytes: Vec<u8>,
    keep: usize,
}

impl Kept {
    fn new(keep: usize) -> Self {
        Kept {
            bytes: Vec::new(),
            keep,
        }
    }

    fn take(&mut self, data: &[u8]) {
        let room = self.keep.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..room.min(data.len())]);
    }

    fn full(&self) -> bool {
        self.bytes.len() >= self.keep
    }
}

/// Reads more into `buf`; the connection ending first is an error.
async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(4096);
    }
    match io.read_buf(buf).await {
        Ok(0) => Err(ReadError::Body(
            "the connection closed inside the response body".into(),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(ReadError::Body(e.to_string())),
    }
}

/// A body of `n` bytes; `false` when it was cut short (longer than the drain limit).
async fn read_length<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    n: u64,
    body: &mut Kept,
) -> Result<bool, ReadError> {
    let mut remaining = n;
    loop {
        let here = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        body.take(&buf[..here]);
        buf.drain(..here);
        remaining -= here as u64;
        if remaining == 0 {
            return Ok(true);
        }
        if n > DRAIN_LIMIT && body.full() {
            return Ok(false);
        }
        fill(io, buf).await?;
    }
}

/// A chunked body; `false` when it was cut short (longer than the drain limit).
async fn read_chunked<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    body: &mut Kept,
) -> Result<bool, ReadError> {
    let mut seen: u64 = 0;
    loop {
        let size = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((len, size))) => {
                    buf.drain(..len);
                    break size;
                }
                Ok(httparse::Status::Partial) if buf.len() < 4096 => fill(io, buf).await?,
                _ => return Err(ReadError::Body("a chunk's size line is malformed".into())),
            }
        };
        if size == 0 {
            return read_trailers(io, buf).await.map(|()| true);
        }
        seen = seen.saturating_add(size);
        if seen > DRAIN_LIMIT && body.full() {
            return Ok(false);
        }
        // The chunk's data, then its CRLF.
        let mut remaining = size;
        while remaining > 0 {
            if buf.is_empty() {
                fill(io, buf).await?;
            }
            let here = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            body.take(&buf[..here]);
            buf.drain(..here);
            remaining -= here as u64;
            if remaining > 0 && seen > DRAIN_LIMIT && body.full() {
                return Ok(false);
            }
        }
        while buf.len() < 2 {
            fill(io, buf).await?;
        }
        if &buf[..2] != b"\r\n" {
            return Err(ReadError::Body("a chunk does not end with CRLF".into()));
        }
        buf.drain(..2);
    }
}

/// The lines after the last chunk, up to the empty one.
async fn read_trailers<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
) -> Result<(), ReadError> {
    loop {
        match buf.windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                buf.drain(..2);
                return Ok(());
            }
            Some(end) => {
                buf.drain(..end + 2);
            }
            None if buf.len() < MAX_HEAD => fill(io, buf).await?,
            None => {
                return Err(ReadError::Body(
                    "the response's trailers are too long".into(),
                ))
            }
        }
    }
}

/// A body that ends when the connection does: read until then or until enough is kept.
async fn read_until_close<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    body: &mut Kept,
) -> Result<(), ReadError> {
    body.take(buf);
    buf.clear();
    while !body.full() {
        let mut chunk = [0u8; 1024];
        match io.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => body.take(&chunk[..n]),
            Err(e) => return Err(ReadError::Body(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8], keep: usize) -> Result<(Response, bool), ReadError> {
        let mut io = bytes;
        read(&mut io, keep).await
    }

    async fn error(bytes: &[u8]) -> ReadError {
        parse(bytes, 10).await.expect_err("no response")
    }

    async fn ok(bytes: &[u8]) -> (u16, String, bool) {
        let (r, reusable) = parse(bytes, 4096).await.expect("a response");
        (
            r.status,
            String::from_utf8(r.body).expect("utf-8"),
            reusable,
        )
    }

    #[tokio::test]
    async fn a_sized_body_is_read_and_the_connection_kept() {
        let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        assert_eq!(r, (200, "hello".into(), true));
        let r = ok(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        assert_eq!(r, (204, String::new(), true));
    }

    #[tokio::test]
    async fn a_chunked_body_is_decoded_with_its_trailers() {
        let r = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n")
        .await;
        assert_eq!(r, (200, "abcdefg".into(), true));
    }

    #[tokio::test]
    async fn close_http_1_0_and_bodies_ending_at_close_do_not_keep_the_connection() {
        let r = ok(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").await;
        assert_eq!(r, (200, "ok".into(), false));
        let r = ok(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        assert_eq!(r, (200, "ok".into(), false));
        let r =
            ok(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok").await;
        assert_eq!(r, (200, "ok".into(), true));
        let r = ok(b"HTTP/1.1 200 OK\r\n\r\nuntil the end").await;
        assert_eq!(r, (200, "until the end".into(), false));
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_retry_after_is_kept() {
        let (r, _) = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
            4096,
        )
        .await
        .expect("a response");
        assert_eq!(r.status, 503);
        assert_eq!(r.retry_after.as_deref(), Some("7"));
    }

    #[tokio::test]
    async fn only_the_first_bytes_are_kept_and_a_long_body_is_cut_short() {
        let mut long = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100_000));
        let (r, reusable) = parse(&long, 10).await.expect("a response");
        assert_eq!(r.body, b"xxxxxxxxxx");
        assert!(!reusable, "the rest was not read");
        let mut short = b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n".to_vec();
        short.extend(std::iter::repeat_n(b'y', 3000));
        let (r, reusable) = parse(&short, 10).await.expect("a response");
        assert_eq!(r.body.len(), 10);
        assert!(reusable, "a short body is read to its end");
    }

    #[tokio::test]
    async fn bytes_after_the_body_do_not_keep_the_connection() {
        let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").await;
        assert_eq!(r, (200, "ok".into(), false));
    }

    #[tokio::test]
    async fn silence_truncation_and_garbage_are_told_apart() {
        assert!(matches!(error(b"").await, ReadError::Silent(_)));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-").await,
            ReadError::Head(_)
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").await,
            ReadError::Body(_)
        ));
        assert!(matches!(
            error(b"SSH-2.0-OpenSSH\r\n\r\n").await,
            ReadError::Head(_)
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").await,
            ReadError::Head(_)
        ));
    }

    #[tokio::test]
    async fn framing_follows_rfc_9112_when_headers_disagree() {
        // Transfer-Encoding wins; with Content-Length beside it the connection is not kept.
        let r = ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n\
                     2\r\nok\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(r, (200, "ok".into(), false));
        // A coding other than chunked: the body ends with the connection.
        let r = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabcd")
            .await;
        assert_eq!(r, (200, "abcd".into(), false));
        // A list of equal lengths is one length; a sign is not a number.
        let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").await;
        assert_eq!(r, (200, "ok".into(), true));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok").await,
            ReadError::Head(_)
        ));
        assert!(matches!(
            error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n").await,
            ReadError::Body(_)
        ));
    }

    #[tokio::test]
    async fn one_huge_chunk_is_cut_short_once_enough_is_kept() {
        // A chunk announced far larger than what follows: reading stops at what is kept, not
        // at the chunk's end (which never comes here).
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'z', 5000));
        let (r, reusable) = parse(&bytes, 16).await.expect("a response");
        assert_eq!(r.body, vec![b'z'; 16]);
        assert!(!reusable);
    }

    #[tokio::test]
    async fn a_close_after_an_interim_answer_is_not_silence() {
        assert!(matches!(
            error(b"HTTP/1.1 100 Continue\r\n\r\n").await,
            ReadError::Head(_)
        ));
    }
}
