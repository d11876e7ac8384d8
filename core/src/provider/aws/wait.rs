//! Waiting on AWS: retries while a dependency or a fresh id is not visible yet, polls until a
//! resource reaches a state, and deletes that tolerate "already gone" and wait out "still in
//! use".

use std::future::Future;
use std::time::{Duration, Instant};

use super::Done;
use super::{AwsResultExt, Cx, Waits};
use crate::graph::Address;
use crate::provider::ProviderError;

/// Success when the operation succeeded or failed with one of `gone` (the resource was
/// already deleted): deletes are idempotent.
pub(crate) fn tolerate(result: Done<()>, gone: &[&str]) -> Done<()> {
    match result {
        Err(e) if e.aws_code().is_some_and(|c| gone.contains(&c)) => Ok(()),
        r => r,
    }
}

/// Codes AWS answers for an id it created a moment ago (EC2 is eventually consistent), or for
/// a dependency created by another step moments before.
const NOT_YET_VISIBLE: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidGatewayID.NotFound",
    "InvalidNatGatewayID.NotFound",
    "NatGatewayNotFound",
    "InvalidAllocationID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidSecurityGroupID.NotFound",
];

/// Runs a create or the first change of a new resource again while AWS does not see an id yet
/// (a failed call created nothing, so a retry cannot duplicate), for at most the consistency
/// wait.
pub(crate) async fn eventually<T, F, Fut>(cx: Cx<'_>, op: F) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<T>>,
{
    retry_while(cx.waits, cx.waits.consistency, NOT_YET_VISIBLE, op).await
}

/// Runs `op` again while it fails with one of `codes` (a dependency AWS has not released yet),
/// for at most `limit`.
pub(crate) async fn retry_while<T, F, Fut>(
    waits: &Waits,
    limit: Duration,
    codes: &[&str],
    op: F,
) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<T>>,
{
    retry_when(waits, limit, |e| e.aws_code().is_some_and(|c| codes.contains(&c)), op).await
}

/// Runs `op` again while `retry` says its failure is transient, for at most `limit`.
pub(crate) async fn retry_when<T, F, Fut>(
    waits: &Waits,
    limit: Duration,
    retry: impl Fn(&ProviderError) -> bool,
    mut op: F,
) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<T>>,
{
    let start = Instant::now();
    loop {
        match op().await {
            Err(e) if retry(&e) && start.elapsed() + waits.poll < limit => {
                tracing::debug!(error = %e, "waiting for AWS to catch up");
                tokio::time::sleep(waits.poll).await;
            }
            r => return r,
        }
    }
}

/// Whether AWS refused with `code` and a message containing `needle` (case-insensitive): some
/// conditions share a generic code (`ValidationError`, `ClientException`) and only the message
/// tells them apart.
pub(crate) fn aws_says(e: &ProviderError, code: &str, needle: &str) -> bool {
    matches!(e, ProviderError::Aws { code: c, message, .. }
        if c == code && message.to_ascii_lowercase().contains(&needle.to_ascii_lowercase()))
}

/// Sends a delete again while AWS answers one of `busy` (a dependent not released yet), for at
/// most the dependency wait; one of `gone` (already deleted) is success.
pub(crate) async fn remove<F, Fut>(cx: Cx<'_>, busy: &[&str], gone: &[&str], op: F) -> Done<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<()>>,
{
    tolerate(retry_while(cx.waits, cx.waits.dependency, busy, op).await, gone)
}

/// [`remove`] for a removal that is one request (a delete, a detach, a disassociation, a scale
/// to zero before a delete): `request` builds and sends it.
pub(crate) async fn remove_request<T, R, F, Fut>(
    cx: Cx<'_>,
    address: &Address,
    busy: &[&str],
    gone: &[&str],
    request: F,
) -> Done<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
    R: AwsResultExt<T>,
{
    remove(cx, busy, gone, || async { request().await.at(address).map(drop) }).await
}

/// Reads with `check` every poll interval until it answers `Some`, for at most `limit`; a
/// failure of `check` ends the wait (it decides which states are failures).
pub(crate) async fn poll_until<T, F, Fut>(
    cx: Cx<'_>,
    address: &Address,
    what: &str,
    limit: Duration,
    mut check: F,
) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        if start.elapsed() + cx.waits.poll >= limit {
            return Err(ProviderError::Timeout {
                address: address.clone(),
                what: what.to_owned(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(cx.waits.poll).await;
    }
}
