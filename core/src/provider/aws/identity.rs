//! Who the SDK acts as: the manifest's [`Credentials`] turned into an [`SdkConfig`] (a named
//! profile, a role assumed on top of the base credentials), and STS `GetCallerIdentity` asked
//! once per process for each of them.
//!
//! The assumed role's credentials sit behind the configuration's identity cache, which asks
//! STS again shortly before they expire, so an apply longer than the session keeps going.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{ConfigLoader, SdkConfig};
use aws_sdk_sts::config::SharedCredentialsProvider;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use crate::account::{Caller, Credentials};

/// Loads the configuration `loader` describes with `credentials` on top: the profile chooses
/// the base credentials, the role is assumed with them.
pub async fn configure(mut loader: ConfigLoader, credentials: &Credentials) -> SdkConfig {
    if let Some(profile) = &credentials.profile {
        loader = loader.profile_name(profile);
    }
    // Boxed: loading is a large future, and every command that reaches AWS awaits one.
    let mut base = Box::pin(loader.load()).await;
    if let Some(profile) = &credentials.profile {
        // The profile's own credentials, even when the shell exports others: the default
        // chain would let AWS_ACCESS_KEY_ID win over the profile the manifest names.
        let provider = ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .configure(&ProviderConfig::without_region().with_region(base.region().cloned()))
            .build();
        base = base
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    let Some(role) = &credentials.role else {
        return base;
    };
    let mut assume = AssumeRoleProvider::builder(&role.arn)
        .session_name(&role.session_name)
        .session_length(role.duration)
        .configure(&base);
    if let Some(id) = &role.external_id {
        assume = assume.external_id(id);
    }
    let provider = Box::pin(assume.build()).await;
    base.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
}

/// The AWS config files the SDK would read a profile from (`AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`), listed when
/// none of them exists: a profile is then defined nowhere, which the SDK words only as "the
/// credential provider was not enabled".
pub fn no_config_files() -> Option<String> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let files: Vec<_> =
        [file("AWS_CONFIG_FILE", "config"), file("AWS_SHARED_CREDENTIALS_FILE", "credentials")]
            .into_iter()
            .flatten()
            .collect();
    (!files.iter().any(|f| f.exists())).then(|| {
        let shown: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
        shown.join(" nor ")
    })
}

/// Asked callers by credentials, region and endpoint: one request per process for each.
type Asked = HashMap<(Credentials, Option<String>, Option<String>), Caller>;

fn asked() -> &'static Mutex<Asked> {
    static ASKED: OnceLock<Mutex<Asked>> = OnceLock::new();
    ASKED.get_or_init(Mutex::default)
}

/// Why STS could not say who the credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerError {
    /// No answer: the connection failed or timed out (the network, a proxy, an endpoint URL).
    Unreachable(String),
    /// An answer or a local failure that says the credentials are the problem (none found, a
    /// role that cannot be assumed, a profile that does not exist).
    Refused(String),
}

/// Who `config` (loaded with `credentials`) acts as; `Err` with the SDK's explanation when
/// STS cannot tell.
pub async fn caller(config: &SdkConfig, credentials: &Credentials) -> Result<Caller, CallerError> {
    let key = (
        credentials.clone(),
        config.region().map(ToString::to_string),
        config.endpoint_url().map(str::to_owned),
    );
    let known =
        asked().lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).cloned();
    if let Some(caller) = known {
        return Ok(caller);
    }
    let out = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(|e| {
        let unreachable = match &e {
            SdkError::TimeoutError(_) => true,
            SdkError::DispatchFailure(d) => super::unreachable(d),
            _ => false,
        };
        match e.code() {
            Some(code) => {
                CallerError::Refused(format!("{code}: {}", e.message().unwrap_or_default()))
            }
            None if unreachable => CallerError::Unreachable(super::error_chain(&e)),
            None => CallerError::Refused(super::error_chain(&e)),
        }
    })?;
    let caller = Caller {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
    };
    asked().lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, caller.clone());
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::provider::aws::{Connection, load_config};

    /// An endpoint that takes the connection and never answers (a hung proxy) ends each attempt
    /// at the attempt timeout, and is reported as unreachable, not as a credentials problem.
    #[tokio::test]
    async fn an_endpoint_that_never_answers_is_unreachable_after_the_attempt_timeout() {
        // The kernel completes the handshake from the backlog; nobody ever reads.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let config = load_config(&Connection {
            region: "eu-west-1".to_owned(),
            endpoint_url: Some(endpoint),
            static_credentials: Some(("AKIDEXAMPLE".to_owned(), "secret".to_owned())),
            attempt_timeout: Some(Duration::from_millis(300)),
            ..Connection::default()
        })
        .await;
        let started = Instant::now();
        let err = caller(&config, &Credentials::default()).await.expect_err("nobody answers");
        assert!(matches!(err, CallerError::Unreachable(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
        drop(listener);
    }
}
