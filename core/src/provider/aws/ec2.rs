//! What every EC2 family shares: ownership tags on create (tag specifications, so a resource is
//! never visible untagged), the refresh and adoption filters, live tags without bookkeeping keys,
//! tag updates in place (alone, for kinds whose tags are all that changes), and the adoption step
//! of a create: describe by the address tag, pick the one adoptable resource, take it over.

use crate::provider::aws::send;
use std::collections::BTreeMap;
use std::future::Future;

use super::live::report;
use super::ownership::{owned_tags, sync_tags, tag_diff, tag_map_of};
use super::{AwsResultExt, Cx, Done, Prior, remove_request};
use crate::graph::attrs::{Attributes, Ec2IdOutputs, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{
    Applied, Live, Ownership, ProviderError, Refresh, ResourceSpec, TAG_ECSOPS_ADDRESS,
    TAG_ECSOPS_ENVIRONMENT, TAG_ECSOPS_LINEAGE, is_bookkeeping_tag,
};
use crate::state::ResourceState;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

/// A described resource with all its tags (for ownership) and its live shape.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub tags: BTreeMap<String, String>,
    pub live: Live,
}

impl Tagged {
    /// A resource read as its kind's typed attributes (whose `tags` are the visible ones) and
    /// outputs; `tags` are all its tags.
    pub fn of<A: Attributes>(id: &str, tags: Tags, attributes: &A, outputs: &A::Outputs) -> Self {
        Self { tags, live: Live::new(id, attributes, outputs) }
    }
}

/// Matches described resources to the recorded ones of `kinds` by their `ecsops:address` tag
/// (this lineage only; of several, the recorded id wins): found ones are live, the others
/// missing; ours that the state lacks are untracked. A recorded resource found by its recorded
/// id without the tags that claim it for its address and this lineage (removed or changed
/// outside ecsops), here or by [`strays`], is neither: planning it as missing would create a
/// twin, or replace (delete) what uses it before the create fails on the one still there, so it
/// is untagged, which stops the refresh.
pub(crate) fn settle(
    own: &Ownership,
    resources: &BTreeMap<Address, ResourceState>,
    kinds: &[Kind],
    found: Vec<Tagged>,
    out: &mut Refresh,
) {
    let mut ours: BTreeMap<Address, Vec<Live>> = BTreeMap::new();
    // Every described resource, whoever its tags say it is: (kind, id).
    let mut described: Vec<(Kind, String)> = Vec::new();
    for t in found.into_iter().filter(|t| kinds.contains(&t.live.kind)) {
        described.push((t.live.kind, t.live.id.clone()));
        if let Some((address, lineage)) = owner(&t.tags)
            && lineage == own.lineage
        {
            ours.entry(address).or_default().push(t.live);
        }
    }
    for (address, r) in resources.iter().filter(|(_, r)| kinds.contains(&r.kind)) {
        if out.untagged.contains_key(address) {
            continue;
        }
        let live = ours.remove(address).and_then(|mut lives| {
            lives.retain(|l| l.kind == r.kind);
            let recorded = lives.iter().position(|l| Some(l.id.as_str()) == r.id.as_deref());
            lives.into_iter().nth(recorded.unwrap_or(0))
        });
        // Renamed by `[[moved]]` with nothing to change, so nothing re-tagged it: its tags
        // still name the old address, which the state no longer records. It is this one.
        let live = live.or_else(|| {
            let id = r.id.as_deref()?;
            let (_, lives) = ours.iter_mut().find(|(from, lives)| {
                !resources.contains_key(*from) && lives.iter().any(|l| l.id == id)
            })?;
            let at = lives.iter().position(|l| l.kind == r.kind && l.id == id)?;
            Some(lives.remove(at))
        });
        if live.is_none()
            && let Some(id) = r.id.as_deref()
            && described.iter().any(|(k, i)| *k == r.kind && i == id)
        {
            out.untagged.insert(address.clone(), id.to_owned());
            continue;
        }
        report(out, address, live);
    }
    for (address, lives) in ours {
        if !resources.contains_key(&address)
            && let Some(live) = lives.into_iter().next()
        {
            out.untracked.insert(address, live);
        }
    }
}

