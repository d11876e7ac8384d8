//! The environment's AWS session: its configuration (region, profile, assumed role) and the
//! caller STS reports for it, refused when `[environment] account_id` names another account.
//! Opened once per command, before the lock is taken or the state read, and handed to
//! everything that reaches the environment's resources.

use crate::account::{self, AccountError, Bound, Caller, Credentials};
use crate::manifest::Manifest;
use crate::provider::Ownership;
use crate::provider::aws::identity::CallerError;
use crate::provider::aws::sdk::SdkConfig;
use crate::provider::aws::{AwsProvider, Connection, identity, load_config};
use crate::state::State;

use super::OpsError;

/// Credentials checked against the environment's account.
#[derive(Debug)]
pub(crate) struct Session {
    config: SdkConfig,
    credentials: Credentials,
    pub caller: Caller,
}

impl Session {
    /// Loads the environment's configuration, asks STS who it is, and refuses another account
    /// than the manifest's `account_id`.
    pub(crate) async fn open(environment: &str, manifest: &Manifest) -> Result<Self, OpsError> {
        let env = &manifest.environment;
        let credentials = Credentials::of_environment(env, environment);
        let config = load_config(&Connection {
            region: env.region.clone().unwrap_or_default(),
            credentials: credentials.clone(),
            ..Connection::default()
        })
        .await;
        let caller = identity::caller(&config, &credentials).await.map_err(|e| match e {
            CallerError::Unreachable(reason) => AccountError::Unreachable {
                environment: environment.to_owned(),
                endpoint: config.endpoint_url().map(str::to_owned),
                reason,
            },
            CallerError::Refused(reason) => AccountError::Unknown {
                environment: environment.to_owned(),
                credentials: credentials.describe(),
                reason: match (&credentials.profile, identity::no_config_files()) {
                    (Some(profile), Some(files)) => {
                        format!("profile `{profile}` is defined nowhere: neither {files} exists")
                    }
                    _ => reason,
                },
            },
        })?;
        account::check(
            environment,
            env.account_id.as_deref(),
            Bound::Manifest,
            &caller,
            &credentials,
        )?;
        Ok(Self { config, credentials, caller })
    }

    /// Refuses a state whose resources are in another account than the caller's (a bound
    /// environment was checked already; this catches the unbound ones).
    pub(crate) fn check_recorded(&self, state: &State) -> Result<(), OpsError> {
        Ok(account::check(
            &state.environment,
            state.account().as_deref(),
            Bound::State,
            &self.caller,
            &self.credentials,
        )?)
    }

    /// The AWS provider for the environment's resources recorded in `state`.
    pub(crate) fn provider(&self, state: &State) -> AwsProvider {
        AwsProvider::new(
            &self.config,
            Ownership { environment: state.environment.clone(), lineage: state.lineage.clone() },
        )
    }
}

/// Whether the manifest binds the environment to an account or credentials of its own: then
/// even a diff that reads nothing else from AWS checks them.
fn bound(manifest: &Manifest) -> bool {
    let env = &manifest.environment;
    env.account_id.is_some() || env.role_arn.is_some() || env.profile.is_some()
}

/// The first half of the guard of a command that reads the environment's resources (`diff`,
/// `status`), before anything is read: a bound environment's session is opened and checked now,
/// even when nothing else would reach AWS (no state yet).
pub(crate) async fn open_if_bound(
    environment: &str,
    manifest: &Manifest,
) -> Result<Option<Session>, OpsError> {
    if bound(manifest) { Session::open(environment, manifest).await.map(Some) } else { Ok(None) }
}

/// The second half, once the state is read: an unbound environment's session is opened when
/// the state has resources to read from AWS (`reads`), and any session is checked against the
/// account the state records.
pub(crate) async fn for_state(
    session: Option<Session>,
    environment: &str,
    manifest: &Manifest,
    state: Option<&State>,
    reads: bool,
) -> Result<Option<Session>, OpsError> {
    let session = match session {
        None if reads => Some(Session::open(environment, manifest).await?),
        opened => opened,
    };
    if let (Some(state), Some(session)) = (state, &session) {
        session.check_recorded(state)?;
    }
    Ok(session)
}

impl From<AccountError> for OpsError {
    fn from(e: AccountError) -> Self {
        Self::Account(Box::new(e))
    }
}
