//! `ecsops events ENV`: what ECS says happened to the environment's services, read through the
//! environment's session (`ops::session`) with the same account checks as `status`. [`open`]
//! does the checks and reads the state once; [`Reader::read`] reads AWS, and `--follow` calls it
//! again for what is new. No lock is taken: nothing changes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::events::{Entry, timeline};
use crate::graph::{Address, Kind};
use crate::provider::aws::{AwsProvider, Wanted};
use crate::state::ResourceState;
use crate::workspace::Workspace;

use super::OpsError;
use super::diff::desired;
use super::session;

/// What `events` reads, with the environment's state read and its session checked.
#[derive(Debug)]
pub struct Reader {
    /// `None` when the environment has nothing recorded: there is nothing to read.
    provider: Option<AwsProvider>,
    /// The state's serial; `None` when the environment has no state (never applied).
    serial: Option<u64>,
    resources: BTreeMap<Address, ResourceState>,
    wanted: Vec<Wanted>,
    since: Option<SystemTime>,
}

/// Opens the reader of `environment`'s service events and stopped tasks: of every service and
/// system container the manifest declares or the state records, or of `service` alone (one
/// of those names, refused otherwise), and of the last `since` only.
pub async fn open(
    ws: &Workspace,
    environment: &str,
    state_url: Option<&str>,
    service: Option<&str>,
    since: Option<Duration>,
) -> Result<Reader, OpsError> {
    let desired = desired(ws, environment)?;
    let manifest = &desired.manifest;
    // The same guard as `status`'s, in its two halves around reading the state.
    let session = session::open_if_bound(environment, manifest).await?;
    let target = super::state::target(ws, environment, state_url).await?;
    let state = target.backend.read().await?.map(|s| s.state);
    let read = state.as_ref().filter(|s| !s.resources.is_empty());
    let session =
        session::for_state(session, environment, manifest, state.as_ref(), read.is_some()).await?;
    let provider = match (read, &session) {
        (Some(s), Some(session)) => Some(session.provider(s)),
        _ => None,
    };
    // The manifest's, then those only the state still records (removed from the manifest,
    // not yet from AWS: still running, maybe failing).
    let mut known: Vec<String> =
        manifest.services.keys().chain(manifest.system_containers.keys()).cloned().collect();
    let recorded = (state.iter().flat_map(|s| &s.resources))
        .filter(|(_, r)| r.kind == Kind::Service)
        .filter_map(|(a, _)| Some(a.key()?.1));
    for name in recorded {
        if !known.iter().any(|k| k == name) {
            known.push(name.to_owned());
        }
    }
    let names = match service {
        None => known,
        Some(name) if known.iter().any(|k| k == name) => vec![name.to_owned()],
        Some(name) => {
            return Err(OpsError::UnknownService {
                environment: environment.to_owned(),
                name: name.to_owned(),
                known,
            });
        }
    };
    Ok(Reader {
        provider,
        serial: state.as_ref().map(|s| s.serial),
        resources: state.map(|s| s.resources).unwrap_or_default(),
        wanted: names
            .into_iter()
            .map(|service| Wanted { service, task_definition: None })
            .collect(),
        since: since.and_then(|d| SystemTime::now().checked_sub(d)),
    })
}

impl Reader {
    /// The service events and stopped tasks ECS has now, oldest first.
    pub async fn read(&self) -> Result<Vec<Entry>, OpsError> {
        let Some(provider) = &self.provider else {
            return Ok(Vec::new());
        };
        let histories = provider.service_histories(&self.resources, &self.wanted).await?;
        Ok(timeline(histories, self.since))
    }

    /// Whether the environment has resources recorded, so that there is anything to read.
    pub fn recorded(&self) -> bool {
        self.provider.is_some()
    }

    /// The serial of the environment's state; `None` when it has none (never applied), as
    /// opposed to a state that records nothing (destroyed).
    pub fn serial(&self) -> Option<u64> {
        self.serial
    }

    /// Requests sent to AWS so far.
    pub fn aws_requests(&self) -> usize {
        self.provider.as_ref().map_or(0, |p| p.calls().total())
    }
}