/// The recorded resources of `kind` that the environment's describe did not return (`seen`)
/// but that still exist, read by id (`id_filter`, such as `vpc-id`; `None` reads them all),
/// with their ids: they lost their `ecsops:environment` tag outside ecsops, and are untagged,
/// not deleted (a plan would create their twins). No request when every recorded one was
/// seen, so a refresh without drift costs nothing more.
pub(crate) async fn strays<T>(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    kind: Kind,
    seen: &[Tagged],
    describe: impl AsyncFnOnce(Cx<'_>, &Address, Vec<Filter>) -> Done<Vec<T>>,
    id_filter: Option<&str>,
    id: impl Fn(&T) -> Option<&str>,
) -> Done<Vec<(Address, String)>> {
    let unseen: BTreeMap<&str, &Address> = resources
        .iter()
        .filter(|(_, r)| r.kind == kind)
        .filter_map(|(address, r)| Some((r.id.as_deref()?, address)))
        .filter(|(id, _)| !seen.iter().any(|t| t.live.kind == kind && t.live.id == *id))
        .collect();
    if unseen.is_empty() {
        return Ok(Vec::new());
    }
    let filters = id_filter
        .map(|name| {
            Filter::builder()
                .name(name)
                .set_values(Some(unseen.keys().map(|id| (*id).to_owned()).collect()))
                .build()
        })
        .into_iter()
        .collect();
    let found = describe(cx, &Address::new(kind.as_str()), filters).await?;
    Ok(found
        .iter()
        .filter_map(id)
        .filter_map(|i| unseen.get_key_value(i))
        .map(|(id, address)| ((*address).clone(), (*id).to_owned()))
        .collect())
}

/// The tags an EC2 create sends for its `resource_type`: the desired ones with the ownership
/// tags (EC2's form of [`create_tags`](super::ownership::create_tags)).
pub(crate) fn tag_spec(
    cx: Cx<'_>,
    a: &Address,
    resource_type: ResourceType,
    desired: &Tags,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(to_tags(&owned_tags(cx.own, a, desired))))
        .build()
}

pub(crate) fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tag_map_of(tags, |t| (t.key(), t.value()))
}

/// The tags a resource shows as its `tags`: without the ownership and AWS bookkeeping.
pub(crate) fn visible(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !is_bookkeeping_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder().name(format!("tag:{key}")).values(value).build()
}

/// Every resource of this environment (refresh).
pub(crate) fn environment_filter(own: &Ownership) -> Filter {
    tag_filter(TAG_ECSOPS_ENVIRONMENT, &own.environment)
}

/// The resources claiming one address of this environment (adoption). The brackets of a keyed
/// address (`subnet.public[eu-west-1a]`) go as `?`, the wildcard for any one character: AWS
/// reads them literally, but moto's Elastic IP filter reads them as a character class and
/// matches nothing. [`pick_adoptable`] keeps only the exact address.
pub(crate) fn address_filters(own: &Ownership, address: &Address) -> Vec<Filter> {
    let pattern = address.as_str().replace(['[', ']'], "?");
    vec![environment_filter(own), tag_filter(TAG_ECSOPS_ADDRESS, &pattern)]
}

/// The address and lineage a resource's tags claim.
pub(crate) fn owner(tags: &BTreeMap<String, String>) -> Option<(Address, &str)> {
    let address = tags.get(TAG_ECSOPS_ADDRESS)?;
    let lineage = tags.get(TAG_ECSOPS_LINEAGE).map_or("", String::as_str);
    Some((Address::from(address.as_str()), lineage))
}

/// The environment a resource's tags name, when it is not `own`'s: such a resource is never
/// adopted, changed or offered to be changed from here, whatever a describe filter returned.
pub(crate) fn other_environment<'t>(
    own: &Ownership,
    tags: &'t BTreeMap<String, String>,
) -> Option<&'t str> {
    tags.get(TAG_ECSOPS_ENVIRONMENT).map(String::as_str).filter(|e| *e != own.environment)
}

/// The one candidate (id, tags) to adopt for `address`: none, exactly one of this lineage, or an
/// error (a foreign lineage, or several twins, which a human must sort out).
pub(crate) fn pick_adoptable<T>(
    own: &Ownership,
    address: &Address,
    candidates: Vec<(String, BTreeMap<String, String>, T)>,
) -> Done<Option<(String, T)>> {
    let mut ours = Vec::new();
    for (id, tags, item) in candidates {
        // The describe filtered by the address tag, but an API (or an emulator) that ignores a
        // tag filter must not make another address's resource look like ours.
        if owner(&tags).is_some_and(|(claimed, _)| claimed != *address)
            || other_environment(own, &tags).is_some()
        {
            continue;
        }
        let lineage = owner(&tags).map_or("", |(_, l)| l);
        if lineage != own.lineage {
            return Err(ProviderError::ForeignLineage {
                address: address.clone(),
                id,
                found: lineage.to_owned(),
                expected: own.lineage.clone(),
            });
        }
        ours.push((id, item));
    }
    if ours.len() > 1 {
        return Err(ProviderError::Ambiguous {
            address: address.clone(),
            ids: ours.into_iter().map(|(id, _)| id).collect(),
        });
    }
    Ok(ours.pop())
}

