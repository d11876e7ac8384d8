//! What the AWS-facing tests share: the example acceptance manifest, an SDK configuration for
//! the emulator, and a provider owning the acceptance environment under a given lineage.

use ecsops_core::diagnostic::Diagnostics;
use ecsops_core::manifest::{Manifest, load_environment};
use ecsops_core::provider::Ownership;
use ecsops_core::provider::aws::sdk::SdkConfig;
use ecsops_core::provider::aws::{AwsProvider, Connection, load_config};
use ecsops_core::source::Sources;
use ecsops_core::workspace::Workspace;

use super::moto::REGION;
use super::repo_root;

/// The environment of the example workspace the tests build.
pub const ENV: &str = "acceptance";

/// The example acceptance manifest, merged and valid.
pub fn acceptance_manifest() -> Manifest {
    let ws = Workspace::at(repo_root());
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let loaded = load_environment(&ws, ENV, &mut sources, &mut diags).expect("acceptance loads");
    loaded.manifest.expect("acceptance matches the schema")
}

/// An SDK configuration for the emulator at `endpoint`, with fake credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    load_config(&Connection {
        region: REGION.to_owned(),
        endpoint_url: Some(endpoint.to_owned()),
        static_credentials: Some(("testing".to_owned(), "testing".to_owned())),
        ..Connection::default()
    })
    .await
}

/// A provider of the acceptance environment under `lineage`, talking to `endpoint`.
pub async fn provider(endpoint: &str, lineage: &str) -> AwsProvider {
    AwsProvider::new(
        &sdk_config(endpoint).await,
        Ownership { environment: ENV.to_owned(), lineage: lineage.to_owned() },
    )
}
