//! A fault-injecting HTTP proxy between a client and moto, for failures the emulator cannot
//! produce itself. It handles one request per connection (responses carry `Connection: close`)
//! and can be told, per kind of request, to lose the response (as a network that loses a reply
//! does), to hold it back until the client dies (a process killed at an exact point), to pass
//! on only half the body (killed mid-upload), to strip a header (a store that ignores it), to
//! answer with a body of the test's making (an AWS-shaped response for behaviour moto lacks) or
//! to let the first few through untouched before another rule's fault (a backend that goes away
//! mid-apply), or to answer 503 without passing the request on (a store shedding load); and to
//! delay every request (a faraway region).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Requests whose text (first line, headers and body, compared case-insensitively) contains all
/// of these meet `fault`, `times` times; later ones fall through to the next rule.
pub struct DropResponse {
    pub contains: Vec<&'static str>,
    pub times: usize,
    pub fault: Fault,
}

/// Makes the body a matching request is answered with, from the request's text (head and body,
/// as sent) and the body the emulator answered.
pub type Rewrite = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

/// What happens to a matching request's response.
#[derive(Clone)]
pub enum Fault {
    /// The connection closes without an answer.
    Drop,
    /// The request takes effect upstream, but no answer ever comes; the connection stays open
    /// until the client closes it (a process killed after its request was served).
    Hold,
    /// Only the first half of the request's body goes upstream, and no answer comes: the
    /// client is stuck mid-upload until it dies (a process killed in the middle of a write).
    Truncate,
    /// The request goes upstream without this header (a store that ignores it); the response
    /// comes back as usual.
    Strip(&'static str),
    /// The request takes effect upstream; the client gets the emulator's status and content type
    /// with the body this makes instead. Tests that use it say which AWS behaviour it stands for.
    Rewrite(Rewrite),
    /// The request and its response go through untouched: a rule ahead of another with the
    /// same match lets that many pass before the other's fault (the fifth save fails).
    Pass,
    /// The request never goes upstream: the client is answered `503 SlowDown`, as S3 answers
    /// while it sheds load (a store that takes no writes for a while).
    Unavailable,
}

impl Fault {
    /// A [`Fault::Rewrite`] of `rewrite`.
    pub fn rewrite(rewrite: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> Self {
        Self::Rewrite(Arc::new(rewrite))
    }

    /// This rewrite, then `next` on the body it made: two answers for what moto lacks in one.
    pub fn then(self, next: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> Self {
        let Self::Rewrite(first) = self else {
            panic!("only a rewrite can be followed by another")
        };
        Self::rewrite(move |request, body| next(request, &first(request, body)))
    }
}

pub struct Proxy {
    pub endpoint: String,
    /// Requests that met a `Drop`, `Hold`, `Truncate` or `Unavailable` so far, over all rules.
    pub dropped: Arc<AtomicUsize>,
    /// Requests matching any rule seen so far.
    pub matched: Arc<AtomicUsize>,
}

impl Proxy {
    /// A proxy applying `rules`, each with its own count; the first that matches a request and
    /// has times left decides its fate.
    pub fn start(upstream_port: u16, rules: Vec<DropResponse>) -> Self {
        Self::with_delay(upstream_port, rules, Duration::ZERO)
    }

    /// A proxy whose one rule meets every request containing all of `contains` with `fault`.
    pub fn always(upstream_port: u16, contains: Vec<&'static str>, fault: Fault) -> Self {
        Self::start(upstream_port, vec![DropResponse { contains, times: usize::MAX, fault }])
    }

    /// `env` (an `ecsops` process's, for an emulator) with its AWS requests through this proxy.
    pub fn env(&self, mut env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL", self.endpoint.clone()));
        env
    }

    /// Like [`Proxy::start`], and every request waits `delay` before it goes upstream (a
    /// faraway region: the round trip, not the bandwidth, is what costs).
    pub fn with_delay(upstream_port: u16, rules: Vec<DropResponse>, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let dropped = Arc::new(AtomicUsize::new(0));
        let matched = Arc::new(AtomicUsize::new(0));
        let rules: Arc<Vec<(DropResponse, AtomicUsize)>> =
            Arc::new(rules.into_iter().map(|r| (r, AtomicUsize::new(0))).collect());
        let (d, m) = (dropped.clone(), matched.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rules, d, m) = (rules.clone(), d.clone(), m.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    serve(client, upstream_port, &rules, &d, &m);
                });
            }
        });
        Self { endpoint: format!("http://127.0.0.1:{port}"), dropped, matched }
    }
}

fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf) {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

fn serve(
    mut client: TcpStream,
    upstream_port: u16,
    rules: &[(DropResponse, AtomicUsize)],
    dropped: &AtomicUsize,
    matched: &AtomicUsize,
) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let mut fault = None;
    let mut hit = false;
    for (rule, done) in rules {
        if rule.contains.iter().all(|c| text.contains(&c.to_ascii_lowercase())) {
            hit = true;
            if done.fetch_add(1, Ordering::SeqCst) < rule.times {
                fault = Some(rule.fault.clone());
                break;
            }
        }
    }
    if hit {
        matched.fetch_add(1, Ordering::SeqCst);
    }
    if matches!(fault, Some(Fault::Unavailable)) {
        dropped.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                    <Message>Please reduce your request rate.</Message></Error>";
        let _ = client.write_all(
            format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    let request = match &fault {
        Some(Fault::Strip(header)) => without_header(&request, header),
        _ => request,
    };
    let fault = fault.filter(|f| !matches!(f, Fault::Strip(_) | Fault::Pass));
    let truncate = matches!(fault, Some(Fault::Truncate));
    let sent = if truncate {
        let body = head_end(&request).unwrap_or(request.len());
        body + (request.len() - body) / 2
    } else {
        request.len()
    };
    if upstream.write_all(&request[..sent]).is_err() {
        return;
    }
    let mut response = Vec::new();
    if !truncate {
        // The request takes effect upstream before anyone is told (or, with `Hold` and `Drop`,
        // without the client ever hearing).
        let _ = upstream.read_to_end(&mut response);
    }
    match fault {
        None => {
            let _ = client.write_all(&response);
            return;
        }
        Some(Fault::Rewrite(rewrite)) => {
            let body = rewrite(&String::from_utf8_lossy(&request), &body_of(&response));
            let _ = client.write_all(&answer(&response, &body));
            return;
        }
        Some(fault) => {
            dropped.fetch_add(1, Ordering::SeqCst);
            if !matches!(fault, Fault::Drop) {
                let mut sink = [0u8; 1024];
                while client.read(&mut sink).is_ok_and(|n| n > 0) {}
            }
        }
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// The body of an HTTP/1.1 response, de-chunked when it came in chunks.
fn body_of(response: &[u8]) -> String {
    let start = head_end(response).unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..start]).to_ascii_lowercase();
    let body = &response[start..];
    if !head.contains("transfer-encoding: chunked") {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..line_end]).split(';').next().unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let chunk = line_end + 2;
        out.extend_from_slice(&rest[chunk..(chunk + size).min(rest.len())]);
        rest = &rest[(chunk + size + 2).min(rest.len())..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `upstream`'s status line and content type with `body`.
fn answer(upstream: &[u8], body: &str) -> Vec<u8> {
    let start = head_end(upstream).unwrap_or(upstream.len());
    let head = String::from_utf8_lossy(&upstream[..start]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("HTTP/1.1 200 OK");
    let content_type = lines
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .unwrap_or("Content-Type: application/json");
    format!(
        "{status}\r\n{content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn without_header(request: &[u8], header: &str) -> Vec<u8> {
    // The header lines with their line ends; the blank line and the body follow.
    let head_end = head_end(request).map_or(request.len(), |end| end - 2);
    let head = String::from_utf8_lossy(&request[..head_end]);
    let prefix = format!("{}:", header.to_ascii_lowercase());
    let mut out: Vec<u8> = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with(&prefix))
        .collect::<String>()
        .into_bytes();
    out.extend_from_slice(&request[head_end..]);
    out
}

/// Where a request's body starts: after the blank line that ends its head.
fn head_end(request: &[u8]) -> Option<usize> {
    request.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[tokio::test]
async fn a_rewrite_answers_with_the_body_the_test_makes_of_the_emulators() {
    let moto = super::moto::moto();
    moto.server.create_bucket("made").await;
    let proxy = Proxy::start(
        moto.server.port(),
        vec![DropResponse {
            contains: vec!["GET /", "ListBuckets"],
            times: 1,
            fault: Fault::rewrite(|request, upstream| {
                assert!(request.starts_with("GET /"), "{request}");
                upstream.replace("<Name>made</Name>", "<Name>rewritten</Name>")
            }),
        }],
    );
    let names = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        out.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect::<Vec<_>>()
    };
    let client = super::moto::s3_client(&proxy.endpoint);
    let first = client.list_buckets().send().await.expect("list");
    assert_eq!(names(first), ["rewritten"]);
    let second = client.list_buckets().send().await.expect("list");
    assert_eq!(names(second), ["made"], "the rule applies `times` times");
}