/// `async fn $request(cx, a, filters) -> Done<Vec<$item>>`: every item of one
/// paginated EC2 describe by filters, the read each tagged kind's refresh and adoption share
/// (the SDK gives the describes no common trait, hence a macro).
macro_rules! describe_by_filters {
    ($request:ident -> $item:ty) => {
        async fn $request(
            cx: $crate::provider::aws::Cx<'_>,
            a: &$crate::graph::Address,
            filters: Vec<aws_sdk_ec2::types::Filter>,
        ) -> Result<Vec<$item>, $crate::provider::ProviderError> {
            use $crate::provider::aws::AwsResultExt as _;
            $crate::provider::aws::live::all!(cx.ec2.$request().set_filters(Some(filters)), a)
        }
    };
}
pub(crate) use describe_by_filters;

/// The outputs of a kind whose only output is its id.
pub(crate) fn id_outputs(id: &str) -> Ec2IdOutputs {
    Ec2IdOutputs { id: id.to_owned() }
}

/// The one resource among `found` (described by its address tag) that a create may adopt.
pub(crate) fn adoptable(
    cx: Cx<'_>,
    a: &Address,
    found: impl IntoIterator<Item = Tagged>,
) -> Done<Option<Live>> {
    let candidates = found.into_iter().map(|t| (t.live.id.clone(), t.tags, t.live)).collect();
    Ok(pick_adoptable(cx.own, a, candidates)?.map(|(_, live)| live))
}

