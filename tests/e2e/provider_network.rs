//! The AWS provider's network and security group families against moto: the acceptance
//! environment's network is created through the provider (references resolved from the outputs
//! of what was created before, in dependency order), then checked in the emulator with plain
//! describe calls: CIDRs, zones, routes, tags, adoption instead of twins, one describe per kind
//! on refresh, drift, in-place updates and deletion in reverse order.

use std::collections::BTreeMap;
use std::time::Duration;

use ecsops_core::graph::{self, Address, Graph, Kind};
use ecsops_core::plan::{self, Action, PlanInput};
use ecsops_core::provider::aws::Waits;
use ecsops_core::provider::aws::sdk::ec2::types::{
    AttributeBooleanValue, Filter, NatGatewayState, Tag, VpcAttributeName,
};
use ecsops_core::provider::{Provider, ProviderError, ResourceSpec};
use ecsops_core::state::{ResourceState, State};
use serde_json::{Value, json};

use crate::support::moto;
use crate::support::provider::{Fixture, network, with_changes};

const ENV: &str = "acceptance";
const LINEAGE: &str = "4f1c2d9e-provider-network";

/// The acceptance graph restricted to the network family.
fn network_graph() -> Graph {
    let manifest = crate::support::aws::acceptance_manifest();
    let mut graph = graph::build(&manifest, ENV).expect("acceptance builds");
    graph.resources.retain(|_, r| network(r.kind));
    graph
}

/// A fresh emulator with the acceptance network created through the provider.
async fn created() -> Fixture {
    let mut f = Fixture::new(LINEAGE, None, network_graph()).await;
    f.create_graph().await;
    f
}

fn env_filter() -> Filter {
    Filter::builder().name("tag:ecsops:environment").values(ENV).build()
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect()
}

/// A plan of the network family against `resources`.
fn plan_against(f: &Fixture, resources: BTreeMap<Address, ResourceState>) -> plan::Plan {
    let mut state = State::new(ENV, LINEAGE.to_owned());
    state.resources = resources;
    plan::diff(PlanInput {
        environment: ENV,
        graph: &f.graph,
        state: Some(&state),
        moved: &[],
        manifest_digest: "test",
    })
}

