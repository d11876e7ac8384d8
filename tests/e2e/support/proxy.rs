//! A fault-injecting HTTP proxy between a client and moto, for failures the emulator cannot
//! produce itself. It handles one request per connection (responses carry `Connection: close`)
//! and can be told to forward a matching request but drop its response, as a network that
//! loses a reply does.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Requests whose first line and headers contain all of these lose their response, `times`
/// times.
pub struct DropResponse {
    pub contains: Vec<&'static str>,
    pub times: usize,
}

pub struct Proxy {
    pub endpoint: String,
    /// Responses dropped so far.
    pub dropped: Arc<AtomicUsize>,
    /// Requests of the matching kind seen so far.
    pub matched: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start(upstream_port: u16, rule: DropResponse) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let dropped = Arc::new(AtomicUsize::new(0));
        let matched = Arc::new(AtomicUsize::new(0));
        let rule = Arc::new(rule);
        let (d, m) = (dropped.clone(), matched.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rule, d, m) = (rule.clone(), d.clone(), m.clone());
                std::thread::spawn(move || serve(client, upstream_port, &rule, &d, &m));
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            dropped,
            matched,
        }
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
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
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
    rule: &DropResponse,
    dropped: &AtomicUsize,
    matched: &AtomicUsize,
) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let matches = rule
        .contains
        .iter()
        .all(|c| head.contains(&c.to_ascii_lowercase()));
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    if upstream.write_all(&request).is_err() {
        return;
    }
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    if matches {
        matched.fetch_add(1, Ordering::SeqCst);
        if dropped.load(Ordering::SeqCst) < rule.times {
            // The request took effect upstream; the client never hears of it.
            dropped.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
    let _ = client.write_all(&response);
}
