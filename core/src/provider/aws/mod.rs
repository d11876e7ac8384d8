//! The AWS provider: SDK clients built from one [`SdkConfig`], dispatch by [`Kind`] to one module
//! per service family, typed errors that keep AWS's code and message, and a log of every request
//! sent (what a test or the benchmark counts).
//!
//! Every family module has the same four entry points (`create`, `update`, `delete`,
//! `refresh`); the kind table ([`Kind::family`]) says which module owns a kind.

pub mod autoscaling;
mod calls;
mod ec2;
pub mod ec2_launch_template;
pub mod ec2_network;
pub mod ec2_security_group;
pub mod ecs;
pub mod elb;
pub mod elbv2;
pub mod events;
pub mod iam;
pub mod identity;
mod live;
pub mod logs;
mod once;
mod ownership;
mod revision;
pub mod roll;
mod service_log;
pub mod sns;
mod status;
mod wait;

pub use service_log::Wanted;
pub use status::LiveStatus;

pub(crate) use wait::{
    aws_says, eventually, remove, remove_request, retry_when, retry_while, tolerate,
};

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

pub use calls::CallLog;

use super::{Applied, Live, Ownership, Provider, ProviderError, Refresh, ResourceSpec, decode};
use crate::graph::attrs::{self, Attributes};
use crate::graph::{Address, Family, Kind, kind_table};
use crate::state::ResourceState;

/// The SDK crates the provider is built on, for callers that describe resources themselves
/// (the tests that assert on the emulator).
pub mod sdk {
    pub use aws_config::SdkConfig;
    pub use aws_sdk_autoscaling as autoscaling;
    pub use aws_sdk_cloudwatchlogs as logs;
    pub use aws_sdk_ec2 as ec2;
    pub use aws_sdk_ecs as ecs;
    pub use aws_sdk_elasticloadbalancing as elb;
    pub use aws_sdk_elasticloadbalancingv2 as elbv2;
    pub use aws_sdk_eventbridge as events;
    pub use aws_sdk_iam as iam;
    pub use aws_sdk_sns as sns;
    pub use aws_sdk_ssm as ssm;
}

/// One client per service, all from one configuration and logging to one [`CallLog`].
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub ssm: aws_sdk_ssm::Client,
}

/// Builds a client of one service crate with the call log's interceptor.
macro_rules! client {
    ($krate:ident, $config:expr, $calls:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($config).interceptor($calls.interceptor()).build(),
        )
    };
}

impl Clients {
    fn new(config: &SdkConfig, calls: &CallLog) -> Self {
        Self {
            ec2: client!(aws_sdk_ec2, config, calls),
            iam: client!(aws_sdk_iam, config, calls),
            logs: client!(aws_sdk_cloudwatchlogs, config, calls),
            sns: client!(aws_sdk_sns, config, calls),
            events: client!(aws_sdk_eventbridge, config, calls),
            ecs: client!(aws_sdk_ecs, config, calls),
            autoscaling: client!(aws_sdk_autoscaling, config, calls),
            elbv2: client!(aws_sdk_elasticloadbalancingv2, config, calls),
            elb: client!(aws_sdk_elasticloadbalancing, config, calls),
            ssm: client!(aws_sdk_ssm, config, calls),
        }
    }
}

/// Where and as whom to reach AWS, beyond what the standard chain (environment, profiles, SSO,
/// `AWS_ENDPOINT_URL`) says.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The manifest's region; wins over the environment's.
    pub region: String,
    /// An endpoint for every service (an emulator); `AWS_ENDPOINT_URL` does the same.
    pub endpoint_url: Option<String>,
    /// Fixed credentials `(access key id, secret)`, for emulators; otherwise the standard chain.
    pub static_credentials: Option<(String, String)>,
    /// The manifest's profile or role, on top of the base credentials.
    pub credentials: crate::account::Credentials,
    /// How long one attempt of a request may take; `ATTEMPT_TIMEOUT` when `None`.
    pub attempt_timeout: Option<Duration>,
}

