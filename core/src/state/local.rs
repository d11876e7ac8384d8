//! The local backend, the default: `.ecsops/state/<env>.json` in the workspace.
//!
//! - The user-visible lock is `<env>.lock`, created atomically with its content (written to a
//!   temp file, then hard-linked into place, which fails if the lock exists).
//! - A write is compare-and-swap: under an OS file lock (released by the kernel if the process
//!   dies) it re-reads the current document, compares its digest with the version the writer
//!   read, checks lineage and serial, then writes a temp file, fsyncs it, renames it over the
//!   state and fsyncs the directory. A crash leaves the old or the new document, never a torn
//!   one.
//! - Every written serial is kept under `history/<env>/` with who wrote it and when.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::backend::{HistoryEntry, Stored, Version, WriteKind};
use super::error::StateError;
use super::lock::{LockInfo, now, releasable, who};
use super::{MAX_SERIAL, STATE_VERSION, State};
use crate::graph::Kind;

#[derive(Debug, Clone)]
pub struct LocalBackend {
    dir: PathBuf,
    environment: String,
    /// How many kept versions `history/<env>/` holds; older ones are removed.
    keep_versions: usize,
}

/// Kept versions by default (`[state] keep_versions`).
pub const KEEP_VERSIONS: usize = 100;

/// Who wrote a history entry, when, and what it was (beside each kept serial).
#[derive(Debug, Serialize, Deserialize)]
struct WriteRecord {
    when: String,
    who: String,
    #[serde(default)]
    summary: Option<String>,
}

fn io(operation: &'static str, path: &Path, e: &std::io::Error) -> StateError {
    StateError::Io { operation, location: path.display().to_string(), reason: e.to_string() }
}

