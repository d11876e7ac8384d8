//! Building what refresh reports: attribute maps, live lists compared as sets, the narrowest
//! name prefix for one list call, reads whose "not found" means none, and live-or-missing
//! bookkeeping.

use std::collections::{BTreeMap, BTreeSet};

use super::Done;
use crate::graph::attrs::Attributes;
use crate::graph::{Address, Kind};
use crate::provider::{Live, ProviderError, Refresh};
use crate::state::ResourceState;

/// Every item of a paginated list or describe: `all!(cx.ec2.describe_vpcs().set_filters(f), a)`.
macro_rules! all {
    ($request:expr, $address:expr $(,)?) => {
        $request.into_paginator().items().send().collect::<Result<Vec<_>, _>>().await.at($address)
    };
}
pub(crate) use all;

/// AWS answered without a field ecsops needs.
pub(crate) fn missing(
    address: &Address,
    operation: &'static str,
    field: &'static str,
) -> ProviderError {
    ProviderError::MissingField { address: address.clone(), operation, field }
}

/// The recorded resources of `kinds`, in address order: what one family's refresh reads.
pub(crate) fn recorded<'a>(
    resources: &'a BTreeMap<Address, ResourceState>,
    kinds: &[Kind],
) -> Vec<(&'a Address, &'a ResourceState)> {
    resources.iter().filter(|(_, r)| kinds.contains(&r.kind)).collect()
}

/// The recorded resources of `A`'s kind that have an id, in address order, each with its
/// attributes decoded.
fn decoded<A: Attributes>(
    resources: &BTreeMap<Address, ResourceState>,
) -> impl Iterator<Item = (&str, Done<A>)> {
    resources
        .iter()
        .filter(|(_, r)| r.kind == A::KIND)
        .filter_map(|(address, r)| Some((r.id.as_deref()?, address, r)))
        .map(|(id, address, r)| (id, super::Prior::of(address, r).and_then(|p| p.decode())))
}

/// The recorded resources of `A`'s kind that have an id, by id, their attributes typed: a map,
/// or a list in address order.
pub(crate) fn recorded_by_id<'a, A, C>(resources: &'a BTreeMap<Address, ResourceState>) -> Done<C>
where
    A: Attributes,
    C: FromIterator<(&'a str, A)>,
{
    decoded(resources).map(|(id, a)| Ok((id, a?))).collect()
}

/// [`recorded_by_id`] without the records that do not decode (state written by hand), for a
/// refresh that reads them as aligning nothing.
pub(crate) fn decodable_by_id<A: Attributes>(
    resources: &BTreeMap<Address, ResourceState>,
) -> BTreeMap<&str, A> {
    decoded(resources).filter_map(|(id, a)| Some((id, a.ok()?))).collect()
}

/// The answer, or `None` when AWS says (with `not_found`) the one thing asked for does not
/// exist.
pub(crate) fn found_or_none<T>(r: Done<T>, not_found: &str) -> Done<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.aws_code() == Some(not_found) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records a refreshed resource as live, or as missing when it was not found.
pub(crate) fn report(out: &mut Refresh, address: &Address, live: Option<Live>) {
    match live {
        Some(live) => {
            out.live.insert(address.clone(), live);
        }
        None => {
            out.missing.insert(address.clone());
        }
    }
}

/// A live list whose order means nothing (subnets, attachments, providers): the recorded list
/// itself when it holds the same items, else the live items sorted, so a set read back in
/// another order is no drift.
pub(crate) fn as_set(mut live: Vec<String>, recorded: Option<&[String]>) -> Vec<String> {
    if let Some(r) = recorded {
        let set: BTreeSet<&String> = live.iter().collect();
        if r.iter().collect::<BTreeSet<_>>() == set && set.len() == r.len() {
            return r.to_vec();
        }
    }
    live.sort();
    live
}

/// The longest common prefix of `names` (on character boundaries): the narrowest filter of one
/// list call that still returns all of them.
pub(crate) fn common_prefix<'a>(mut names: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = names.next() else {
        return String::new();
    };
    let mut len = first.len();
    for name in names {
        len = first
            .char_indices()
            .zip(name.chars())
            .take_while(|((i, a), b)| *i < len && a == b)
            .map(|((i, a), _)| i + a.len_utf8())
            .last()
            .unwrap_or(0);
    }
    first[..len].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(
            common_prefix(["/ecsops/a/docker", "/ecsops/a/dmesg"].into_iter()),
            "/ecsops/a/d"
        );
        assert_eq!(common_prefix(["abc"].into_iter()), "abc");
        assert_eq!(common_prefix(["abc", "xyz"].into_iter()), "");
        assert_eq!(common_prefix(["é1", "é2"].into_iter()), "é");
        assert_eq!(common_prefix(std::iter::empty()), "");
    }

    #[test]
    fn sets_keep_the_recorded_order_when_equal() {
        let strings =
            |items: &[&str]| -> Vec<String> { items.iter().map(|s| (*s).to_owned()).collect() };
        let recorded = strings(&["b", "a"]);
        assert_eq!(as_set(strings(&["a", "b"]), Some(&recorded)), recorded);
        assert_eq!(as_set(strings(&["c", "a"]), Some(&recorded)), strings(&["a", "c"]));
        assert_eq!(as_set(strings(&["b", "a"]), None), strings(&["a", "b"]));
    }
}
