//! The ELBv2 family: application load balancers, target groups, listeners and listener rules,
//! one module per kind (each implements `Manage`); this one holds the
//! family's refresh, the reads every kind shares and the tag updates.
//!
//! Load balancers and target groups are named, so create looks them up by their deterministic
//! name first; listeners are found by their natural key (load balancer + port) and rules by
//! theirs (listener + priority). What is found is adopted only when its tags claim this address
//! and this state lineage; anything else under our name is refused. ELBv2 has no idempotency
//! tokens, so that lookup is the only guard against twins.
//!
//! Refresh sends one describe per kind, filtered by the recorded ARNs, and one `DescribeTags`
//! for every ARN found (20 per call, the API's limit). AWS fails a filtered describe as a whole
//! when one ARN is gone; the describe then runs again for everything (load balancers, target
//! groups) or per parent (listeners per load balancer, rules per listener) and the answer is
//! narrowed to the recorded ARNs, so the gone ones show as missing. Load balancer attributes
//! (`idle_timeout`, `deletion_protection`, `drop_invalid_header_fields`) and the target group's
//! `deregistration_delay` are readable only with one call per resource: refresh keeps their
//! recorded values.

mod listener;
mod listener_rule;
mod load_balancer;
mod target_group;

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, Rule, Tag, TargetGroup};

use super::ec2::{Tagged, settle};
use super::live::{missing, recorded_by_id};
use super::ownership::{SdkTags, claimed, sdk_tags, send_tags, tag_map_of};
use super::{Cx, Done, Recorded};
use crate::graph::attrs::{self, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Live, Refresh};

/// The most ARNs (or names) one `DescribeTags` accepts; the filtered describes get the same.
pub(super) const PER_CALL: usize = 20;

/// Reads every recorded resource of the family: one describe per kind present, filtered by the
/// recorded ARNs (see the module doc for the fallback when one is gone), and one `DescribeTags`
/// per 20 ARNs found.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let kinds = super::family_kinds(Kind::LoadBalancer);
    // In address order: the describes send the ARNs in that order.
    let lbs_recorded: Vec<(_, attrs::LoadBalancer)> = recorded_by_id(resources)?;
    let tgs_recorded: Vec<(_, attrs::TargetGroup)> = recorded_by_id(resources)?;
    let listeners_recorded: Vec<(_, attrs::Listener)> = recorded_by_id(resources)?;
    let rules_recorded: Vec<(_, attrs::ListenerRule)> = recorded_by_id(resources)?;
    if lbs_recorded.is_empty()
        && tgs_recorded.is_empty()
        && listeners_recorded.is_empty()
        && rules_recorded.is_empty()
    {
        settle(cx.own, resources, &kinds, Vec::new(), out);
        return Ok(());
    }
    // Errors of a batched read name the kind: no single address is at fault.
    let at = |kind: Kind| Address::new(kind.as_str());
    let (lb_at, tg_at, listener_at, rule_at) =
        (at(Kind::LoadBalancer), at(Kind::TargetGroup), at(Kind::Listener), at(Kind::ListenerRule));

    // Every describe goes by recorded ids (and the recorded parents of listeners and rules), so
    // none waits for another: one round trip for the four, then one for the tags.
    let load_balancers = parents(&listeners_recorded, |l| &l.load_balancer_arn);
    let listener_arns = parents(&rules_recorded, |r| &r.listener_arn);
    let (lb_ids, tg_ids) = (ids(&lbs_recorded), ids(&tgs_recorded));
    let (listener_ids, rule_ids) = (ids(&listeners_recorded), ids(&rules_recorded));
    let (lbs, tgs, listeners, rules) = tokio::try_join!(
        load_balancer::describe(cx, &lb_at, &lb_ids),
        target_group::describe(cx, &tg_at, &tg_ids),
        listener::describe(cx, &listener_at, &listener_ids, &load_balancers),
        listener_rule::describe(cx, &rule_at, &rule_ids, &listener_arns),
    )?;
    let lbs = only_recorded(lbs, &lbs_recorded, LoadBalancer::load_balancer_arn);
    let tgs = only_recorded(tgs, &tgs_recorded, TargetGroup::target_group_arn);
    let listeners = only_recorded(listeners, &listeners_recorded, Listener::listener_arn);
    let rules = only_recorded(rules, &rules_recorded, Rule::rule_arn);

    let arns: Vec<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .chain(tgs.iter().filter_map(|t| t.target_group_arn()))
        .chain(listeners.iter().filter_map(|l| l.listener_arn()))
        .chain(rules.iter().filter_map(|r| r.rule_arn()))
        .map(str::to_owned)
        .collect();
    let tags = describe_tags(cx, &lb_at, &arns).await?;
    let tags_of = |arn: Option<&str>| arn.and_then(|a| tags.get(a)).cloned().unwrap_or_default();
    let mut found: Vec<Tagged> = Vec::new();
    found.extend(lbs.iter().filter_map(|l| {
        let arn = l.load_balancer_arn();
        load_balancer::live(l, tags_of(arn), rec(&lbs_recorded, arn))
    }));
    found.extend(tgs.iter().filter_map(|t| {
        let arn = t.target_group_arn();
        target_group::live(t, tags_of(arn), rec(&tgs_recorded, arn))
    }));
    found.extend(listeners.iter().filter_map(|l| listener::live(l, tags_of(l.listener_arn()))));
    found.extend(rules.iter().filter_map(|r| listener_rule::live(r, tags_of(r.rule_arn()), None)));
    settle(cx.own, resources, &kinds, found, out);
    Ok(())
}

