//! Where an environment's state lives, chosen once per command: `--state-url` (or
//! `ECSOPS_STATE_URL`), else the manifest's `[state]` table, else the local default
//! `.ecsops/state/<env>.json`. Every backend offers the same operations with the same rules
//! (compare-and-swap writes, exclusive locks that only `unlock` with the right id removes).

use std::path::{Path, PathBuf};

use super::State;
use super::error::StateError;
use super::local::LocalBackend;
use super::lock::LockInfo;
use super::s3::S3Backend;
use crate::account::Credentials;
use crate::manifest::{StateBackendKind, StateConfig};

/// Opaque token of a stored document (a digest or an ETag): a write names the version it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

/// A state document and the version it was read at.
#[derive(Debug, Clone)]
pub struct Stored {
    pub state: State,
    pub version: Version,
}

/// One kept version of the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub serial: u64,
    pub when: Option<String>,
    pub who: Option<String>,
    /// What wrote it: the apply's operation, tag or commit and result (`None`: a push).
    pub summary: Option<String>,
    /// Where that version is kept (a file, or an S3 version id).
    pub version: String,
}

/// What a write is: it decides whether the local history keeps the version and what its
/// history entry says wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A step of an apply: saved, not kept in the history (a versioned bucket keeps it all the
    /// same).
    Step,
    /// An apply's last save: kept, summarised by the revision it records.
    Apply,
    /// `state push`: kept, without a summary. The document's revision is the apply that wrote
    /// its resources (copied from wherever it was pulled), not this write.
    Push,
    /// `state push --force`: a push that may bring another lineage (the document's own, which
    /// its resources' ownership tags carry).
    ForcedPush,
}

impl WriteKind {
    /// The history entry's summary of a version written as `self`.
    pub(super) fn summary(self, state: &State) -> Option<String> {
        match self {
            Self::Step | Self::Apply => super::local::summary(state),
            Self::Push | Self::ForcedPush => None,
        }
    }
}

/// Where the state is, before connecting to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Directory holding `<env>.json`.
    Local(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        region: Option<String>,
    },
}

impl Location {
    /// Resolves the location from an explicit URL, or the manifest's `[state]`, or the default.
    pub fn resolve(
        url: Option<&str>,
        config: &StateConfig,
        workspace: &Path,
    ) -> Result<Self, StateError> {
        if let Some(url) = url {
            return Self::parse_url(url, workspace);
        }
        match config.backend {
            StateBackendKind::Local => Ok(Self::Local(workspace.join(".ecsops/state"))),
            StateBackendKind::S3 => {
                let bucket = config.bucket.clone().filter(|b| !b.is_empty()).ok_or_else(|| {
                    StateError::InvalidUrl {
                        url: "[state] backend = \"s3\"".to_owned(),
                        reason: "`bucket` is not set".to_owned(),
                    }
                })?;
                Ok(Self::S3 {
                    bucket,
                    prefix: config.prefix.clone().unwrap_or_default().trim_matches('/').to_owned(),
                    region: config.region.clone(),
                })
            }
        }
    }

    fn parse_url(url: &str, workspace: &Path) -> Result<Self, StateError> {
        let bad = |reason: &str| StateError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket: write `s3://bucket/prefix`"));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                region: None,
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(bad("no path: write `file://path/to/dir`"));
            }
            let p = Path::new(path);
            return Ok(Self::Local(if p.is_absolute() {
                p.to_path_buf()
            } else {
                workspace.join(p)
            }));
        }
        Err(bad("use `s3://bucket/prefix` or `file://path`"))
    }

    /// How the location reads in messages.
    pub fn describe(&self, environment: &str) -> String {
        match self {
            Self::Local(dir) => dir.join(format!("{environment}.json")).display().to_string(),
            Self::S3 { bucket, prefix, .. } => {
                format!("s3://{bucket}/{}", s3_key(prefix, environment, "state.json"))
            }
        }
    }
}

/// `<prefix>/<env>/<name>` without a leading slash when the prefix is empty.
pub fn s3_key(prefix: &str, environment: &str, name: &str) -> String {
    if prefix.is_empty() {
        format!("{environment}/{name}")
    } else {
        format!("{prefix}/{environment}/{name}")
    }
}

/// A connected backend for one environment.
#[derive(Debug, Clone)]
pub enum Backend {
    Local(LocalBackend),
    S3(S3Backend),
}