pub(super) fn digest(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl LocalBackend {
    /// State files of `environment` in `dir` (normally `<workspace>/.ecsops/state`).
    pub fn new(dir: PathBuf, environment: &str) -> Self {
        Self { dir, environment: environment.to_owned(), keep_versions: KEEP_VERSIONS }
    }

    /// Keeps at most `n` versions (at least one).
    #[must_use]
    pub fn keeping(mut self, n: usize) -> Self {
        self.keep_versions = n.max(1);
        self
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.environment))
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.environment))
    }

    fn history_dir(&self) -> PathBuf {
        self.dir.join("history").join(&self.environment)
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io("create", &self.dir, &e))
    }

    pub fn read(&self) -> Result<Option<Stored>, StateError> {
        let Some((bytes, version)) = self.read_raw()? else {
            return Ok(None);
        };
        let state = parse(&self.environment, &self.describe(), &bytes)?;
        Ok(Some(Stored { state, version }))
    }

    /// The stored document's bytes and version, parsed or not.
    pub fn read_raw(&self) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let version = Version(digest(&bytes));
                Ok(Some((bytes, version)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path, &e)),
        }
    }

    fn describe(&self) -> String {
        self.state_path().display().to_string()
    }

    /// Writes `state` if the stored document is still the one `expected` names (`None`: there
    /// must be none yet), and keeps it as a version in `history/` unless it is a step of an
    /// apply, with what `kind` says wrote it.
    pub fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
        kind: WriteKind,
    ) -> Result<Version, StateError> {
        check_environment(&self.environment, state)?;
        self.ensure_dir()?;
        let mutex_path = self.dir.join(format!("{}.write-lock", self.environment));
        let mutex = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&mutex_path)
            .map_err(|e| io("open", &mutex_path, &e))?;
        mutex.lock().map_err(|e| io("lock", &mutex_path, &e))?;
        let raw = self.read_raw()?;
        let raw = raw.as_ref().map(|(b, v)| (b.as_slice(), v));
        check_replace(&self.environment, &self.describe(), raw, state, expected, kind)?;
        let bytes = serialize(state);
        let path = self.state_path();
        let tmp = self.dir.join(format!(".{}.json.{}.tmp", self.environment, uuid::Uuid::new_v4()));
        write_synced(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path).map_err(|e| io("replace", &path, &e))?;
        sync_dir(&self.dir)?;
        if kind != WriteKind::Step {
            self.keep_history(state, &bytes, kind.summary(state));
        }
        drop(mutex);
        Ok(Version(digest(&bytes)))
    }

    /// Best effort: history is a convenience, the state itself is already safe.
    fn keep_history(&self, state: &State, bytes: &[u8], summary: Option<String>) {
        let dir = self.history_dir();
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let serial = state.serial;
        let _ = std::fs::write(dir.join(format!("{serial:010}.json")), bytes);
        let record = WriteRecord { when: now(), who: who(), summary };
        if let Ok(json) = serde_json::to_vec(&record) {
            let _ = std::fs::write(dir.join(format!("{serial:010}.meta.json")), json);
        }
        // Retention: the newest `keep_versions`.
        let mut kept: Vec<u64> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
            .collect();
        kept.sort_unstable();
        let excess = kept.len().saturating_sub(self.keep_versions);
        for old in &kept[..excess] {
            let _ = std::fs::remove_file(dir.join(format!("{old:010}.json")));
            let _ = std::fs::remove_file(dir.join(format!("{old:010}.meta.json")));
        }
    }

    pub fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let dir = self.history_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &dir, &e)),
        };
        let mut out: Vec<HistoryEntry> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let serial: u64 = name.strip_suffix(".json")?.parse().ok()?;
                let record: Option<WriteRecord> =
                    std::fs::read(dir.join(format!("{serial:010}.meta.json")))
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok());
                Some(HistoryEntry {
                    serial,
                    when: record.as_ref().map(|r| r.when.clone()),
                    who: record.as_ref().map(|r| r.who.clone()),
                    summary: record.and_then(|r| r.summary),
                    version: e.path().display().to_string(),
                })
            })
            .collect();
        out.sort_by_key(|h| std::cmp::Reverse(h.serial));
        Ok(out)
    }

    pub fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        self.ensure_dir()?;
        let path = self.lock_path();
        let tmp = self.dir.join(format!(".{}.lock.{}.tmp", self.environment, info.id));
        let body = serde_json::to_vec_pretty(info).unwrap_or_default();
        write_synced(&tmp, &body)?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            // A lock that may not survive a crash is not taken: the caller gets the error and
            // never releases, so the file it linked must not stay behind, held by nobody.
            Ok(()) => sync_dir(&self.dir).inspect_err(|_| {
                let _ = std::fs::remove_file(&path);
            }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = self.read_lock()?.unwrap_or_else(|| unknown_holder(info));
                // Taking a lock we already hold succeeds, as on S3 (where a retried write
                // finds its own lock).
                if holder.id == info.id {
                    return Ok(());
                }
                Err(StateError::LockHeld {
                    environment: self.environment.clone(),
                    holder: Box::new(holder),
                })
            }
            Err(e) => Err(io("create", &path, &e)),
        }
    }

    pub fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path();
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).map_err(|e| StateError::LockCorrupt {
                environment: self.environment.clone(),
                location: path.display().to_string(),
                reason: format!("{e}; remove the file by hand"),
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path, &e)),
        }
    }

    pub fn unlock(&self, id: &str) -> Result<(), StateError> {
        releasable(&self.environment, self.read_lock()?, id)?;
        let path = self.lock_path();
        std::fs::remove_file(&path).map_err(|e| io("remove", &path, &e))?;
        sync_dir(&self.dir)
    }
}

/// A lock that vanished between our failed create and our read: report it as held anyway.
fn unknown_holder(ours: &LockInfo) -> LockInfo {
    LockInfo {
        id: "(released meanwhile)".to_owned(),
        operation: "unknown".to_owned(),
        who: "unknown".to_owned(),
        when: ours.when.clone(),
        version: "unknown".to_owned(),
        commit: None,
        account: None,
        caller: None,
    }
}

/// The first rule of every backend's write, before it reads or creates anything: only a
/// document of this environment is written, whatever is stored (nothing, a state, or one that
/// does not parse), so what is stored as `environment`'s always says so.
pub(super) fn check_environment(environment: &str, new: &State) -> Result<(), StateError> {
    if new.environment == environment {
        return Ok(());
    }
    Err(StateError::WrongEnvironment {
        environment: environment.to_owned(),
        given: new.environment.clone(),
    })
}

/// The rules every backend applies before writing, on the stored document as read (`raw`: its
/// bytes and version). A document that does not parse may only be replaced by a writer naming
/// its version, one that read it and chose to overwrite it (`state push --force`).
pub(super) fn check_replace(
    environment: &str,
    location: &str,
    raw: Option<(&[u8], &Version)>,
    new: &State,
    expected: Option<&Version>,
    kind: WriteKind,
) -> Result<(), StateError> {
    let current = match raw {
        None => None,
        Some((bytes, version)) => match parse(environment, location, bytes) {
            Ok(state) => Some(Stored { state, version: version.clone() }),
            Err(StateError::Corrupt { .. }) if expected == Some(version) => return Ok(()),
            Err(e) => return Err(e),
        },
    };
    check_write(environment, current.as_ref(), new, expected, kind)
}