/// The recorded attributes of the resource `arn`.
fn rec<'r, A>(recorded: &'r [(&str, A)], arn: Option<&str>) -> Option<&'r A> {
    let arn = arn?;
    recorded.iter().find(|(id, _)| *id == arn).map(|(_, r)| r)
}

fn ids<A>(recorded: &[(&str, A)]) -> Vec<String> {
    recorded.iter().map(|(id, _)| (*id).to_owned()).collect()
}

/// The parents (load balancers, listeners) the recorded resources name: what a fallback read
/// goes through.
fn parents<A>(recorded: &[(&str, A)], parent: impl Fn(&A) -> &String) -> BTreeSet<String> {
    recorded.iter().map(|(_, r)| parent(r).clone()).collect()
}

/// The described items whose ARN the state records (a fallback read returns more).
fn only_recorded<T, A>(
    items: Vec<T>,
    recorded: &[(&str, A)],
    arn: impl Fn(&T) -> Option<&str>,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|i| arn(i).is_some_and(|a| recorded.iter().any(|(id, _)| *id == a)))
        .collect()
}

/// Runs `primary` per chunk of `ids`; when AWS fails a chunk because one of them is gone,
/// returns what `fallback` reads instead (a wider read the caller narrows to `ids`).
pub(super) async fn batched<T, P, PF, F, FF>(
    ids: &[String],
    gone: &[&str],
    mut primary: P,
    fallback: F,
) -> Done<Vec<T>>
where
    P: FnMut(Vec<String>) -> PF,
    PF: Future<Output = Done<Vec<T>>>,
    F: FnOnce() -> FF,
    FF: Future<Output = Done<Vec<T>>>,
{
    let mut all = Vec::new();
    for chunk in ids.chunks(PER_CALL) {
        match primary(chunk.to_vec()).await {
            Ok(items) => all.extend(items),
            Err(e) if e.aws_code().is_some_and(|c| gone.contains(&c)) => return fallback().await,
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

/// Every tag of each ARN, 20 ARNs per call.
async fn describe_tags(cx: Cx<'_>, a: &Address, arns: &[String]) -> Done<BTreeMap<String, Tags>> {
    let mut tags = BTreeMap::new();
    for chunk in arns.chunks(PER_CALL) {
        let out = send!(a, cx.elbv2.describe_tags().set_resource_arns(Some(chunk.to_vec())))?;
        for d in out.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                let map = tag_map_of(d.tags(), |t| (t.key(), t.value()));
                tags.insert(arn.to_owned(), map);
            }
        }
    }
    Ok(tags)
}

/// What a lookup by name or natural key `found`, when its tags make it this address's; `None`
/// when nothing was found. Its tags are read (one `DescribeTags`) before `live` shapes it.
async fn claim_found<T>(
    cx: Cx<'_>,
    a: &Address,
    found: Option<T>,
    arn: impl Fn(&T) -> Option<&str>,
    live: impl FnOnce(&T, Tags) -> Option<Tagged>,
) -> Done<Option<Live>> {
    let Some(found) = found else {
        return Ok(None);
    };
    let tags = match arn(&found) {
        Some(arn) => describe_tags(cx, a, &[arn.to_owned()]).await?.remove(arn).unwrap_or_default(),
        None => Tags::new(),
    };
    claimed(cx, a, live(&found, tags))
}

/// The ARN of the one resource a create answered with; AWS leaving it out is `missing`.
fn created_arn<'o, T>(
    a: &Address,
    operation: &'static str,
    field: &'static str,
    created: &'o [T],
    arn: impl Fn(&'o T) -> Option<&'o str>,
) -> Done<&'o str> {
    created.first().and_then(arn).ok_or_else(|| missing(a, operation, field))
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Ok::<_, Infallible>(Tag::builder().key(k).value(v).build()))
    }
}

/// Brings the tags of `arn` from `was` to `want` with `RemoveTags` and `AddTags`, keeping (and
/// healing) the ownership tags; calls AWS only when something differs.
async fn update_tags(cx: Cx<'_>, a: &Address, arn: &str, was: &Tags, want: &Tags) -> Done<()> {
    send_tags!(
        cx, a, was, want,
        untag: cx.elbv2.remove_tags().resource_arns(arn),
        tag: cx.elbv2.add_tags().resource_arns(arn),
    )
}

/// Whether two lists hold the same items, in any order (AWS reorders subnets and security
/// groups).
pub(super) fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lists_align_to_the_recorded_order_when_equal_as_sets() {
        let recorded = strings(&["subnet-b", "subnet-a"]);
        let live = strings(&["subnet-a", "subnet-b"]);
        assert_eq!(super::super::live::as_set(live.clone(), Some(recorded.as_slice())), recorded);
        assert_eq!(
            super::super::live::as_set(
                strings(&["subnet-c", "subnet-a"]),
                Some(recorded.as_slice())
            ),
            strings(&["subnet-a", "subnet-c"])
        );
        assert!(same_set(&recorded, &live));
        assert!(!same_set(&recorded, &strings(&["subnet-a"])));
    }
}