/// How long one attempt of a request may take, connecting included. The SDK sets no limit, so
/// an endpoint that accepts connections but never answers (a hung proxy) would hold a command
/// for ever; like the AWS CLI's default read timeout, a minute is far beyond any API call
/// ecsops makes, and the retry policy then decides what happens next.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_mins(1);

/// The SDK defaults ecsops builds every configuration from: the latest behaviour, and a limit
/// to each attempt (`attempt`, connecting included) beside the connect timeout, and retries:
/// the standard backoff in adaptive mode, which also rate-limits the client once AWS starts
/// throttling, with `AWS_MAX_ATTEMPTS` attempts (3 unless it is a positive integer). Retries
/// are set here, never left to aws-config: its reading of `AWS_MAX_ATTEMPTS` and
/// `AWS_RETRY_MODE` panics on a value it refuses (`0`, `fast`).
pub(crate) fn config_loader(attempt: Duration) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(attempt)
        .build();
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0);
    let retries = attempts
        .map_or_else(RetryConfig::adaptive, |n| RetryConfig::adaptive().with_max_attempts(n));
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).retry_config(retries)
}

/// Loads the one SDK configuration every client is built from.
pub async fn load_config(connection: &Connection) -> SdkConfig {
    let mut loader = config_loader(connection.attempt_timeout.unwrap_or(ATTEMPT_TIMEOUT))
        .region(Region::new(connection.region.clone()));
    if let Some(url) = &connection.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some((id, secret)) = &connection.static_credentials {
        loader = loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "ecsops-static",
        ));
    }
    identity::configure(loader, &connection.credentials).await
}

/// How long to wait for resources that become ready (or gone) asynchronously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// A NAT gateway becoming `available` or `deleted` (AWS: typically 1–5 minutes).
    pub nat_gateway: Duration,
    /// A dependency AWS releases late (an ENI of a deleted NAT gateway blocking its subnet, an
    /// Elastic IP still associated).
    pub dependency: Duration,
    /// An id AWS returned a moment ago being visible to the next call.
    pub consistency: Duration,
    /// Between two polls.
    pub poll: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            nat_gateway: Duration::from_mins(10),
            dependency: Duration::from_mins(5),
            consistency: Duration::from_mins(1),
            poll: Duration::from_secs(5),
        }
    }
}

/// The AWS implementation of [`Provider`].
#[derive(Debug, Clone)]
pub struct AwsProvider {
    ownership: Ownership,
    clients: Clients,
    waits: Waits,
    calls: CallLog,
}

/// What every family function gets: the clients, whose resources these are, and the waits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx<'a> {
    pub aws: &'a Clients,
    pub own: &'a Ownership,
    pub waits: &'a Waits,
}

/// Family functions reach a service's client as `cx.ec2`: nearly every one of them sends
/// requests, and the `aws` in between said nothing.
impl std::ops::Deref for Cx<'_> {
    type Target = Clients;

    fn deref(&self) -> &Clients {
        self.aws
    }
}

/// The kinds handled by the module that handles `kind`, in table order.
pub(crate) fn family_kinds(kind: Kind) -> Vec<Kind> {
    kind.family().kinds().collect()
}

impl AwsProvider {
    /// Clients for every family from one configuration, each logging its requests to one
    /// [`CallLog`].
    pub fn new(config: &SdkConfig, ownership: Ownership) -> Self {
        let calls = CallLog::default();
        Self { ownership, clients: Clients::new(config, &calls), waits: Waits::default(), calls }
    }

    #[must_use]
    pub fn with_waits(mut self, waits: Waits) -> Self {
        self.waits = waits;
        self
    }

