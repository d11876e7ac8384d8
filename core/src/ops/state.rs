//! The state commands: `state list/show/pull/push/history`, `lock`, `unlock`. Each finds the
//! environment's backend (from `--state-url`, the manifest's `[state]` or the default) and
//! never needs the rest of the manifest to be valid, so a broken manifest cannot keep anyone
//! from inspecting or unlocking state.

use std::time::{Duration, Instant};

use crate::account::Credentials;
use crate::diagnostic::Diagnostics;
use crate::manifest::{Environment, StateConfig, load_environment};
use crate::source::Sources;
use crate::state::s3::BucketHygiene;
use crate::state::{Backend, HistoryEntry, Location, LockInfo, State, StateError, Stored};
use crate::workspace::Workspace;

use super::apply::LockLeft;
use super::{Invalid, OpsError};

/// The environment's state backend, connected.
#[derive(Debug)]
pub struct Target {
    pub environment: String,
    pub location: Location,
    pub backend: Backend,
}

impl Target {
    /// `s3://bucket/key` or the file path, for messages.
    pub fn describe(&self) -> String {
        self.location.describe(&self.environment)
    }
}

/// Finds and connects the state backend of `environment`.
pub async fn target(
    ws: &Workspace,
    environment: &str,
    url: Option<&str>,
) -> Result<Target, OpsError> {
    ws.require_environment(environment)?;
    let (config, value) = if url.is_some() {
        // The URL decides where; the manifest, when it loads, still says the region and the
        // credentials.
        let value = load(ws, environment).ok();
        let config = value.as_ref().and_then(|v| state_config(ws, environment, v).ok());
        (config.unwrap_or_default(), value)
    } else {
        let value = load(ws, environment)?;
        (state_config(ws, environment, &value)?, Some(value))
    };
    let location = Location::resolve(url, &config, ws.root())?;
    let environment_table = value.as_ref().and_then(environment_of);
    // `[state]`'s own credentials (a central bucket), else the environment's.
    let credentials = Credentials::of_state(&config, environment).unwrap_or_else(|| {
        environment_table
            .as_ref()
            .map(|e| Credentials::of_environment(e, environment))
            .unwrap_or_default()
    });
    // The bucket's region: `[state] region`, else the bucket's own, else the environment's,
    // before the shell's.
    let region = environment_table.and_then(|e| e.region);
    let backend = Backend::connect(&location, environment, region.as_deref(), &credentials)
        .await?
        .keeping(config.keep_versions);
    Ok(Target { environment: environment.to_owned(), location, backend })
}

/// The merged manifest as a value: only the tables the state needs have to be right.
fn load(ws: &Workspace, environment: &str) -> Result<serde_json::Value, OpsError> {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    match load_environment(ws, environment, &mut sources, &mut diagnostics) {
        Some(loaded) => Ok(loaded.value),
        None => Err(OpsError::Invalid(Box::new(Invalid { sources, diagnostics }))),
    }
}

/// The `[environment]` table of the merged manifest, when it reads as one.
fn environment_of(value: &serde_json::Value) -> Option<Environment> {
    serde_json::from_value(value.get("environment")?.clone()).ok()
}

/// The `[state]` table of the merged manifest. One that does not read is reported as
/// `validate` reports it, at its line in its file.
fn state_config(
    ws: &Workspace,
    environment: &str,
    value: &serde_json::Value,
) -> Result<StateConfig, OpsError> {
    match value.get("state") {
        None => Ok(StateConfig::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            located(ws, environment).unwrap_or_else(|| {
                OpsError::Statefile(StateError::InvalidUrl {
                    url: "[state]".to_owned(),
                    reason: e.to_string(),
                })
            })
        }),
    }
}

/// The validation errors of `environment`, located in its files, when it has any.
fn located(ws: &Workspace, environment: &str) -> Option<OpsError> {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    super::validate::check_environment(ws, environment, &[], &mut sources, &mut diagnostics);
    diagnostics.has_errors().then(|| {
        diagnostics.sort();
        OpsError::Invalid(Box::new(Invalid { sources, diagnostics }))
    })
}

pub async fn read(target: &Target) -> Result<Option<Stored>, OpsError> {
    Ok(target.backend.read().await?)
}

pub async fn history(target: &Target) -> Result<Vec<HistoryEntry>, OpsError> {
    Ok(target.backend.history().await?)
}

pub async fn lock_holder(target: &Target) -> Result<Option<LockInfo>, OpsError> {
    Ok(target.backend.read_lock().await?)
}

pub async fn unlock(target: &Target, id: &str) -> Result<(), OpsError> {
    Ok(target.backend.unlock(id).await?)
}