/// The compare-and-swap rules every backend applies before writing.
pub(super) fn check_write(
    environment: &str,
    current: Option<&Stored>,
    new: &State,
    expected: Option<&Version>,
    kind: WriteKind,
) -> Result<(), StateError> {
    match (current, expected) {
        (None, None) => Ok(()),
        (Some(c), Some(v)) if &c.version == v => {
            if c.state.lineage != new.lineage && kind != WriteKind::ForcedPush {
                return Err(StateError::LineageMismatch {
                    environment: environment.to_owned(),
                    given: new.lineage.clone(),
                    stored: c.state.lineage.clone(),
                });
            }
            if new.serial <= c.state.serial {
                return Err(StateError::StaleSerial {
                    environment: environment.to_owned(),
                    given: new.serial,
                    stored: c.state.serial,
                });
            }
            Ok(())
        }
        (current, _) => Err(StateError::Conflict {
            environment: environment.to_owned(),
            current_serial: current.map_or(0, |c| c.state.serial),
        }),
    }
}

pub(super) fn parse(environment: &str, location: &str, bytes: &[u8]) -> Result<State, StateError> {
    let state = decode(environment, location, bytes)?;
    // Only an ecsops before the environment check wrote one (a push of another environment's
    // document): acting on it would plan and tag that environment's resources as this one's.
    if state.environment != environment {
        return Err(StateError::Corrupt {
            environment: environment.to_owned(),
            location: location.to_owned(),
            reason: format!("it is the state of `{}`, not of `{environment}`", state.environment),
        });
    }
    Ok(state)
}