#[tokio::test]
async fn creates_the_acceptance_network_as_the_convention_says() {
    let f = Box::pin(created()).await;
    let ec2 = f.provider.ec2();

    let vpcs = ec2.describe_vpcs().filters(env_filter()).send().await.expect("vpcs");
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    let vpc_id = vpc.vpc_id().expect("vpc id");
    assert_eq!(vpc_id, f.id("vpc"));
    let tags = tags_of(vpc.tags());
    for (k, v) in [
        ("Environment", ENV),
        ("Name", ENV),
        ("Team", "platform"),
        ("ecsops:environment", ENV),
        ("ecsops:address", "vpc"),
        ("ecsops:lineage", LINEAGE),
    ] {
        assert_eq!(tags.get(k).map(String::as_str), Some(v), "vpc tag {k}");
    }
    let hostnames = ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .expect("attribute");
    assert_eq!(hostnames.enable_dns_hostnames().and_then(AttributeBooleanValue::value), Some(true));

    let subnets = ec2.describe_subnets().filters(env_filter()).send().await.expect("subnets");
    let mut layout: Vec<(String, String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            let t = tags_of(s.tags());
            (
                s.cidr_block().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
                t.get("ecsops:address").cloned().unwrap_or_default(),
            )
        })
        .collect();
    layout.sort();
    let expected: Vec<(String, String, String)> = [
        ("10.0.0.0/24", "eu-west-1a", "subnet.public[eu-west-1a]"),
        ("10.0.1.0/24", "eu-west-1b", "subnet.public[eu-west-1b]"),
        ("10.0.50.0/24", "eu-west-1a", "subnet.private[eu-west-1a]"),
        ("10.0.51.0/24", "eu-west-1b", "subnet.private[eu-west-1b]"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(layout, expected);
    assert!(subnets.subnets().iter().all(|s| s.vpc_id() == Some(vpc_id)));

    let igw = f.id("internet_gateway");
    let nat = f.id("nat_gateway[eu-west-1a]");
    let tables = ec2.describe_route_tables().filters(env_filter()).send().await.expect("tables");
    assert_eq!(tables.route_tables().len(), 3);
    for t in tables.route_tables() {
        let address = tags_of(t.tags())["ecsops:address"].clone();
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap_or_else(|| panic!("{address} has a default route"));
        if address == "route_table.public" {
            assert_eq!(default.gateway_id(), Some(igw.as_str()));
            assert_eq!(t.associations().iter().filter(|a| a.subnet_id().is_some()).count(), 2);
        } else {
            assert_eq!(default.nat_gateway_id(), Some(nat.as_str()), "{address}");
            assert_eq!(t.associations().iter().filter(|a| a.subnet_id().is_some()).count(), 1);
        }
    }

    let gateways =
        ec2.describe_internet_gateways().filters(env_filter()).send().await.expect("igw");
    assert_eq!(gateways.internet_gateways().len(), 1);
    assert_eq!(gateways.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc_id));

    let nats = ec2.describe_nat_gateways().filter(env_filter()).send().await.expect("nat");
    assert_eq!(nats.nat_gateways().len(), 1, "a single NAT gateway for acceptance");
    let n = &nats.nat_gateways()[0];
    assert_eq!(n.state().map(NatGatewayState::as_str), Some("available"));
    assert_eq!(n.subnet_id(), Some(f.id("subnet.public[eu-west-1a]").as_str()));
    assert_eq!(
        n.nat_gateway_addresses()[0].allocation_id(),
        Some(f.id("elastic_ip.nat[eu-west-1a]").as_str())
    );

    let groups = ec2.describe_security_groups().filters(env_filter()).send().await.expect("sgs");
    assert_eq!(groups.security_groups().len(), 2);
    let lb_sg = f.id("security_group.load_balancer[default]");
    let instances = groups
        .security_groups()
        .iter()
        .find(|g| g.group_id() == Some(f.id("security_group.instances").as_str()))
        .expect("instances group");
    let from_lb = instances
        .ip_permissions()
        .iter()
        .find(|p| p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(lb_sg.as_str())))
        .expect("instances accept the load balancer's group");
    assert_eq!((from_lb.from_port(), from_lb.to_port()), (Some(32768), Some(65535)));
    let lb = groups
        .security_groups()
        .iter()
        .find(|g| g.group_id() == Some(lb_sg.as_str()))
        .expect("load balancer group");
    let egress: Vec<&str> = lb
        .ip_permissions_egress()
        .iter()
        .flat_map(|p| p.ip_ranges().iter().filter_map(|r| r.cidr_ip()))
        .collect();
    assert_eq!(egress, vec!["10.0.0.0/16"], "the default allow-all egress was revoked");
}

#[tokio::test]
async fn refresh_reads_each_kind_once_in_the_desired_shape() {
    let f = Box::pin(created()).await;
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    let counts = f.provider.calls().counts();
    let expected: BTreeMap<String, usize> = [
        ("DescribeVpcs", 1),
        ("DescribeVpcAttribute", 2),
        ("DescribeInternetGateways", 1),
        ("DescribeSubnets", 1),
        ("DescribeRouteTables", 1),
        ("DescribeAddresses", 1),
        ("DescribeNatGateways", 1),
        ("DescribeSecurityGroups", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected, "one describe per kind (DNS flags need their own call)");
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    assert!(refresh.untracked.is_empty());
    assert!(refresh.unsupported.is_empty());
    assert_eq!(refresh.live.len(), f.state.len());
    for (address, live) in &refresh.live {
        let recorded = &f.state[address];
        assert_eq!(live.attributes, recorded.attributes, "{address}");
        assert_eq!(live.outputs, recorded.outputs, "{address}");
        assert_eq!(Some(&live.id), recorded.id.as_ref(), "{address}");
    }
    let plan = plan_against(&f, refresh.apply_to(&f.state));
    let changed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| format!("{} {}", c.action.as_str(), c.address))
        .collect();
    assert!(changed.is_empty(), "no drift right after create: {changed:?}");
}