/// Takes the lock, waiting up to `timeout` while someone else holds it; `waiting` is told the
/// holder and the time left after each failed attempt (the CLI shows a countdown).
pub async fn acquire(
    target: &Target,
    info: &LockInfo,
    timeout: Duration,
    waiting: &mut dyn FnMut(&LockInfo, Duration),
) -> Result<(), OpsError> {
    let started = Instant::now();
    loop {
        match target.backend.lock(info).await {
            Err(StateError::LockHeld { holder, .. }) if started.elapsed() < timeout => {
                waiting(&holder, timeout.saturating_sub(started.elapsed()));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// `state push`: writes `document` as the new state under the lock, and releases the lock
/// whatever happens. Refuses a document of another environment, even with `force`: its
/// resources are that environment's, and the next apply here would replace them (the backend
/// refuses it, so nothing stored as this environment's can say another). Refuses another
/// lineage and a serial that does not move forward, unless `force`, which writes the document's
/// lineage (as Terraform does): the resources it records carry that lineage in their ownership
/// tags, so keeping the stored one would make every one of them foreign (a state lost, then a
/// failed apply that started a new one, then the backup pushed back). The serial still moves
/// past the stored one. With no state yet, the document's lineage is kept likewise. With
/// `force`, a stored state that does not parse is replaced: that is how a kept version is
/// restored (its serial moves past every kept one). The history keeps the version as a push,
/// whatever apply the document's revision names. A lock left behind is said beside the write's
/// outcome, never in its place.
pub async fn push(
    target: &Target,
    mut document: State,
    force: bool,
    lock: &LockInfo,
) -> Result<Pushed, OpsError> {
    let result = async {
        let expected = match target.backend.read().await {
            Ok(Some(c)) => {
                if force {
                    document.serial = document.serial.max(c.state.serial + 1);
                }
                Some(c.version)
            }
            Ok(None) => None,
            Err(StateError::Corrupt { .. }) if force => {
                // Kept versions without a history (an unversioned bucket) leave the serial as
                // pushed.
                let newest = target.backend.history().await.ok().into_iter().flatten();
                if let Some(n) = newest.map(|h| h.serial).max() {
                    document.serial = document.serial.max(n + 1);
                }
                target.backend.raw_version().await?
            }
            Err(e) => return Err(e),
        };
        target.backend.push(&document, expected.as_ref(), force).await?;
        Ok::<u64, StateError>(document.serial)
    }
    .await;
    match (result, release(target, lock).await) {
        (Ok(serial), lock_left) => Ok(Pushed { serial, lock_left }),
        (Err(e), None) => Err(e.into()),
        (Err(e), Some(left)) => Err(OpsError::LockLeft {
            error: Some(Box::new(e.into())),
            environment: target.environment.clone(),
            left,
        }),
    }
}

/// What `state push` wrote.
#[derive(Debug)]
pub struct Pushed {
    pub serial: u64,
    /// The lock, when releasing it failed.
    pub lock_left: Option<LockLeft>,
}

/// Releases the lock a command took once it ended: `None` when that worked, else the lock left
/// behind, for the command to report beside its own result (never in its place).
pub(super) async fn release(target: &Target, lock: &LockInfo) -> Option<LockLeft> {
    let e = target.backend.unlock(&lock.id).await.err()?;
    Some(LockLeft { id: lock.id.clone(), reason: e.to_string() })
}

/// What the bucket check found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCheck {
    pub bucket: String,
    pub found: BucketHygiene,
    pub fixed: bool,
}

/// For an S3 backend: checks that the bucket keeps versions, encrypts by default and blocks
/// public access, on the environment's first use (no state yet) or when `fix` is asked; with
/// `fix`, turns on what is missing. Reports, never changes the bucket unasked.
pub async fn check_bucket(target: &Target, fix: bool) -> Result<Option<BucketCheck>, OpsError> {
    let (Backend::S3(s3), Location::S3 { bucket, .. }) = (&target.backend, &target.location) else {
        return Ok(None);
    };
    // A state that does not parse still exists: its own command reports it, with what to do.
    let exists = match target.backend.read().await {
        Ok(stored) => stored.is_some(),
        Err(StateError::Corrupt { .. }) => true,
        Err(e) => return Err(e.into()),
    };
    if !fix && exists {
        return Ok(None);
    }
    let found = s3.hygiene().await;
    let fixed = fix && !found.is_sound();
    if fixed {
        s3.fix_hygiene(&found).await?;
    }
    Ok(Some(BucketCheck { bucket: bucket.clone(), found, fixed }))
}