/// Reads `bytes` at `location` as a state document in this ecsops's format, whichever
/// environment it names: what is stored, and what `state push` is given, so a push never
/// writes a document the next read refuses.
pub fn decode(environment: &str, location: &str, bytes: &[u8]) -> Result<State, StateError> {
    #[derive(serde::Deserialize)]
    struct Format {
        version: u32,
        #[serde(default)]
        resources: BTreeMap<String, Kinded>,
    }
    #[derive(serde::Deserialize)]
    struct Kinded {
        #[serde(default)]
        kind: Option<String>,
    }
    let corrupt = |reason: String| StateError::Corrupt {
        environment: environment.to_owned(),
        location: location.to_owned(),
        reason,
    };
    // The version first: a newer document may have fields this ecsops would reject as unknown.
    let format: Format = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if format.version > STATE_VERSION {
        return Err(StateError::TooNew {
            environment: environment.to_owned(),
            location: location.to_owned(),
            found: format.version,
        });
    }
    if format.version == 0 {
        return Err(corrupt("format version 0 does not exist".to_owned()));
    }
    // A kind this ecsops does not know is most likely one a newer ecsops added.
    let unknown = format.resources.iter().find_map(|(address, r)| {
        let kind = r.kind.as_deref()?;
        (!Kind::ALL.iter().any(|k| k.as_str() == kind)).then_some((address, kind))
    });
    if let Some((address, kind)) = unknown {
        return Err(corrupt(format!(
            "`{address}` is of kind `{kind}`, which this ecsops ({}) does not know: a newer ecsops may have written it",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let mut state: State = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if state.serial > MAX_SERIAL {
        return Err(corrupt(format!(
            "serial {} is above {MAX_SERIAL}, the highest a state may have",
            state.serial
        )));
    }
    // Older formats are subsets of this one: the next write stores them in this format.
    state.version = STATE_VERSION;
    Ok(state)
}

/// What an apply's kept version was, from its revision: `apply ecsops/acc/12 (applied)`.
pub(super) fn summary(state: &State) -> Option<String> {
    let r = state.revision.as_ref()?;
    let what = match (&r.tag, &r.commit) {
        (Some(tag), _) => tag,
        (None, Some(commit)) => crate::gitops::short(commit),
        (None, None) => "outside git",
    };
    let result = result_words(r.result, r.dirty);
    Some(format!("{} {what} ({result})", r.operation.as_str()))
}

/// How an apply ended, as its history entry says it.
fn result_words(result: super::ApplyResult, dirty: bool) -> &'static str {
    match result {
        super::ApplyResult::Applied if dirty => "applied, uncommitted files",
        super::ApplyResult::Applied => "applied",
        super::ApplyResult::RolloutFailed => "rollout failed",
        super::ApplyResult::Failed => "failed",
        super::ApplyResult::Interrupted => "interrupted",
    }
}

pub(super) fn serialize(state: &State) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut f = File::create(path).map_err(|e| io("create", path, &e))?;
    f.write_all(bytes).map_err(|e| io("write", path, &e))?;
    f.sync_all().map_err(|e| io("sync", path, &e))
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("sync", dir, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(version: u32, revision: &str) -> Vec<u8> {
        format!(
            r#"{{"version": {version}, "lineage": "l", "serial": 3, "environment": "acc"{revision}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn an_older_format_is_read_and_written_back_as_this_one() {
        let v1 = r#", "revision": {"commit": "abc", "applied_at": "2026-01-01T00:00:00Z", "applied_by": "a@b"}"#;
        let state = parse("acc", "here", &document(1, v1)).expect("version 1 reads");
        assert_eq!(state.version, STATE_VERSION);
        let revision = state.revision.expect("the revision");
        assert!(!revision.dirty);
        assert_eq!(revision.tag, None);
    }

    #[test]
    fn a_stored_document_of_another_environment_reads_as_not_valid() {
        let err = parse("qa", "here", &document(2, "")).expect_err("`acc`'s document in `qa`");
        assert!(
            matches!(&err, StateError::Corrupt { reason, .. }
                if reason == "it is the state of `acc`, not of `qa`"),
            "{err}"
        );
    }

    /// Whatever is stored: a forced push over a state that does not parse included.
    #[test]
    fn a_document_of_another_environment_is_never_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = LocalBackend::new(dir.path().join("state"), "qa");
        let acc = parse("acc", "here", &document(2, "")).expect("`acc`'s document");
        let refused = |expected: Option<&Version>| {
            let err = backend
                .write(&acc, expected, WriteKind::Push)
                .expect_err("`acc`'s document is never written as `qa`'s");
            assert!(
                matches!(&err, StateError::WrongEnvironment { environment, given }
                    if environment == "qa" && given == "acc"),
                "{err}"
            );
        };
        refused(None);
        assert!(!dir.path().join("state").exists(), "nothing created");
        let mut qa = acc.clone();
        qa.environment = "qa".to_owned();
        let version = backend.write(&qa, None, WriteKind::Push).expect("`qa`'s own document");
        refused(Some(&version));
        let truncated = b"{\"version\": 2, \"lin";
        std::fs::write(backend.state_path(), truncated).expect("truncate");
        let raw = backend.read_raw().expect("raw").map(|(_, v)| v);
        refused(raw.as_ref());
        assert_eq!(std::fs::read(backend.state_path()).expect("state"), truncated);
    }

    #[test]
    fn a_serial_no_write_can_move_past_reads_as_not_valid() {
        let at_most = format!(
            r#"{{"version": 2, "lineage": "l", "serial": {MAX_SERIAL}, "environment": "acc"}}"#
        );
        assert!(parse("acc", "here", at_most.as_bytes()).is_ok());
        let above = at_most.replace(&MAX_SERIAL.to_string(), &u64::MAX.to_string());
        let err = parse("acc", "here", above.as_bytes()).expect_err("u64::MAX");
        assert!(
            matches!(&err, StateError::Corrupt { reason, .. } if reason.contains("is above")),
            "{err}"
        );
    }

    #[test]
    fn a_newer_format_is_refused_with_what_to_do() {
        let newer = r#", "something_new": true"#;
        let err = parse("acc", "here", &document(STATE_VERSION + 1, newer))
            .expect_err("a newer format is refused");
        assert!(matches!(err, StateError::TooNew { found, .. } if found == STATE_VERSION + 1));
        assert!(err.to_string().contains("upgrade ecsops"), "{err}");
    }

    #[test]
    fn a_kind_this_ecsops_does_not_know_is_named_as_perhaps_newer() {
        let known = r#"{"version": 2, "lineage": "l", "serial": 1, "environment": "acc",
            "resources": {"vpc": {"kind": "vpc", "id": "vpc-1"}}}"#;
        assert!(parse("acc", "here", known.as_bytes()).is_ok());
        let unknown = known.replace(r#""kind": "vpc""#, r#""kind": "quantum_link""#);
        let err = parse("acc", "here", unknown.as_bytes()).expect_err("unknown kind");
        assert!(
            err.to_string().contains(&format!(
                "`vpc` is of kind `quantum_link`, which this ecsops ({}) does not know: a newer ecsops may have written it",
                env!("CARGO_PKG_VERSION")
            )),
            "{err}"
        );
    }
}
