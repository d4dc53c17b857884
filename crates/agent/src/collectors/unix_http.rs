//! Just enough HTTP/1.1 to ask a container engine on its unix socket: `GET`, one request per
//! connection (`Connection: close`), a body framed by `Content-Length`, chunked transfer encoding
//! (what Docker sends) or the end of the stream.
//!
//! Written by hand because the agent has no async runtime and its HTTP client (ureq) cannot
//! dial a unix socket; a few hundred bytes of framing do not justify a new dependency. Every
//! read and write is bounded by one deadline, so a hung engine costs at most that long.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// A larger answer is refused: 30 containers' stats are a few hundred kilobytes in all, and a
/// runaway engine must not exhaust the agent's memory.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Longest status or header line we accept.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{0}")]
    Io(io::Error),
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// The status and body of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET path` on the socket at `socket`, all of it done before `deadline`; `budget` is only
/// for the error message.
pub fn get(socket: &Path, path: &str, deadline: Instant, budget: Duration) -> Result<Response, HttpError> {
    let remaining = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { Err(HttpError::Timeout(budget)) } else { Ok(left) }
    };
    remaining()?;
    let mut stream = connect(socket, deadline, budget)?;
    let timed_out = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(budget),
        _ => HttpError::Io(e),
    };
    stream.set_write_timeout(Some(remaining()?)).map_err(HttpError::Io)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: homelabcmd-agent\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(timed_out)?;
    let mut reader = BufReader::new(DeadlineReader { stream, deadline });
    read_response(&mut reader).map_err(|e| match e {
        HttpError::Io(e) => timed_out(e),
        other => other,
    })
}

/// How long to wait before trying again to connect to an engine whose queue of connections to
/// accept is full.
const CONNECT_RETRY: Duration = Duration::from_millis(10);

/// Connects before `deadline`. `UnixStream::connect` has no timeout, and on an engine that has
/// stopped accepting (a frozen process) it blocks for ever once the listen queue is full; a
/// non-blocking connect answers `EAGAIN` then instead, and we try again until the deadline.
pub fn connect(socket: &Path, deadline: Instant, budget: Duration) -> Result<UnixStream, HttpError> {
    // SAFETY: an all-zero sockaddr_un is a valid (empty) address; we fill in family and path.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path = socket.as_os_str().as_bytes();
    if path.len() >= address.sun_path.len() || path.contains(&0) {
        return Err(HttpError::Connect(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long")));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(path) {
        *slot = *byte as libc::c_char;
    }
    let length = (std::mem::size_of::<libc::sa_family_t>() + path.len() + 1) as libc::socklen_t;
    // SAFETY: plain socket(2); the descriptor is owned by `fd` from here on.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) };
    if raw < 0 {
        return Err(HttpError::Connect(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    loop {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor and a pointer to a live, initialised sockaddr_un of `length`.
        let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const address).cast::<libc::sockaddr>(), length) };
        if rc == 0 {
            let stream = UnixStream::from(fd);
            stream.set_nonblocking(false).map_err(HttpError::Io)?;
            return Ok(stream);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EAGAIN) {
            return Err(HttpError::Connect(error));
        }
        if Instant::now() + CONNECT_RETRY >= deadline {
            return Err(HttpError::Timeout(budget));
        }
        thread::sleep(CONNECT_RETRY);
    }
}

/// A socket whose every read waits no longer than what is left before the deadline.
struct DeadlineReader {
    stream: UnixStream,
    deadline: Instant,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Reads one HTTP/1.1 answer: the status line, the headers and the body in whichever framing
/// the headers announce. Pure over the reader, so the framing is tested on bytes.
pub fn read_response(reader: &mut impl BufRead) -> Result<Response, HttpError> {
    let status_line = read_line(reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line `{}`", truncate(&status_line))));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line `{}`", truncate(&status_line))))?;
    let mut content_length = None;
    let mut chunked = false;
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!("header `{}`", truncate(&line))));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse::<usize>()
                .map_err(|_| HttpError::Malformed(format!("Content-Length `{}`", truncate(value))))?;
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.split(',').any(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = content_length {
        if length > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(HttpError::Io)?;
        body
    } else {
        let mut body = Vec::new();
        let read = reader.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut body).map_err(HttpError::Io)?;
        if read > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body
    };
    Ok(Response { status, body })
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size `{}`", truncate(&line))))?;
        if size == 0 {
            // Trailers, if any, up to the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).map_err(HttpError::Io)?;
        if !read_line(reader)?.is_empty() {
            return Err(HttpError::Malformed("chunk not followed by CRLF".into()));
        }
    }
}

/// One line without its CRLF (or bare LF). End of stream before the line ends is an error: every
/// line we read here is followed by more.
fn read_line(reader: &mut impl BufRead) -> Result<String, HttpError> {
    let mut line = Vec::new();
    let read = reader.take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut line).map_err(HttpError::Io)?;
    if read == 0 || line.last() != Some(&b'\n') {
        return Err(if read >= MAX_LINE_BYTES {
            HttpError::Malformed("line too long".into())
        } else {
            HttpError::Malformed("answer ended early".into())
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| HttpError::Malformed("line is not UTF-8".into()))
}

fn too_large() -> HttpError {
    HttpError::Malformed(format!("body larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)))
}

fn truncate(text: &str) -> String {
    super::truncate_chars(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Response, HttpError> {
        read_response(&mut io::Cursor::new(bytes))
    }

    #[test]
    fn content_length_body() {
        let answer =
            parse(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]").unwrap();
        assert_eq!(answer, Response { status: 200, body: b"[]".to_vec() });
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n[{\"a\"\r\n3\r\n:1}\r\n1\r\n]\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(parse(raw).unwrap().body, b"[{\"a\":1}]");
    }

    #[test]
    fn body_until_the_end_of_the_stream() {
        let answer = parse(b"HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"no such container\"}").unwrap();
        assert_eq!(answer.status, 404);
        assert_eq!(answer.body, b"{\"message\":\"no such container\"}");
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn an_engine_that_never_accepts_costs_at_most_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frozen.sock");
        // Listens, never accepts: once its queue is full, a blocking connect would never return.
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let budget = Duration::from_millis(200);
        let mut queued = Vec::new();
        let started = Instant::now();
        let error = loop {
            match connect(&path, Instant::now() + budget, budget) {
                Ok(stream) => queued.push(stream),
                Err(error) => break error,
            }
            assert!(queued.len() < 100_000, "the queue never filled");
        };
        assert!(matches!(error, HttpError::Timeout(_)), "{error}");
        assert!(!queued.is_empty(), "the first connections are queued");
        let took = Instant::now();
        let answer = get(&path, "/containers/json", Instant::now() + budget, budget);
        assert!(matches!(answer, Err(HttpError::Timeout(_))), "{answer:?}");
        assert!(took.elapsed() < budget + Duration::from_secs(2), "{:?}", took.elapsed());
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_missing_socket_is_a_connect_error() {
        let budget = Duration::from_millis(100);
        let error = connect(Path::new("/nonexistent/docker.sock"), Instant::now() + budget, budget).unwrap_err();
        assert!(matches!(&error, HttpError::Connect(e) if e.kind() == io::ErrorKind::NotFound), "{error}");
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1);
        assert!(matches!(parse(raw.as_bytes()), Err(HttpError::Malformed(m)) if m.contains("larger")));
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n";
        assert!(matches!(parse(raw.as_bytes()), Err(HttpError::Malformed(m)) if m.contains("larger")));
    }
}