    /// Every request sent so far (one entry per HTTP attempt, pages and retries included).
    pub fn calls(&self) -> &CallLog {
        &self.calls
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.clients.ec2
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// The AMIs SSM `parameters` name now (parameter → AMI id) and the parameters SSM does not
    /// have: one request for every launch template of a plan.
    pub async fn amis(
        &self,
        parameters: &BTreeSet<String>,
    ) -> Done<(BTreeMap<String, String>, Vec<String>)> {
        ec2_launch_template::amis(self.cx(), &Self::templates(), parameters).await
    }

    /// The names and architectures of AMIs `ids`, in one request.
    pub async fn images(
        &self,
        ids: &BTreeSet<String>,
    ) -> Done<BTreeMap<String, ec2_launch_template::Image>> {
        ec2_launch_template::images(self.cx(), &Self::templates(), ids).await
    }

    /// What a failure of a read for every launch template names.
    fn templates() -> Address {
        Address::new(Kind::LaunchTemplate.as_str())
    }

    fn cx(&self) -> Cx<'_> {
        Cx { aws: &self.clients, own: &self.ownership, waits: &self.waits }
    }
}

/// The recorded id and values of a resource, for update and delete.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prior<'a> {
    pub address: &'a Address,
    pub kind: Kind,
    pub id: &'a str,
    pub attributes: &'a BTreeMap<String, serde_json::Value>,
    pub outputs: &'a BTreeMap<String, serde_json::Value>,
}

/// The resource a create makes, beside its typed attributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct New<'a> {
    /// `spec.address`, which every request, error and ownership tag of the create names.
    pub a: &'a Address,
    pub spec: &'a ResourceSpec,
    /// The idempotency token of the create call: the same for a retry of one create, so AWS
    /// makes the resource once (see [`ResourceSpec::client_token`]).
    pub token: &'a str,
}

/// Says where a value that does not fit came from, when it is the state's.
pub(crate) const RECORDED: &str = "as recorded in the state";

/// What to do about a recorded resource whose id (or ARN) the state lacks.
pub(crate) const UNRECORDED_ID: &str = "remove it from the state (`ecsops state pull`, delete its entry, `ecsops state push --force`, which writes the edited document as the next serial) and apply again: ecsops finds it by its tags";

impl<'a> Prior<'a> {
    fn of(address: &'a Address, state: &'a ResourceState) -> Done<Self> {
        let id = state.id.as_deref().ok_or_else(|| ProviderError::Failed {
            address: address.clone(),
            what: format!("the state records no cloud id for it; {UNRECORDED_ID}"),
        })?;
        Ok(Self {
            address,
            kind: state.kind,
            id,
            attributes: &state.attributes,
            outputs: &state.outputs,
        })
    }

    pub fn of_live(address: &'a Address, live: &'a Live) -> Self {
        Self {
            address,
            kind: live.kind,
            id: &live.id,
            attributes: &live.attributes,
            outputs: &live.outputs,
        }
    }

    /// The recorded attributes as the kind's typed struct.
    pub fn decode<A: Attributes>(&self) -> Done<A> {
        decode(self.address, Some("as recorded in the state"), self.attributes)
    }

    /// The recorded outputs as the kind's typed struct; state that lacks one (written by hand,
    /// or by a crash before the output was read) cannot be updated in place.
    pub fn outputs<A: Attributes>(&self) -> Done<A::Outputs> {
        decode(self.address, Some("a recorded output"), self.outputs).map_err(|e| {
            ProviderError::Failed {
                address: self.address.clone(),
                what: format!("{e}; {UNRECORDED_ID}"),
            }
        })
    }
}

/// Fails when an attribute that AWS cannot change in place differs between `prior` and `spec`.
pub(crate) fn ensure_in_place(spec: &ResourceSpec, prior: &Prior<'_>) -> Done<()> {
    let names: BTreeSet<&String> = spec.attributes.keys().chain(prior.attributes.keys()).collect();
    for name in names {
        if spec.attributes.get(name) != prior.attributes.get(name)
            && spec.kind.forces_replacement(name)
        {
            return Err(ProviderError::RequiresReplacement {
                address: spec.address.clone(),
                attribute: name.clone(),
            });
        }
    }
    Ok(())
}