#[tokio::test]
async fn a_second_create_adopts_instead_of_duplicating() {
    let f = Box::pin(created()).await;
    // A crash between create and state write: a new run (new provider, same lineage) creates again.
    let rerun = f.provider_as(LINEAGE).await;
    let count_vpcs =
        || async { rerun.ec2().describe_vpcs().send().await.expect("vpcs").vpcs().len() };
    let before = count_vpcs().await;
    // Every kind of the family: each finds what the first run made (by its tags, or by its
    // natural key for routes and associations).
    f.assert_created_again_adopts(&rerun, &f.graph.topological_order()).await;
    assert_eq!(count_vpcs().await, before, "no twin VPC");
    let nats = rerun.ec2().describe_nat_gateways().filter(env_filter()).send().await.expect("nats");
    assert_eq!(nats.nat_gateways().len(), 1, "no twin NAT gateway");

    // A crash between creating the internet gateway and attaching it: adoption attaches it.
    let igw = Address::new("internet_gateway");
    let igw_id = f.id("internet_gateway");
    let vpc_id = f.id("vpc");
    rerun
        .ec2()
        .detach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("detach outside ecsops");
    let applied = rerun.create(&f.specs[&igw], 1).await.expect("adopt the gateway");
    assert!(applied.adopted);
    let gateways =
        rerun.ec2().describe_internet_gateways().filters(env_filter()).send().await.expect("igws");
    assert_eq!(gateways.internet_gateways().len(), 1, "no twin gateway");
    assert_eq!(
        gateways.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc_id.as_str()),
        "attached again"
    );

    // Another state lineage claiming the same address is refused, not adopted or duplicated.
    let stranger = f.provider_as("another-lineage").await;
    let err = stranger.create(&f.specs[&Address::new("vpc")], 1).await.expect_err("foreign");
    assert!(matches!(err, ProviderError::ForeignLineage { .. }), "{err}");
    assert_eq!(count_vpcs().await, before);
}

#[tokio::test]
async fn a_route_deleted_in_the_emulator_is_missing_and_planned_again() {
    let f = Box::pin(created()).await;
    let table = f.id("route_table.private[eu-west-1b]");
    f.provider
        .ec2()
        .delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .expect("delete route outside ecsops");
    f.provider
        .ec2()
        .modify_subnet_attribute()
        .subnet_id(f.id("subnet.private[eu-west-1a]"))
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .expect("change a subnet outside ecsops");
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    let route = Address::from("route.private_nat[eu-west-1b]");
    assert_eq!(refresh.missing.iter().collect::<Vec<_>>(), vec![&route]);
    let plan = plan_against(&f, refresh.apply_to(&f.state));
    let mut changed: Vec<(String, &str)> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.to_string(), c.action.as_str()))
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            ("route.private_nat[eu-west-1b]".to_owned(), "create"),
            ("subnet.private[eu-west-1a]".to_owned(), "update"),
        ]
    );
    let drift = plan
        .changes
        .iter()
        .find(|c| c.address.as_str() == "subnet.private[eu-west-1a]")
        .expect("subnet change");
    assert_eq!(drift.attributes[0].name, "map_public_ip_on_launch");
    assert_eq!(drift.attributes[0].before, Some(json!(true)));

    // Repair: update the subnet, create the route again.
    let subnet = Address::from("subnet.private[eu-west-1a]");
    let refreshed = refresh.apply_to(&f.state);
    f.provider.update(&f.specs[&subnet], &refreshed[&subnet]).await.expect("repair subnet");
    f.provider.create(&f.specs[&route], 2).await.expect("recreate route");
    let again = f.provider.refresh(&f.state).await.expect("refresh");
    assert!(again.missing.is_empty());
    assert_eq!(again.live[&subnet].attributes, f.state[&subnet].attributes);
}

