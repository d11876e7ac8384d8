//! The moto servers the AWS-facing tests run against: installed by `tests/ensure-venv.sh moto`
//! (pinned in `tests/moto/requirements.txt`, into `target/moto-venv`), each started on a free
//! 127.0.0.1 port the first time a test needs it, reset before every test that takes it, and
//! stopped when the test process exits.
//!
//! A test that uses moto takes a server of its own with [`moto()`] for as long as it runs: a
//! reset must not wipe another test's resources mid-run. Servers are pooled, so tests run side
//! by side as far as the test threads allow (a moto test spends most of its time waiting on
//! the emulator or on a timeout), each on its own server; a pool never starts more servers
//! than tests ever held at once.
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
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
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

/// The most servers of one kind running at once: more than the test threads of the machines
/// that run the suite (2 cores: 4 threads, see `.cargo/config.toml`) and few enough that each
/// server's memory (about 150 MB) does not matter.
const POOL_SIZE: usize = 6;

/// Servers started with the same settings, each used by one test at a time.
struct Pool {
    env: &'static [(&'static str, i32)],
    servers: [OnceLock<Moto>; POOL_SIZE],
    taken: Mutex<[bool; POOL_SIZE]>,
    freed: Condvar,
}

static DEFAULT: Pool = Pool::new(&[("MOTO_ECS_SERVICE_RUNNING", RUNNING)]);
static STUCK: Pool = Pool::new(&[
    ("MOTO_ECS_SERVICE_RUNNING", 0),
    ("MOTO_ECS_SERVICE_FAILED_TASKS", STUCK_FAILED_TASKS),
]);

/// Exclusive use of a freshly reset moto server.
pub struct MotoGuard {
    _slot: Slot,
    pub server: &'static Moto,
}

/// A taken place in a pool, given back when dropped (a test that panics gives it back too).
struct Slot {
    pool: &'static Pool,
    index: usize,
}

/// Exclusive use of a default server: every service runs [`RUNNING`] tasks.
pub fn moto() -> MotoGuard {
    DEFAULT.take()
}

/// Exclusive use of a server whose services never finish a rollout: no task runs, and every
/// deployment stays IN_PROGRESS with [`STUCK_FAILED_TASKS`] failed tasks.
pub fn stuck_moto() -> MotoGuard {
    STUCK.take()
}

impl Pool {
    const fn new(env: &'static [(&'static str, i32)]) -> Self {
        Self {
            env,
            servers: [const { OnceLock::new() }; POOL_SIZE],
            taken: Mutex::new([false; POOL_SIZE]),
            freed: Condvar::new(),
        }
    }

    /// A free server, started ones first (a new one costs seconds); waits while all are taken.
    fn take(&'static self) -> MotoGuard {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = loop {
            let free = (0..POOL_SIZE).filter(|&i| !taken[i]);
            let started = free.clone().find(|&i| self.servers[i].get().is_some());
            if let Some(slot) = started.or_else(|| free.min()) {
                break slot;
            }
            taken = self.freed.wait(taken).unwrap_or_else(PoisonError::into_inner);
        };
        taken[slot] = true;
        drop(taken);
        let slot = Slot { pool: self, index: slot };
        let server = self.servers[slot.index].get_or_init(|| start(self.env));
        server.post("/moto-api/reset");
        MotoGuard { _slot: slot, server }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.pool.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken[self.index] = false;
        self.pool.freed.notify_one();
    }
}

fn start(env: &[(&str, i32)]) -> Moto {
    let moto_server = python_tool("moto", "moto_server").display().to_string();
    let port =
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
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
    let moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
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
            ["HTTP/1.1 20", "HTTP/1.0 20"].iter().any(|ok| response.starts_with(ok)),
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