/// What a create of `a` may adopt: the items `describe` returns for the address filters, each
/// read by `live`.
pub(crate) async fn find_adoptable<T>(
    cx: Cx<'_>,
    a: &Address,
    describe: impl AsyncFnOnce(Cx<'_>, &Address, Vec<Filter>) -> Done<Vec<T>>,
    live: impl Fn(&T) -> Option<Tagged>,
) -> Done<Option<Live>> {
    let found = describe(cx, a, address_filters(cx.own, a)).await?;
    adoptable(cx, a, found.iter().filter_map(live))
}

/// The whole update of a kind whose `tags` (read by `tags`) are all that changes in place and
/// whose only output is its id.
pub(crate) async fn update_tags<A: Attributes<Outputs = Ec2IdOutputs>>(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: A,
    prior: Prior<'_>,
    tags: impl Fn(&A) -> &Tags,
) -> Done {
    let was: A = prior.decode()?;
    retag(cx, spec, prior, tags(&was), tags(&want)).await
}

/// The last step of an update of a kind whose only output is its id: brings its tags from
/// `was` to `want`.
pub(crate) async fn retag(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
    was: &Tags,
    want: &Tags,
) -> Done {
    sync_ec2_tags(cx, &spec.address, prior.id, was, want).await?;
    Ok(Applied::new(spec, prior.id, &id_outputs(prior.id)))
}

/// Deletes a resource that dependents AWS releases late may still hold (the network
/// interfaces of a deleted NAT gateway or load balancer): `DependencyViolation` is retried, and
/// `gone` (already deleted) is success.
pub(crate) async fn remove_held<T, Fut: Future<Output: AwsResultExt<T>>>(
    cx: Cx<'_>,
    prior: Prior<'_>,
    gone: &str,
    request: impl Fn() -> Fut,
) -> Done<()> {
    let busy = ["DependencyViolation"];
    remove_request(cx, prior.address, &busy, &[gone], request).await
}

/// Brings the visible tags of `id` from `before` to `after`, keeping (and healing) the
/// ownership tags. Calls AWS only when something differs.
pub(crate) async fn sync_ec2_tags(
    cx: Cx<'_>,
    a: &Address,
    id: &str,
    before: &Tags,
    after: &Tags,
) -> Done<()> {
    sync_tags(
        tag_diff(cx.own, a, before, after),
        async |removed| {
            let removed: Vec<Tag> = removed.iter().map(|k| Tag::builder().key(k).build()).collect();
            send!(a, cx.ec2.delete_tags().resources(id).set_tags(Some(removed))).map(drop)
        },
        async |set| {
            send!(a, cx.ec2.create_tags().resources(id).set_tags(Some(to_tags(&set)))).map(drop)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::super::ownership::owned_tags;
    use super::super::ownership::tests::tags;
    use super::*;

    fn own() -> Ownership {
        Ownership { environment: "acceptance".to_owned(), lineage: "L".to_owned() }
    }

    /// Recorded VPCs `vpc` (`vpc-1`) and `vpc.b` (`vpc-2`, with its own tags), read back with
    /// `vpc-1` carrying the tags `tags_now`.
    fn settled(tags_now: &[(&str, &str)]) -> Refresh {
        let vpc = |address: &str, id: &str| {
            let r = ResourceState {
                kind: Kind::Vpc,
                id: Some(id.to_owned()),
                attributes: BTreeMap::new(),
                outputs: BTreeMap::new(),
                dependencies: std::collections::BTreeSet::new(),
            };
            (Address::new(address), r)
        };
        let resources = BTreeMap::from([vpc("vpc", "vpc-1"), vpc("vpc.b", "vpc-2")]);
        let found = |id: &str, tags_now: &[(&str, &str)]| Tagged {
            tags: tags(tags_now),
            live: Live {
                kind: Kind::Vpc,
                id: id.to_owned(),
                attributes: BTreeMap::new(),
                outputs: BTreeMap::new(),
            },
        };
        let found = vec![
            found("vpc-1", tags_now),
            found("vpc-2", &[("ecsops:address", "vpc.b"), ("ecsops:lineage", "L")]),
        ];
        let mut out = Refresh::default();
        settle(&own(), &resources, &[Kind::Vpc], found, &mut out);
        out
    }

    /// The recorded id carrying another recorded address's or another lineage's tags is not
    /// read as deleted (a twin, and its dependants replaced): it stops the refresh. One renamed
    /// by `[[moved]]` (its tags still name the old address, which the state no longer records)
    /// is the recorded resource.
    #[test]
    fn a_recorded_id_under_other_tags_is_untagged_unless_moved() {
        let other_address = settled(&[("ecsops:address", "vpc.b"), ("ecsops:lineage", "L")]);
        assert_eq!(other_address.untagged.len(), 1, "{other_address:?}");
        assert!(other_address.missing.is_empty());
        assert_eq!(other_address.live[&Address::new("vpc.b")].id, "vpc-2");
        let other_lineage = settled(&[("ecsops:address", "vpc"), ("ecsops:lineage", "M")]);
        assert_eq!(other_lineage.untagged.len(), 1, "{other_lineage:?}");
        let moved = settled(&[("ecsops:address", "vpc.old"), ("ecsops:lineage", "L")]);
        assert!(moved.untagged.is_empty() && moved.untracked.is_empty(), "{moved:?}");
        assert_eq!(moved.live[&Address::new("vpc")].id, "vpc-1");
    }

    #[test]
    fn created_tags_add_ownership_to_the_desired_ones() {
        let desired =
            tags(&[("Name", "acceptance"), ("Environment", "acceptance"), ("ecsops:address", "x")]);
        let t = owned_tags(&own(), &Address::new("vpc"), &desired);
        assert_eq!(t["Name"], "acceptance");
        assert_eq!(t["ecsops:address"], "vpc");
        assert_eq!(t["ecsops:lineage"], "L");
        assert_eq!(visible(&t), tags(&[("Environment", "acceptance"), ("Name", "acceptance")]));
    }

    #[test]
    fn adoption_takes_one_of_ours_and_refuses_foreign_or_twins() {
        let a = Address::new("vpc");
        let ours = |id: &str| {
            (id.to_owned(), tags(&[("ecsops:address", "vpc"), ("ecsops:lineage", "L")]), ())
        };
        assert_eq!(pick_adoptable::<()>(&own(), &a, vec![]).expect("test value"), None);
        assert_eq!(
            pick_adoptable(&own(), &a, vec![ours("vpc-1")]).expect("test value"),
            Some(("vpc-1".to_owned(), ()))
        );
        assert!(matches!(
            pick_adoptable(&own(), &a, vec![ours("vpc-1"), ours("vpc-2")]),
            Err(ProviderError::Ambiguous { .. })
        ));
        let elsewhere = (
            "vpc-4".to_owned(),
            tags(&[("ecsops:address", "vpc.other"), ("ecsops:lineage", "L")]),
            (),
        );
        assert_eq!(
            pick_adoptable(&own(), &a, vec![elsewhere, ours("vpc-1")]).expect("test value"),
            Some(("vpc-1".to_owned(), ())),
            "another address's resource is never a candidate"
        );
        let foreign =
            ("vpc-3".to_owned(), tags(&[("ecsops:address", "vpc"), ("ecsops:lineage", "M")]), ());
        assert!(matches!(
            pick_adoptable(&own(), &a, vec![foreign]),
            Err(ProviderError::ForeignLineage { .. })
        ));
        // Another environment's resource (a describe that ignored the environment filter) is
        // never a candidate, not even a refusal that would suggest touching it.
        let staging = (
            "vpc-5".to_owned(),
            tags(&[
                ("ecsops:address", "vpc"),
                ("ecsops:lineage", "S"),
                ("ecsops:environment", "staging"),
            ]),
            (),
        );
        assert_eq!(pick_adoptable(&own(), &a, vec![staging]).expect("skipped"), None);
    }
}
