//! Taking over what already exists. A create first looks for the resource (by its ownership
//! tags, its deterministic name or its natural key); what it finds is adopted only when its tags
//! say this lineage made it for this address, and is then brought to the spec in place.
//! Also the tag updates every family sends, which keep (and heal) the ownership tags.

use std::collections::BTreeMap;

use super::Done;
use super::ec2::{Tagged, other_environment, owner};
use super::live::missing;
use super::{Cx, Manage, Prior};
use crate::graph::Address;
use crate::graph::attrs::Tags;
use crate::provider::{Live, Ownership, ProviderError, ResourceSpec, is_bookkeeping_tag};

/// Succeeds when `tags` say the resource `id` was created for `address` by this lineage; a
/// resource under our name or key that is not ours is never taken over.
pub(crate) fn claim(
    own: &Ownership,
    address: &Address,
    id: &str,
    tags: &BTreeMap<String, String>,
) -> Done<()> {
    if let Some(environment) = other_environment(own, tags) {
        return Err(ProviderError::OtherEnvironment {
            address: address.clone(),
            id: id.to_owned(),
            environment: environment.to_owned(),
        });
    }
    match owner(tags) {
        Some((claimed, lineage)) if lineage == own.lineage && claimed == *address => Ok(()),
        Some((claimed, lineage)) if lineage == own.lineage => Err(ProviderError::Failed {
            address: address.clone(),
            what: format!(
                "`{id}` already exists and is recorded as `{claimed}` of this state; add a `[[moved]]` entry or rename one of them"
            ),
        }),
        Some((_, lineage)) if !lineage.is_empty() => Err(ProviderError::ForeignLineage {
            address: address.clone(),
            id: id.to_owned(),
            found: lineage.to_owned(),
            expected: own.lineage.clone(),
        }),
        _ => Err(ProviderError::Failed {
            address: address.clone(),
            what: format!(
                "`{id}` already exists and was not created by ecsops (no `ecsops:` tags); \
                 delete it, or rename this resource in the manifest"
            ),
        }),
    }
}

/// The described resource when its tags make it this address's; `None` when nothing was found.
pub(crate) fn claimed(cx: Cx<'_>, a: &Address, found: Option<Tagged>) -> Done<Option<Live>> {
    let Some(t) = found else {
        return Ok(None);
    };
    claim(cx.own, a, &t.live.id, &t.tags)?;
    Ok(Some(t.live))
}

/// What a describe by name `found`, when its tags claim it for this address; `None` when nothing
/// was found. `live` shapes it; one it cannot (AWS left out `field` of `operation`) is refused.
pub(crate) fn claim_described<T>(
    cx: Cx<'_>,
    a: &Address,
    found: Option<&T>,
    live: impl FnOnce(&T) -> Option<Tagged>,
    (operation, field): (&'static str, &'static str),
) -> Done<Option<Live>> {
    let found = found.map(|f| live(f).ok_or_else(|| missing(a, operation, field)));
    claimed(cx, a, found.transpose()?)
}

/// Takes over `live`, found by a create carrying this address's ownership, by bringing it to
/// `want` in place with the kind's `update`.
pub(crate) async fn adopt<M: Manage>(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: M,
    live: &Live,
) -> Done {
    tracing::info!(address = %spec.address, id = %live.id, "adopting an existing resource");
    let prior = Prior::of_live(&spec.address, live);
    super::ensure_in_place(spec, &prior)?;
    let mut done = Box::pin(M::update(cx, spec, want, prior)).await?;
    done.adopted = true;
    Ok(done)
}

/// An SDK tag that would not build (never with both fields set, but no panics on that).
pub(crate) fn invalid_tags(a: &Address, e: &impl std::fmt::Display) -> ProviderError {
    ProviderError::InvalidAttribute {
        address: a.clone(),
        attribute: "tags".to_owned(),
        reason: e.to_string(),
    }
}

/// `tags` as a service's SDK tag list, each built by `tag` (every service has its own `Tag`
/// type; their builders fail only without a key or value, never the case here).
pub(crate) fn sdk_tags<T, E: std::fmt::Display>(
    a: &Address,
    tags: &Tags,
    tag: impl Fn(&str, &str) -> Result<T, E>,
) -> Done<Vec<T>> {
    tags.iter().map(|(k, v)| tag(k, v).map_err(|e| invalid_tags(a, &e))).collect()
}

/// A service's own tag list, made from a tag map: what its create and tag requests take.
pub(crate) trait SdkTags: Sized {
    fn of(a: &Address, tags: &Tags) -> Done<Self>;
}

/// The tags a create sends, in the service's form: the desired ones with the ownership tags.
pub(crate) fn create_tags<T: SdkTags>(cx: Cx<'_>, a: &Address, desired: &Tags) -> Done<T> {
    T::of(a, &owned_tags(cx.own, a, desired))
}

