//! The moto server the AWS-facing tests run against: installed by `tests/ensure-venv.sh moto`
//! (pinned in `tests/moto/requirements.txt`, into `target/moto-venv`), started once per test
//! binary on a free 127.0.0.1 port, reset before every test that takes it, and stopped when the
//! test process exits.
//!
//! Tests that use moto take [`moto()`], which also serializes them: a reset must not wipe
//! another test's resources mid-run.
//!
//! moto runs no tasks: a service's counts and its deployment's rollout state come from
//! environment variables the server reads when the service is created. The default server
//! runs [`RUNNING`] tasks per service, more than any example service wants, so every rollout
//! is COMPLETED at once and an apply's rollout wait ends on its first read; [`stuck_moto()`]
//! is a second server whose services run nothing and report failed tasks (a rollout that never
//! completes).

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

/// Tasks every service of the default server runs (`MOTO_ECS_SERVICE_RUNNING`).
pub const RUNNING: i32 = 10;
/// Failed tasks every deployment of the stuck server reports (`MOTO_ECS_SERVICE_FAILED_TASKS`).
pub const STUCK_FAILED_TASKS: i32 = 2;

static SERVER: OnceLock<Moto> = OnceLock::new();
static EXCLUSIVE: Mutex<()> = Mutex::new(());
static STUCK: OnceLock<Moto> = OnceLock::new();
static STUCK_EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Exclusive use of a freshly reset moto server.
pub struct MotoGuard {
    _exclusive: MutexGuard<'static, ()>,
    pub server: &'static Moto,
}

pub fn moto() -> MotoGuard {
    guard(
        &EXCLUSIVE,
        &SERVER,
        &[("MOTO_ECS_SERVICE_RUNNING", RUNNING)],
    )
}

/// Exclusive use of the second server, whose services never finish a rollout: no task runs,
/// and every deployment stays IN_PROGRESS with [`STUCK_FAILED_TASKS`] failed tasks.
pub fn stuck_moto() -> MotoGuard {
    guard(
        &STUCK_EXCLUSIVE,
        &STUCK,
        &[
            ("MOTO_ECS_SERVICE_RUNNING", 0),
            ("MOTO_ECS_SERVICE_FAILED_TASKS", STUCK_FAILED_TASKS),
        ],
    )
}

fn guard(
    exclusive: &'static Mutex<()>,
    server: &'static OnceLock<Moto>,
    env: &[(&str, i32)],
) -> MotoGuard {
    let exclusive = exclusive
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = server.get_or_init(|| start(env));
    server.post("/moto-api/reset");
    MotoGuard {
        _exclusive: exclusive,
        server,
    }
}

fn start(env: &[(&str, i32)]) -> Moto {
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
        .envs(env.iter().map(|(k, v)| (*k, v.to_string())))
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
        self.post_json(path, "");
    }

    /// A POST of `body` (JSON) to moto's own API.
    pub fn post_json(&self, path: &str, body: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        assert!(
            ["HTTP/1.1 20", "HTTP/1.0 20"]
                .iter()
                .any(|ok| response.starts_with(ok)),
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
            // The emulator's answers change only when a test changes them: no need to wait
            // the 5 s meant for AWS between reads of a rollout.
            ("ECSOPS_POLL_INTERVAL", "200ms".to_owned()),
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