/// What `want` holds that `had` lacks (to attach) and what `had` holds that `want` lacks (to
/// detach), each sorted and without repeats: a set-valued attribute compared as sets, in any
/// order AWS or the manifest lists it.
pub(crate) fn set_changes<'a, T: Ord + Clone + 'a>(
    had: impl IntoIterator<Item = &'a T>,
    want: impl IntoIterator<Item = &'a T>,
) -> (Vec<T>, Vec<T>) {
    let had: BTreeSet<&T> = had.into_iter().collect();
    let want: BTreeSet<&T> = want.into_iter().collect();
    let added = want.difference(&had).map(|t| (*t).clone()).collect();
    let removed = had.difference(&want).map(|t| (*t).clone()).collect();
    (added, removed)
}

/// The state's resources by address: what every family's `refresh` reads.
pub(crate) type Recorded = BTreeMap<Address, ResourceState>;

/// What a provider step ends with: the applied resource, or `()` for a delete.
pub(crate) type Done<T = Applied> = Result<T, ProviderError>;

/// What the provider does for one kind, implemented on the kind's attributes struct by the
/// module of its family. The kind table dispatches to it, so a kind without one does not build;
/// the dispatch decodes the spec, so `want` arrives typed (a spec that does not decode fails
/// before any request).
pub(crate) trait Manage: Attributes {
    /// What a create takes over instead of making a twin: the resource that carries the spec's
    /// ownership tags (one a lost create made, or one made before the state knew it), made
    /// ready to be adopted. The dispatch asks before every create and adopts what this finds
    /// through [`Manage::update`]; a kind AWS cannot find this way (it adopts by its own key
    /// in `create`, or nothing) keeps the default, which finds nothing.
    fn existing(
        _cx: Cx<'_>,
        _spec: &ResourceSpec,
        _want: &Self,
    ) -> impl Future<Output = Done<Option<Live>>> + Send {
        async { Ok(None) }
    }

    /// Creates the resource `want` describes ([`Manage::existing`] found none to adopt).
    fn create(cx: Cx<'_>, new: New<'_>, want: Self) -> impl Future<Output = Done> + Send;

    /// Brings the resource from `prior` to `want` in place; attributes that force a
    /// replacement were refused before this runs.
    fn update(
        cx: Cx<'_>,
        spec: &ResourceSpec,
        want: Self,
        prior: Prior<'_>,
    ) -> impl Future<Output = Done> + Send;

    /// Deletes the resource; already gone is success.
    fn delete(cx: Cx<'_>, prior: Prior<'_>) -> impl Future<Output = Done<()>> + Send;
}

/// Calls one entry point of the family's module: `dispatch!(family, create(args...))`.
macro_rules! dispatch {
    ($family:expr, $f:ident($($arg:expr),*)) => {
        match $family {
            Family::Ec2Network => Box::pin(ec2_network::$f($($arg),*)).await,
            Family::Ec2SecurityGroup => Box::pin(ec2_security_group::$f($($arg),*)).await,
            Family::Ec2LaunchTemplate => Box::pin(ec2_launch_template::$f($($arg),*)).await,
            Family::Iam => Box::pin(iam::$f($($arg),*)).await,
            Family::Logs => Box::pin(logs::$f($($arg),*)).await,
            Family::Sns => Box::pin(sns::$f($($arg),*)).await,
            Family::Events => Box::pin(events::$f($($arg),*)).await,
            Family::Autoscaling => Box::pin(autoscaling::$f($($arg),*)).await,
            Family::Ecs => Box::pin(ecs::$f($($arg),*)).await,
            Family::Elbv2 => Box::pin(elbv2::$f($($arg),*)).await,
            Family::Elb => Box::pin(elb::$f($($arg),*)).await,
        }
    };
}