/// A service's tag list as a map: `pair` reads one tag's key and value (every service has its
/// own `Tag` type, with the same optional fields); a tag without a key is skipped.
pub(crate) fn tag_map_of<'t, T>(
    tags: &'t [T],
    pair: impl Fn(&'t T) -> (Option<&'t str>, Option<&'t str>),
) -> Tags {
    tags.iter()
        .filter_map(|t| match pair(t) {
            (Some(key), value) => Some((key.to_owned(), value.unwrap_or_default().to_owned())),
            (None, _) => None,
        })
        .collect()
}

/// What a tag update sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagChanges {
    /// Keys to remove (never bookkeeping ones).
    pub removed: Vec<String>,
    /// Every tag to set, ownership tags included so that they heal.
    pub set: BTreeMap<String, String>,
}

/// Every tag a resource at `address` carries: the ownership tags and the desired ones.
pub(crate) fn owned_tags(own: &Ownership, address: &Address, desired: &Tags) -> Tags {
    let mut tags = own.tags(address);
    tags.extend(
        desired.iter().filter(|(k, _)| !is_bookkeeping_tag(k)).map(|(k, v)| (k.clone(), v.clone())),
    );
    tags
}

/// The tag update that brings the visible tags from `before` to `after`, or `None` when they
/// already match.
pub(crate) fn tag_diff(
    own: &Ownership,
    address: &Address,
    before: &Tags,
    after: &Tags,
) -> Option<TagChanges> {
    (before != after).then(|| TagChanges {
        removed: before
            .keys()
            .filter(|k| !after.contains_key(*k) && !is_bookkeeping_tag(k))
            .cloned()
            .collect(),
        set: owned_tags(own, address, after),
    })
}

/// Sends a tag update through a service's own calls: `untag` (only when keys go) before `tag`.
pub(crate) async fn sync_tags(
    changes: Option<TagChanges>,
    untag: impl AsyncFnOnce(Vec<String>) -> Done<()>,
    tag: impl AsyncFnOnce(Tags) -> Done<()>,
) -> Done<()> {
    let Some(TagChanges { removed, set }) = changes else {
        return Ok(());
    };
    if !removed.is_empty() {
        untag(removed).await?;
    }
    tag(set).await
}

/// [`sync_tags`] through the request pair most services have: an untag request that takes
/// the keys (`set_tag_keys`) and a tag request that takes the tags (`set_tags`, in the
/// service's [`SdkTags`] form). `$untag` and `$tag` are the requests with the resource
/// already set: `send_tags!(cx, a, &was.tags, &want.tags, untag: request, tag: request)`.
macro_rules! send_tags {
    (
        $cx:expr, $a:expr, $was:expr, $want:expr,
        untag: $untag:expr, tag: $tag:expr $(,)?
    ) => {
        $crate::provider::aws::ownership::sync_tags(
            $crate::provider::aws::ownership::tag_diff($cx.own, $a, $was, $want),
            async |keys| {
                $crate::provider::aws::send!($a, $untag.set_tag_keys(Some(keys))).map(drop)
            },
            async |tags| {
                let tags = $crate::provider::aws::ownership::SdkTags::of($a, &tags)?;
                $crate::provider::aws::send!($a, $tag.set_tags(Some(tags))).map(drop)
            },
        )
        .await
    };
}
pub(crate) use send_tags;

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A tag map from literal pairs (the EC2 tests use it too).
    pub(in crate::provider::aws) fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn claims_only_this_address_of_this_lineage() {
        let own = Ownership { environment: "acc".to_owned(), lineage: "L".to_owned() };
        let a = Address::keyed("load_balancer", "default");
        let ours = tags(&[("ecsops:address", "load_balancer[default]"), ("ecsops:lineage", "L")]);
        assert!(claim(&own, &a, "arn", &ours).is_ok());
        let other_address =
            tags(&[("ecsops:address", "load_balancer[x]"), ("ecsops:lineage", "L")]);
        let err = claim(&own, &a, "arn", &other_address).expect_err("another address");
        assert!(err.to_string().contains("recorded as `load_balancer[x]`"), "{err}");
        let foreign =
            tags(&[("ecsops:address", "load_balancer[default]"), ("ecsops:lineage", "M")]);
        assert!(matches!(
            claim(&own, &a, "arn", &foreign),
            Err(ProviderError::ForeignLineage { .. })
        ));
        let err = claim(&own, &a, "arn", &tags(&[("Name", "x")])).expect_err("not ours");
        assert!(err.to_string().contains("not created by ecsops"), "{err}");
        let staging = tags(&[
            ("ecsops:address", "load_balancer[default]"),
            ("ecsops:lineage", "S"),
            ("ecsops:environment", "staging"),
        ]);
        let err = claim(&own, &a, "arn", &staging).expect_err("another environment's");
        let text = err.to_string();
        assert!(text.contains("belongs to environment `staging`"), "{text}");
        assert!(!text.contains("remove"), "never advise changing it: {text}");
    }
}