#[tokio::test]
async fn updates_in_place_change_flags_rules_and_tags() {
    let mut f = Box::pin(created()).await;
    let patch = |address: &str, changes: Value| {
        let a = Address::from(address);
        let spec = with_changes(&f.specs[&a], &changes);
        (a, spec)
    };
    let updates = vec![
        patch("vpc", json!({"enable_dns_hostnames": false})),
        patch("subnet.public[eu-west-1a]", json!({"map_public_ip_on_launch": true})),
        patch(
            "security_group.load_balancer[default]",
            json!({"ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}]}),
        ),
        patch("nat_gateway[eu-west-1a]", json!({"tags": {"Environment": ENV, "Name": "renamed"}})),
    ];
    for (a, spec) in updates {
        let applied = f.provider.update(&spec, &f.state[&a]).await.expect("update");
        assert!(!applied.adopted);
        let deps = f.state[&a].dependencies.clone();
        f.state.insert(a, applied.into_state(spec.kind, deps));
    }
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    assert_eq!(refresh.live.len(), f.state.len(), "every resource came back live");
    for (address, live) in &refresh.live {
        assert_eq!(live.attributes, f.state[address].attributes, "{address}");
    }
    let nat =
        f.provider.ec2().describe_nat_gateways().filter(env_filter()).send().await.expect("nat");
    let tags = tags_of(nat.nat_gateways()[0].tags());
    assert_eq!(tags.get("Name").map(String::as_str), Some("renamed"));
    assert_eq!(tags.get("Team"), None, "a tag left out of the spec is removed");
    assert_eq!(
        tags.get("ecsops:lineage").map(String::as_str),
        Some(LINEAGE),
        "ownership tags stay"
    );

    // A change AWS cannot make in place is refused: the planner must replace.
    let (_, spec) = patch("vpc", json!({"cidr_block": "10.9.0.0/16"}));
    f.assert_update_replaces(&spec, "cidr_block").await;
}

#[tokio::test]
async fn delete_removes_everything_in_reverse_order() {
    let f = Box::pin(created()).await;
    let order = f.deletion_order(network);
    f.delete_each(&order).await;
    let calls = f.provider.calls().all();
    let position =
        |op: &str| calls.iter().position(|c| c == op).unwrap_or_else(|| panic!("{op} sent"));
    assert!(position("DeleteNatGateway") < position("ReleaseAddress"), "{calls:?}");
    assert!(position("DetachInternetGateway") < position("DeleteInternetGateway"), "{calls:?}");
    assert!(position("DeleteInternetGateway") < position("DeleteVpc"), "{calls:?}");

    let ec2 = f.provider.ec2();
    assert!(
        ec2.describe_vpcs().filters(env_filter()).send().await.expect("vpcs").vpcs().is_empty()
    );
    assert!(
        ec2.describe_subnets()
            .filters(env_filter())
            .send()
            .await
            .expect("subnets")
            .subnets()
            .is_empty()
    );
    assert!(
        ec2.describe_addresses()
            .filters(env_filter())
            .send()
            .await
            .expect("eips")
            .addresses()
            .is_empty()
    );
    assert!(
        ec2.describe_internet_gateways()
            .filters(env_filter())
            .send()
            .await
            .expect("igws")
            .internet_gateways()
            .is_empty()
    );
    let live_nats = ec2.describe_nat_gateways().filter(env_filter()).send().await.expect("nats");
    assert!(
        live_nats
            .nat_gateways()
            .iter()
            .all(|n| { n.state().map(NatGatewayState::as_str) == Some("deleted") })
    );
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert_eq!(refresh.missing.len(), f.state.len(), "everything is gone");

    // Deleting again succeeds: deletes are idempotent.
    f.delete_each(&order).await;
}

#[tokio::test]
async fn failures_are_typed_with_the_aws_code() {
    let moto = moto::moto();
    // A fresh moto server loads its EC2 emulation on the first EC2 request (seconds on a busy
    // machine): made here, so that the consistency window below is spent on retries.
    let config = crate::support::aws::sdk_config(&moto.server.endpoint).await;
    ecsops_core::provider::aws::sdk::ec2::Client::new(&config)
        .describe_vpcs()
        .send()
        .await
        .expect("EC2 answers");
    let provider =
        crate::support::aws::provider(&moto.server.endpoint, LINEAGE).await.with_waits(Waits {
            consistency: Duration::from_secs(6),
            poll: Duration::from_millis(100),
            ..Waits::default()
        });
    let spec = ResourceSpec {
        address: Address::new("ecs_cluster"),
        kind: Kind::EcsCluster,
        attributes: BTreeMap::new(),
    };
    let err = provider.create(&spec, 1).await.expect_err("a cluster needs a name");
    assert!(
        matches!(&err, ProviderError::InvalidAttribute { attribute, .. } if attribute == "name"),
        "{err}"
    );
    assert_eq!(provider.calls().total(), 0, "nothing was sent");

    // A subnet in a VPC that does not exist: retried while EC2 might not see a new id yet, then
    // reported with AWS's code and the address.
    let subnet = ResourceSpec {
        address: Address::keyed("subnet.public", "eu-west-1a"),
        kind: Kind::Subnet,
        attributes: serde_json::from_value(json!({
            "vpc_id": "vpc-00000000000000000", "cidr_block": "10.0.0.0/24",
            "availability_zone": "eu-west-1a", "map_public_ip_on_launch": false, "tags": {}
        }))
        .expect("attributes"),
    };
    let err = provider.create(&subnet, 1).await.expect_err("no such vpc");
    assert_eq!(err.aws_code(), Some("InvalidVpcID.NotFound"), "{err}");
    assert!(
        err.to_string()
            .starts_with("`subnet.public[eu-west-1a]`: CreateSubnet failed: InvalidVpcID.NotFound"),
        "{err}"
    );
    assert!(provider.calls().count("CreateSubnet") > 1, "retried: {:?}", provider.calls().all());
}