/// The kind table as the provider's dispatch: every kind to its [`Manage`] implementation (a
/// kind without one does not build).
macro_rules! manage_kinds {
    ($(
        $kind:ident: $name:literal, $family:ident, $replacement:ident,
            forces $forces:tt, outputs $outputs:ident, update_changes $changed:tt;
    )*) => {
        async fn create_kind(
            cx: Cx<'_>,
            spec: &ResourceSpec,
            token_seed: u64,
        ) -> Done {
            match spec.kind {
                $(Kind::$kind => Box::pin(create_or_adopt::<attrs::$kind>(cx, spec, token_seed)).await,)*
            }
        }

        async fn update_kind(
            cx: Cx<'_>,
            spec: &ResourceSpec,
            prior: Prior<'_>,
        ) -> Done {
            match spec.kind {
                $(Kind::$kind => Box::pin(<attrs::$kind as Manage>::update(cx, spec, spec.decode()?, prior)).await,)*
            }
        }

        async fn delete_kind(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
            match prior.kind {
                $(Kind::$kind => Box::pin(<attrs::$kind as Manage>::delete(cx, prior)).await,)*
            }
        }
    };
}

kind_table!(manage_kinds);

/// Adopts what [`Manage::existing`] finds, or creates.
async fn create_or_adopt<M: Manage>(cx: Cx<'_>, spec: &ResourceSpec, token_seed: u64) -> Done {
    let want: M = spec.decode()?;
    if let Some(live) = M::existing(cx, spec, &want).await? {
        return ownership::adopt(cx, spec, want, &live).await;
    }
    let token = spec.client_token(&cx.own.lineage, token_seed);
    let new = New { a: &spec.address, spec, token: &token };
    M::create(cx, new, want).await
}

impl Provider for AwsProvider {
    /// A create whose outcome is unknown (its response was lost) runs again from the top,
    /// which looks for what the lost attempt made and adopts it (see `once`).
    async fn create(&self, spec: &ResourceSpec, token_seed: u64) -> Done {
        let mut reruns = 0;
        loop {
            let created = create_kind(self.cx(), spec, token_seed).await;
            match created {
                Err(e) if e.outcome_unknown() && reruns < once::RERUNS => {
                    reruns += 1;
                    tracing::info!(address = %spec.address, error = %e, "the outcome of a create is unknown; looking for what it made");
                    // Gives AWS time to show what the lost attempt made.
                    tokio::time::sleep(self.waits.poll).await;
                }
                result => return result,
            }
        }
    }

    async fn update(&self, spec: &ResourceSpec, prior: &ResourceState) -> Done {
        let prior = Prior::of(&spec.address, prior)?;
        ensure_in_place(spec, &prior)?;
        update_kind(self.cx(), spec, prior).await
    }

    async fn delete(&self, address: &Address, prior: &ResourceState) -> Done<()> {
        let kind = prior.kind;
        let Some(id) = prior.id.as_deref() else {
            // Never created as far as the state knows: nothing to delete.
            return Ok(());
        };
        let prior =
            Prior { address, kind, id, attributes: &prior.attributes, outputs: &prior.outputs };
        delete_kind(self.cx(), prior).await
    }

    async fn retire(&self, address: &Address, current: &ResourceState, keep: u32) -> Done<()> {
        match (current.kind, current.id.as_deref()) {
            (Kind::TaskDefinition, Some(id)) => {
                let current = Prior {
                    address,
                    kind: current.kind,
                    id,
                    attributes: &current.attributes,
                    outputs: &current.outputs,
                };
                ecs::retire_revisions(self.cx(), current, keep).await
            }
            _ => Ok(()),
        }
    }

