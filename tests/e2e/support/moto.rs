//! The moto server the AWS-facing tests run against: installed by `tests/ensure-venv.sh moto`
//! (pinned in `tests/moto/requirements.txt`, into `target/moto-venv`), started once per test
//! binary on a free 127.0.0.1 port, reset before every test that takes it, and stopped when the
//! test process exits.
//!
//! Tests that use moto take [`moto()`], which also serializes them: a reset must not wipe
//! another test's resources mid-run.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::python_tool;

pub const REGION: &str = "eu-west-1";

/// The running server.
pub struct Moto {
    pub endpoint: String,
    port: u16,
}

static SERVER: OnceLock<Moto> = OnceLock::new();
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Exclusive use of a freshly reset moto server.
pub struct MotoGuard {
    _exclusive: MutexGuard<'static, ()>,
    pub server: &'static Moto,
}

pub fn moto() -> MotoGuard {
    let exclusive = EXCLUSIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = SERVER.get_or_init(start);
    server.post("/moto-api/reset");
    MotoGuard {
        _exclusive: exclusive,
        server,
    }
}

fn start() -> Moto {
    let moto_server = python_tool("moto", "moto_server").display().to_string();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // A watcher stops the server when this test process is gone, however it ends.
    let watcher = format!(
        "{moto_server} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & server=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $server",
        parent = std::process::id()
    );
    // Double fork: the outer shell returns at once (and is waited for); the watcher lives on.
    let started = Command::new("sh")
        .arg("-c")
        .arg(format!("({watcher}) &"))
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start moto_server");
    assert!(started.success(), "cannot start moto_server");
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

impl Moto {
    /// A bodyless POST, for moto's own API.
    pub fn post(&self, path: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "{path}: {response}"
        );
    }

    /// Environment for an `ecsops` process talking to this server with fake credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates bucket `name` in the test region.
    pub async fn create_bucket(&self, name: &str) {
        self.create_bucket_in(name, REGION).await;
    }

    /// Creates bucket `name` in `region`, asked from that region as S3 wants.
    pub async fn create_bucket_in(&self, name: &str, region: &str) {
        let client = aws_sdk_s3::Client::from_conf(
            self.s3()
                .config()
                .to_builder()
                .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                .build(),
        );
        client
            .create_bucket()
            .bucket(name)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {name} in {region}: {e:?}"));
    }

    /// An S3 client of this server (path-style addressing, fake credentials).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint)
    }
}

/// An S3 client of `endpoint` (this server, or a proxy in front of it).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}