impl Backend {
    /// Connects with `credentials` (S3); an S3 bucket's region is the location's, else the bucket's own (asked once),
    /// else `fallback` (the environment's), else the shell's.
    pub async fn connect(
        location: &Location,
        environment: &str,
        fallback: Option<&str>,
        credentials: &Credentials,
    ) -> Result<Self, StateError> {
        match location {
            Location::Local(dir) => Ok(Self::Local(LocalBackend::new(dir.clone(), environment))),
            Location::S3 { bucket, prefix, region } => Ok(Self::S3(
                S3Backend::connect(
                    bucket,
                    prefix,
                    region.as_deref(),
                    fallback,
                    environment,
                    credentials,
                )
                .await,
            )),
        }
    }

    pub async fn read(&self) -> Result<Option<Stored>, StateError> {
        match self {
            Self::Local(b) => b.read(),
            Self::S3(b) => b.read().await,
        }
    }

    /// The stored document's version without parsing it: a forced push names it to replace a
    /// state that does not parse.
    pub async fn raw_version(&self) -> Result<Option<Version>, StateError> {
        let raw = match self {
            Self::Local(b) => b.read_raw()?,
            Self::S3(b) => b.read_raw().await?,
        };
        Ok(raw.map(|(_, v)| v))
    }

    /// Writes an apply's last save, kept in the history with the revision it records.
    pub async fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        self.write_as(state, expected, WriteKind::Apply).await
    }

    /// Writes a step of an apply: saved like any write, not kept in the local history (a
    /// versioned bucket keeps every write; a lifecycle rule on noncurrent versions trims them).
    pub async fn write_step(
        &self,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        self.write_as(state, expected, WriteKind::Step).await
    }

    /// Writes a pushed document, kept in the history as a push (`state history` shows
    /// `state push`, not the apply the document's revision names).
    pub async fn push(
        &self,
        state: &State,
        expected: Option<&Version>,
        force: bool,
    ) -> Result<Version, StateError> {
        let kind = if force { WriteKind::ForcedPush } else { WriteKind::Push };
        self.write_as(state, expected, kind).await
    }

    async fn write_as(
        &self,
        state: &State,
        expected: Option<&Version>,
        kind: WriteKind,
    ) -> Result<Version, StateError> {
        match self {
            Self::Local(b) => b.write(state, expected, kind),
            Self::S3(b) => b.write(state, expected, kind).await,
        }
    }

    /// Keeps at most `n` versions in the history (at least one).
    #[must_use]
    pub fn keeping(self, n: Option<u32>) -> Self {
        let Some(n) = n else { return self };
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        match self {
            Self::Local(b) => Self::Local(b.keeping(n)),
            Self::S3(b) => Self::S3(b.keeping(n)),
        }
    }

    pub async fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        match self {
            Self::Local(b) => b.lock(info),
            Self::S3(b) => b.lock(info).await,
        }
    }

    pub async fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        match self {
            Self::Local(b) => b.read_lock(),
            Self::S3(b) => b.read_lock().await,
        }
    }

    pub async fn unlock(&self, id: &str) -> Result<(), StateError> {
        match self {
            Self::Local(b) => b.unlock(id),
            Self::S3(b) => b.unlock(id).await,
        }
    }

    pub async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        match self {
            Self::Local(b) => b.history(),
            Self::S3(b) => b.history().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_from_url_then_manifest_then_default() {
        let ws = Path::new("/ws");
        let local = StateConfig::default();
        assert_eq!(
            Location::resolve(None, &local, ws).expect("default"),
            Location::Local(PathBuf::from("/ws/.ecsops/state"))
        );
        let s3 = StateConfig {
            backend: StateBackendKind::S3,
            bucket: Some("b".to_owned()),
            prefix: Some("/team/".to_owned()),
            region: Some("eu-west-1".to_owned()),
            ..StateConfig::default()
        };
        let Location::S3 { bucket, prefix, .. } = Location::resolve(None, &s3, ws).expect("s3")
        else {
            panic!("expected s3");
        };
        assert_eq!((bucket.as_str(), prefix.as_str()), ("b", "team"));
        assert_eq!(
            Location::resolve(Some("file://state"), &s3, ws).expect("url wins"),
            Location::Local(PathBuf::from("/ws/state"))
        );
        assert!(matches!(
            Location::resolve(Some("s3://bkt/p/q"), &local, ws).expect("s3 url"),
            Location::S3 { ref prefix, .. } if prefix == "p/q"
        ));
        assert!(Location::resolve(Some("gs://x"), &local, ws).is_err());
        assert!(Location::resolve(Some("s3:///x"), &local, ws).is_err());
        let no_bucket = StateConfig { backend: StateBackendKind::S3, ..StateConfig::default() };
        assert!(Location::resolve(None, &no_bucket, ws).is_err());
        assert_eq!(s3_key("", "acc", "lock.json"), "acc/lock.json");
    }
}