    async fn refresh(&self, resources: &BTreeMap<Address, ResourceState>) -> Done<Refresh> {
        let families: BTreeSet<Family> = resources.values().map(|r| r.kind.family()).collect();
        // Every family reads at once: none needs another's answer, so the refresh costs the
        // longest family's round trips, not the sum of all of them.
        let resources = Arc::new(resources.clone());
        let mut reads = tokio::task::JoinSet::new();
        for family in families {
            let (provider, resources) = (self.clone(), Arc::clone(&resources));
            reads.spawn(async move {
                let mut part = Refresh::default();
                dispatch!(family, refresh(provider.cx(), &resources, &mut part))?;
                Ok::<_, ProviderError>(part)
            });
        }
        let mut out = Refresh::default();
        for part in joined(reads, "refresh").await? {
            out.absorb(part);
        }
        if !out.untagged.is_empty() {
            return Err(ProviderError::Untagged {
                resources: out.untagged,
                environment: self.ownership.environment.clone(),
                lineage: self.ownership.lineage.clone(),
            });
        }
        Ok(out)
    }
}

/// What every read of `reads` returned, once all finished; the first failure, or a panic of a
/// read passed on. `what` names the reads for a read that was cancelled.
pub(crate) async fn joined<T: 'static>(
    mut reads: tokio::task::JoinSet<Done<T>>,
    what: &str,
) -> Done<Vec<T>> {
    let mut out = Vec::new();
    while let Some(read) = reads.join_next().await {
        match read.map_err(tokio::task::JoinError::try_into_panic) {
            Ok(r) => out.push(r?),
            Err(Ok(panic)) => std::panic::resume_unwind(panic),
            Err(Err(cancelled)) => {
                return Err(ProviderError::Failed {
                    address: Address::new(what),
                    what: format!("a read did not finish: {cancelled}"),
                });
            }
        }
    }
    Ok(out)
}

/// The name of an SDK failure that carries no AWS error code (the request never got an AWS
/// answer): the variant, so a report still says what kind of failure it was.
fn failure_name<E, R>(err: &SdkError<E, R>) -> &'static str {
    match err {
        SdkError::ConstructionFailure(_) => "ConstructionFailure",
        SdkError::TimeoutError(_) => "TimeoutError",
        SdkError::DispatchFailure(_) => "DispatchFailure",
        SdkError::ResponseError(_) => "ResponseError",
        _ => "ServiceError",
    }
}

/// The operation an SDK error type belongs to: `CreateVpc` for `CreateVpcError`. Every
/// operation of the SDK has an error type of its own named so, which spares each call site a
/// hand-written name that a copied call would carry over wrongly.
fn operation<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    let name = name.rsplit("::").next().unwrap_or(name);
    name.strip_suffix("Error").unwrap_or(name)
}

