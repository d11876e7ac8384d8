//! The example workspace with exclusive use of a freshly reset emulator: what the tests of
//! whole applies share (`apply.rs`, `gitops.rs`); each adds its own helpers in an `impl Env`.

use std::path::Path;

use ecsops_core::provider::aws::sdk::{SdkConfig, ec2};
use serde_json::Value;

use super::moto::{self, MotoGuard};
use super::proxy::Proxy;
use super::{Output, Workspace};

/// The environment the example workspace applies.
pub const ENV: &str = "acceptance";

/// The EC2 filter for resources tagged as the environment's.
pub fn env_filter() -> ec2::types::Filter {
    ec2::types::Filter::builder().name("tag:ecsops:environment").values(ENV).build()
}

pub struct Env {
    pub ws: Workspace,
    pub moto: MotoGuard,
    pub config: SdkConfig,
}

impl Env {
    pub async fn new() -> Self {
        Self::on(moto::moto()).await
    }

    /// On the emulator whose services never finish a rollout ([`moto::stuck_moto`]).
    pub async fn stuck() -> Self {
        Self::on(moto::stuck_moto()).await
    }

    async fn on(moto: MotoGuard) -> Self {
        let config = super::aws::sdk_config(&moto.server.endpoint).await;
        Self { ws: Workspace::example(), moto, config }
    }

    pub fn dir(&self) -> &Path {
        self.ws.path()
    }

    /// `ecsops -C <workspace> <args>` against the emulator.
    pub fn run(&self, args: &[&str]) -> Output {
        self.ws.ecsops_env(args, &self.moto.server.env())
    }

    /// [`Env::run`] with the AWS requests through `proxy`.
    pub fn run_through(&self, proxy: &Proxy, args: &[&str]) -> Output {
        self.ws.ecsops_env(args, &proxy.env(self.moto.server.env()))
    }

    /// Replaces the first `from` in `environments/<file>` with `to`.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        super::edit_manifest(self.dir(), file, from, to);
    }

    /// The local state document of the environment.
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.dir().join(".ecsops/state/acceptance.json"))
            .expect("state file");
        serde_json::from_str(&text).expect("state JSON")
    }

    /// The recorded id of `address`.
    pub fn id(&self, address: &str) -> String {
        self.state()["resources"][address]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id for {address}"))
            .to_owned()
    }

    pub fn ec2(&self) -> ec2::Client {
        ec2::Client::new(&self.config)
    }

    /// The VPCs in the emulator tagged as the environment's.
    pub async fn vpcs(&self) -> Vec<ec2::types::Vpc> {
        self.ec2()
            .describe_vpcs()
            .filters(env_filter())
            .send()
            .await
            .expect("vpcs")
            .vpcs
            .unwrap_or_default()
    }

    /// The id of the lock `ecsops lock --format json` says is held.
    pub fn lock_id(&self) -> String {
        let out = self.run(&["lock", ENV, "--format", "json"]);
        let lock: Value = serde_json::from_str(&out.stdout).expect("JSON");
        lock["holder"]["id"].as_str().unwrap_or_else(|| panic!("no lock held: {lock}")).to_owned()
    }

    /// `ecsops lock` says the lock is free (exit 0), not held (exit 2).
    pub fn assert_unlocked(&self) {
        let out = self.run(&["lock", ENV]);
        out.expect_code(0);
        assert!(out.stdout.contains("is unlocked"), "{}", out.stdout);
    }
}