/// An SDK failure as a [`ProviderError::Aws`] naming the resource and the operation.
pub(crate) fn aws_error<E, R>(address: &Address, err: &SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug + 'static,
{
    let (code, message) = if let Some(code) = err.code() {
        (code.to_owned(), err.message().unwrap_or_default().to_owned())
    } else {
        tracing::debug!(error = %DisplayErrorContext(err), "AWS request failed");
        let chain = error_chain(err);
        // An answer without an AWS error in it (a proxy, a gateway or an outage page): its
        // status is all there is to go on, and the chain says only "unhandled error".
        let status = err
            .raw_response()
            .and_then(|r| (r as &dyn std::any::Any).downcast_ref::<HttpResponse>())
            .map(|r| r.status().as_u16());
        let message = match status {
            Some(status) if matches!(err, SdkError::ServiceError(_)) => {
                format!("HTTP {status} without an AWS error in its body ({chain})")
            }
            _ => chain,
        };
        (failure_name(err).to_owned(), message)
    };
    ProviderError::Aws { address: address.clone(), operation: operation::<E>(), code, message }
}

/// Whether a request that never got an answer failed on the way (no connection, a timeout, a
/// connection closed mid-answer, which the client classifies as transient), rather than
/// before it left: a failure the client does not classify is the credentials'.
pub(crate) fn unreachable(d: &aws_smithy_runtime_api::client::result::DispatchFailure) -> bool {
    d.is_io() || d.is_timeout() || d.as_other().is_some()
}

/// The messages of an error and its sources, joined: readable, without the SDK's debug dump.
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `.at(address)?` on an SDK result: a failure names the resource and the operation.
pub(crate) trait AwsResultExt<T> {
    fn at(self, address: &Address) -> Done<T>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug + 'static,
{
    fn at(self, address: &Address) -> Done<T> {
        self.map_err(|e| aws_error(address, &e))
    }
}

/// Sends a fluent SDK call, which the SDK may resend after a transport failure, and names a
/// failure for the resource at `$address`: `send!(a, cx.ec2.describe_vpcs().vpc_ids(id))?`.
/// Calls that create something go through [`send_once!`](once::send_once) instead.
macro_rules! send {
    ($address:expr, $call:expr $(,)?) => {
        $crate::provider::aws::AwsResultExt::at($call.send().await, $address)
    };
}
pub(crate) use send;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_an_aws_error_names_its_http_status() {
        use aws_sdk_ec2::error::ErrorMetadata;
        use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
        use aws_smithy_runtime_api::http::StatusCode;

        let raw = HttpResponse::new(
            StatusCode::try_from(503).expect("a status"),
            aws_sdk_s3::primitives::SdkBody::from("<html>Service Unavailable</html>"),
        );
        let err =
            SdkError::service_error(CreateVpcError::generic(ErrorMetadata::builder().build()), raw);
        let e = aws_error(&Address::new("vpc"), &err).to_string();
        assert!(
            e.starts_with("`vpc`: CreateVpc failed: ServiceError: HTTP 503 without an AWS error"),
            "{e}"
        );
    }

    /// Error messages name the operation through the SDK's error type, so a compiler that
    /// spelled type names otherwise would show here first.
    #[test]
    fn the_operation_is_the_error_type_without_its_suffix() {
        use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsError;
        use aws_sdk_iam::operation::untag_role::UntagRoleError;

        assert_eq!(operation::<DescribeAutoScalingGroupsError>(), "DescribeAutoScalingGroups");
        assert_eq!(operation::<UntagRoleError>(), "UntagRole");
    }

    #[test]
    fn set_changes_are_sorted_and_ignore_order_and_repeats() {
        let strings =
            |items: &[&str]| -> Vec<String> { items.iter().map(|s| (*s).to_owned()).collect() };
        let had = strings(&["b", "a", "c", "a"]);
        let want = strings(&["e", "c", "b", "d", "e"]);
        assert_eq!(set_changes(&had, &want), (strings(&["d", "e"]), strings(&["a"])));
        assert_eq!(set_changes(&want, &want), (Vec::new(), Vec::new()));
    }

    #[test]
    fn in_place_check_names_the_forcing_attribute() {
        let spec = ResourceSpec {
            address: Address::new("vpc"),
            kind: Kind::Vpc,
            attributes: BTreeMap::from([
                ("cidr_block".to_owned(), serde_json::json!("10.1.0.0/16")),
                ("enable_dns_hostnames".to_owned(), serde_json::json!(true)),
            ]),
        };
        let before = BTreeMap::from([
            ("cidr_block".to_owned(), serde_json::json!("10.0.0.0/16")),
            ("enable_dns_hostnames".to_owned(), serde_json::json!(false)),
        ]);
        let outputs = BTreeMap::new();
        let prior = Prior {
            address: &spec.address,
            kind: Kind::Vpc,
            id: "vpc-1",
            attributes: &before,
            outputs: &outputs,
        };
        let err = ensure_in_place(&spec, &prior);
        assert!(
            matches!(&err, Err(ProviderError::RequiresReplacement { attribute, .. }) if attribute == "cidr_block"),
            "{err:?}"
        );
        let mut same_cidr = before.clone();
        same_cidr.insert("cidr_block".to_owned(), serde_json::json!("10.1.0.0/16"));
        let prior = Prior {
            address: &spec.address,
            kind: Kind::Vpc,
            id: "vpc-1",
            attributes: &same_cidr,
            outputs: &outputs,
        };
        assert!(ensure_in_place(&spec, &prior).is_ok());
    }
}
