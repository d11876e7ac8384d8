//! The AWS provider's load balancing families against moto: the acceptance environment's
//! application load balancer, target groups, listener and rules (and, from the same manifest
//! with `type = "classic"`, a classic load balancer) are created through the provider on top of
//! the network it needs (created through the network families, in dependency order), then
//! checked in the emulator with plain describe calls: names, attributes, rules, ownership tags,
//! adoption instead of twins, one describe per kind on refresh with no drift, drift made in the
//! emulator, in-place updates, deletion (twice) and resources deleted outside ecsops.
//!
//! moto gaps met: it never enforces deletion protection (the provider refuses from the recorded
//! value, which is what is asserted), load balancers are `active` at once, and classic listeners
//! report the load balancer protocol as the instance protocol (the test uses HTTP only).

use std::collections::{BTreeMap, BTreeSet};

use ecsops_core::graph::{self, Address, Graph, Kind};
use ecsops_core::manifest::LoadBalancerKind;
use ecsops_core::provider::aws::sdk::elb::types::{
    ConnectionSettings, CrossZoneLoadBalancing, Listener as ClassicListener,
};
use ecsops_core::provider::aws::sdk::elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, ProtocolEnum, TagDescription,
};
use ecsops_core::provider::{Provider, ProviderError};
use ecsops_core::state::ResourceState;
use serde_json::{Value, json};

use crate::support::provider::{Fixture, with_changes};

const ENV: &str = "acceptance";
const LINEAGE: &str = "7b2e91c4-provider-load-balancing";

fn load_balancing(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::LoadBalancer
            | Kind::TargetGroup
            | Kind::Listener
            | Kind::ListenerRule
            | Kind::ClassicLoadBalancer
    )
}

/// The acceptance graph restricted to the load balancing kinds and what they stand on: the VPC,
/// its internet gateway, the public subnets and the load balancer's security group.
fn graph_for(kind: LoadBalancerKind) -> Graph {
    let mut manifest = crate::support::aws::acceptance_manifest();
    for lb in manifest.load_balancers.values_mut() {
        lb.kind = kind;
    }
    let mut graph = graph::build(&manifest, ENV).expect("acceptance builds");
    graph.resources.retain(|address, r| {
        load_balancing(r.kind)
            || matches!(r.kind, Kind::Vpc | Kind::InternetGateway)
            || address.as_str().starts_with("subnet.public")
            || address.as_str().starts_with("security_group.load_balancer")
    });
    graph
}

impl Fixture {
    /// The recorded load balancing resources only, so a refresh counts their calls alone.
    fn ours(&self) -> BTreeMap<Address, ResourceState> {
        self.recorded(load_balancing)
    }

    fn elbv2(&self) -> &ecsops_core::provider::aws::sdk::elbv2::Client {
        &self.provider.clients().elbv2
    }

    fn elb(&self) -> &ecsops_core::provider::aws::sdk::elb::Client {
        &self.provider.clients().elb
    }
}

/// A fresh emulator with the graph created through the provider, in dependency order.
async fn created(kind: LoadBalancerKind) -> Fixture {
    let mut f = Fixture::new(LINEAGE, None, graph_for(kind)).await;
    f.create_graph().await;
    f
}

fn tag_map(descriptions: &[TagDescription]) -> BTreeMap<String, String> {
    descriptions
        .iter()
        .flat_map(TagDescription::tags)
        .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect()
}

async fn tags_of(f: &Fixture, arn: &str) -> BTreeMap<String, String> {
    let out = f.elbv2().describe_tags().resource_arns(arn).send().await.expect("tags");
    tag_map(out.tag_descriptions())
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Load balancer attributes as AWS reports them.
async fn lb_attributes(f: &Fixture, arn: &str) -> BTreeMap<String, String> {
    f.elbv2()
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_owned(), a.value()?.to_owned())))
        .collect()
}

#[tokio::test]
async fn creates_the_acceptance_load_balancing_as_the_convention_says() {
    let f = Box::pin(created(LoadBalancerKind::Application)).await;
    let lb_arn = f.id("load_balancer[default]");
    let lbs = f.elbv2().describe_load_balancers().send().await.expect("lbs");
    assert_eq!(lbs.load_balancers().len(), 1);
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.load_balancer_arn(), Some(lb_arn.as_str()));
    assert_eq!(lb.load_balancer_name(), Some("acceptance-default"));
    assert_eq!(lb.scheme().map(LoadBalancerSchemeEnum::as_str), Some("internet-facing"));
    assert_eq!(lb.r#type().map(LoadBalancerTypeEnum::as_str), Some("application"));
    let subnets: BTreeSet<&str> =
        lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    let public: BTreeSet<String> = ["subnet.public[eu-west-1a]", "subnet.public[eu-west-1b]"]
        .iter()
        .map(|a| f.id(a))
        .collect();
    assert_eq!(subnets, public.iter().map(String::as_str).collect::<BTreeSet<_>>());
    assert_eq!(lb.security_groups(), [f.id("security_group.load_balancer[default]")]);
    let recorded = &f.state[&Address::from("load_balancer[default]")];
    assert_eq!(recorded.outputs["arn"], json!(lb_arn));
    assert_eq!(recorded.outputs["dns_name"], json!(lb.dns_name()));
    assert_eq!(recorded.outputs["zone_id"], json!(lb.canonical_hosted_zone_id()));
    let attributes = lb_attributes(&f, &lb_arn).await;
    assert_eq!(attributes["idle_timeout.timeout_seconds"], "60");
    assert_eq!(attributes["deletion_protection.enabled"], "false");
    assert_eq!(attributes["routing.http.drop_invalid_header_fields.enabled"], "true");
    let tags = tags_of(&f, &lb_arn).await;
    f.assert_owned(&tags, "load_balancer[default]");
    assert_eq!(tags["Name"], "acceptance-default");
    assert_eq!(tags["Team"], "platform");

    let tgs = f.elbv2().describe_target_groups().send().await.expect("tgs");
    assert_eq!(tgs.target_groups().len(), 2);
    for (service, path, matcher) in [("web", "/", "200-399"), ("api", "/api/health", "200-399")] {
        let address = format!("target_group[{service}]");
        let tg = tgs
            .target_groups()
            .iter()
            .find(|t| t.target_group_name() == Some(&format!("acceptance-{service}")))
            .unwrap_or_else(|| panic!("{address}"));
        assert_eq!(tg.target_group_arn(), Some(f.id(&address).as_str()), "{address}");
        assert_eq!(tg.port(), Some(80));
        assert_eq!(tg.vpc_id(), Some(f.id("vpc").as_str()));
        assert_eq!(tg.health_check_path(), Some(path));
        assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some(matcher));
        assert_eq!(tg.health_check_port(), Some("traffic-port"));
        let delay = f
            .elbv2()
            .describe_target_group_attributes()
            .target_group_arn(f.id(&address))
            .send()
            .await
            .expect("tg attributes");
        let delay = delay
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value());
        assert_eq!(delay, Some("30"), "{address}");
        f.assert_owned(&tags_of(&f, &f.id(&address)).await, &address);
    }

    let listeners =
        f.elbv2().describe_listeners().load_balancer_arn(&lb_arn).send().await.expect("listeners");
    assert_eq!(listeners.listeners().len(), 1);
    let listener = &listeners.listeners()[0];
    let listener_arn = f.id("listener[default:80]");
    assert_eq!(listener.listener_arn(), Some(listener_arn.as_str()));
    assert_eq!(listener.port(), Some(80));
    assert_eq!(listener.protocol().map(ProtocolEnum::as_str), Some("HTTP"));
    let fixed = listener.default_actions()[0].fixed_response_config().expect("fixed response");
    assert_eq!(fixed.status_code(), Some("404"));
    f.assert_owned(&tags_of(&f, &listener_arn).await, "listener[default:80]");

    let rules = f.elbv2().describe_rules().listener_arn(&listener_arn).send().await.expect("rules");
    let mut routes: Vec<(String, String, String)> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let path = r.conditions()[0]
                .path_pattern_config()
                .map(|c| c.values().join(","))
                .unwrap_or_default();
            (
                r.priority().unwrap_or_default().to_owned(),
                path,
                r.actions()[0].target_group_arn().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        vec![
            ("10".to_owned(), "/api/*".to_owned(), f.id("target_group[api]")),
            ("100".to_owned(), "/*".to_owned(), f.id("target_group[web]")),
        ]
    );
    f.assert_owned(&tags_of(&f, &f.id("listener_rule[web]")).await, "listener_rule[web]");
}

#[tokio::test]
async fn refresh_reads_each_kind_once_without_drift() {
    let f = Box::pin(created(LoadBalancerKind::Application)).await;
    let ours = f.ours();
    let refresh = f.provider.refresh(&ours).await.expect("refresh");
    assert_eq!(
        f.provider.calls().counts(),
        counts(&[
            ("DescribeLoadBalancers", 1),
            ("DescribeTargetGroups", 1),
            ("DescribeListeners", 1),
            ("DescribeRules", 1),
            ("DescribeTags", 1),
        ]),
        "one describe per kind, one DescribeTags for all six ARNs"
    );
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    assert!(refresh.untracked.is_empty());
    assert!(refresh.unsupported.is_empty());
    assert_eq!(refresh.live.len(), ours.len());
    for (address, live) in &refresh.live {
        let recorded = &ours[address];
        assert_eq!(live.attributes, recorded.attributes, "{address}");
        assert_eq!(live.outputs, recorded.outputs, "{address}");
        assert_eq!(Some(&live.id), recorded.id.as_ref(), "{address}");
    }
}

#[tokio::test]
async fn a_second_create_adopts_instead_of_duplicating() {
    let f = Box::pin(created(LoadBalancerKind::Application)).await;
    // A crash between create and state write: a new run with the same lineage creates again.
    let rerun = f.provider_as(LINEAGE).await;
    let mut order = f.deletion_order(load_balancing);
    order.reverse();
    f.assert_created_again_adopts(&rerun, &order).await;
    let elbv2 = f.elbv2();
    let lbs = elbv2.describe_load_balancers().send().await.expect("lbs");
    assert_eq!(lbs.load_balancers().len(), 1, "no twin load balancer");
    let tgs = elbv2.describe_target_groups().send().await.expect("tgs");
    assert_eq!(tgs.target_groups().len(), 2, "no twin target groups");
    let listener_arn = f.id("listener[default:80]");
    let listeners = elbv2
        .describe_listeners()
        .load_balancer_arn(f.id("load_balancer[default]"))
        .send()
        .await
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 1, "no twin listener");
    let rules = elbv2.describe_rules().listener_arn(&listener_arn).send().await.expect("rules");
    let non_default = rules.rules().iter().filter(|r| r.is_default() != Some(true)).count();
    assert_eq!(non_default, 2, "no twin rules");

    // Another state lineage claiming the same name is refused.
    let stranger = f.provider_as("another-lineage").await;
    let lb = Address::from("load_balancer[default]");
    let err = stranger.create(&f.specs[&lb], 1).await.expect_err("foreign");
    assert!(matches!(err, ProviderError::ForeignLineage { .. }), "{err}");

    // A target group made outside ecsops under the desired name is refused, not taken over.
    let tg = Address::from("target_group[web]");
    let mut spec = f.specs[&tg].clone();
    spec.attributes.insert("name".to_owned(), json!("acceptance-stray"));
    elbv2
        .create_target_group()
        .name("acceptance-stray")
        .port(80)
        .protocol("HTTP".into())
        .vpc_id(f.id("vpc"))
        .send()
        .await
        .expect("stray target group");
    let err = f.provider.create(&spec, 1).await.expect_err("not ours");
    assert!(err.to_string().contains("not created by ecsops"), "{err}");
    let tgs = elbv2.describe_target_groups().send().await.expect("tgs");
    assert_eq!(tgs.target_groups().len(), 3);
}

#[tokio::test]
async fn drift_shows_and_updates_apply_in_place() {
    let mut f = Box::pin(created(LoadBalancerKind::Application)).await;
    let listener = Address::from("listener[default:80]");
    let tg = Address::from("target_group[api]");
    // Changes made outside ecsops.
    f.elbv2()
        .modify_listener()
        .listener_arn(f.id(listener.as_str()))
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("503")
                        .content_type("text/plain")
                        .message_body("down")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("modify listener outside ecsops");
    f.elbv2()
        .modify_target_group()
        .target_group_arn(f.id(tg.as_str()))
        .health_check_path("/elsewhere")
        .send()
        .await
        .expect("modify target group outside ecsops");
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(refresh.live[&listener].attributes["default_action"]["status_code"], json!("503"));
    assert_eq!(refresh.live[&tg].attributes["health_check"]["path"], json!("/elsewhere"));
    let drifted: BTreeSet<String> = refresh
        .live
        .iter()
        .filter(|(a, l)| l.attributes != f.state[*a].attributes)
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(drifted, BTreeSet::from([listener.to_string(), tg.to_string()]));

    // Repair from the refreshed values, and change attributes in place.
    let refreshed = refresh.apply_to(&f.state);
    let patch = |address: &str, changes: Value| {
        let a = Address::from(address);
        let spec = with_changes(&f.specs[&a], &changes);
        (a, spec)
    };
    let updates = vec![
        (listener.clone(), f.specs[&listener].clone()),
        (tg.clone(), f.specs[&tg].clone()),
        patch(
            "load_balancer[default]",
            json!({"idle_timeout": 120, "tags": {"Environment": ENV, "Name": "renamed"}}),
        ),
        patch(
            "target_group[web]",
            json!({"deregistration_delay": 5, "health_check": {
                "path": "/healthz", "matcher": "200", "interval": 15, "timeout": 5,
                "healthy_threshold": 2, "unhealthy_threshold": 3, "protocol": "HTTP",
                "port": "traffic-port"}}),
        ),
        patch(
            "listener_rule[web]",
            json!({"priority": 200, "conditions": {"path_patterns": ["/web/*"]}}),
        ),
    ];
    for (a, spec) in updates {
        let prior = refreshed.get(&a).unwrap_or(&f.state[&a]);
        let applied =
            f.provider.update(&spec, prior).await.unwrap_or_else(|e| panic!("update {a}: {e}"));
        assert!(!applied.adopted);
        assert_eq!(applied.outputs, f.state[&a].outputs, "{a}");
        let deps = f.state[&a].dependencies.clone();
        f.state.insert(a, applied.into_state(spec.kind, deps));
    }
    let again = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert!(again.missing.is_empty(), "{:?}", again.missing);
    assert_eq!(again.live.len(), f.ours().len(), "every resource came back live");
    for (address, live) in &again.live {
        assert_eq!(live.attributes, f.state[address].attributes, "{address}");
    }

    let lb_arn = f.id("load_balancer[default]");
    assert_eq!(lb_attributes(&f, &lb_arn).await["idle_timeout.timeout_seconds"], "120");
    let tags = tags_of(&f, &lb_arn).await;
    assert_eq!(tags.get("Name").map(String::as_str), Some("renamed"));
    assert_eq!(tags.get("Team"), None, "a tag left out of the spec is removed");
    f.assert_owned(&tags, "load_balancer[default]");
    let web = f
        .elbv2()
        .describe_target_groups()
        .target_group_arns(f.id("target_group[web]"))
        .send()
        .await
        .expect("tg");
    let web = &web.target_groups()[0];
    assert_eq!(web.health_check_path(), Some("/healthz"));
    assert_eq!(web.health_check_interval_seconds(), Some(15));
    let delay = f
        .elbv2()
        .describe_target_group_attributes()
        .target_group_arn(f.id("target_group[web]"))
        .send()
        .await
        .expect("tg attributes");
    assert!(
        delay
            .attributes()
            .iter()
            .any(|a| a.key() == Some("deregistration_delay.timeout_seconds")
                && a.value() == Some("5"))
    );
    let rule = f
        .elbv2()
        .describe_rules()
        .rule_arns(f.id("listener_rule[web]"))
        .send()
        .await
        .expect("rule");
    let rule = &rule.rules()[0];
    assert_eq!(rule.priority(), Some("200"));
    assert_eq!(
        rule.conditions()[0].path_pattern_config().map(|c| c.values().to_vec()),
        Some(vec!["/web/*".to_owned()])
    );

    // A change AWS cannot make in place is refused: the planner must replace.
    let (_, spec) = patch("target_group[web]", json!({"port": 8080}));
    f.assert_update_replaces(&spec, "port").await;
}

#[tokio::test]
async fn resources_deleted_outside_are_missing() {
    let f = Box::pin(created(LoadBalancerKind::Application)).await;
    f.elbv2()
        .delete_rule()
        .rule_arn(f.id("listener_rule[api]"))
        .send()
        .await
        .expect("delete rule outside ecsops");
    f.elbv2()
        .delete_target_group()
        .target_group_arn(f.id("target_group[api]"))
        .send()
        .await
        .expect("delete target group outside ecsops");
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(
        refresh.missing,
        BTreeSet::from([Address::from("listener_rule[api]"), Address::from("target_group[api]")])
    );
    assert_eq!(refresh.live.len(), f.ours().len() - 2);
    for (address, live) in &refresh.live {
        assert_eq!(live.attributes, f.state[address].attributes, "{address}");
    }
}

#[tokio::test]
async fn delete_removes_everything_and_is_idempotent() {
    let f = Box::pin(created(LoadBalancerKind::Application)).await;
    // Deletion protection (recorded) is refused before AWS is asked: moto would not enforce it.
    let lb = Address::from("load_balancer[default]");
    let mut protected = f.state[&lb].clone();
    protected.attributes.insert("deletion_protection".to_owned(), json!(true));
    let err = f.provider.delete(&lb, &protected).await.expect_err("protected");
    assert!(err.to_string().contains("`deletion_protection = false`"), "{err}");
    assert_eq!(f.provider.calls().total(), 0, "nothing was sent");

    let order = f.deletion_order(load_balancing);
    f.delete_each(&order).await;
    let elbv2 = f.elbv2();
    assert!(elbv2.describe_load_balancers().send().await.expect("lbs").load_balancers().is_empty());
    assert!(elbv2.describe_target_groups().send().await.expect("tgs").target_groups().is_empty());
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(refresh.missing.len(), f.ours().len(), "everything is gone");
    f.delete_each(&order).await;
}

#[tokio::test]
async fn classic_load_balancer_lifecycle() {
    let mut f = Box::pin(created(LoadBalancerKind::Classic)).await;
    let a = Address::from("classic_load_balancer[default]");
    let name = f.id(a.as_str());
    assert_eq!(name, "acceptance-default");
    let elb = f.elb().clone();
    let described = elb.describe_load_balancers().send().await.expect("classic");
    assert_eq!(described.load_balancer_descriptions().len(), 1);
    let d = &described.load_balancer_descriptions()[0];
    assert_eq!(d.load_balancer_name(), Some(name.as_str()));
    assert_eq!(d.scheme(), Some("internet-facing"));
    assert_eq!(f.state[&a].outputs["dns_name"], json!(d.dns_name().expect("dns")));
    let listener = d.listener_descriptions()[0].listener().expect("listener");
    assert_eq!(
        (listener.load_balancer_port(), listener.protocol(), listener.instance_port()),
        (80, "HTTP", 80)
    );
    // The routed service's health check, on its fixed host port.
    let check = d.health_check().expect("a health check");
    assert_eq!(
        (
            check.target(),
            check.interval(),
            check.timeout(),
            check.healthy_threshold(),
            check.unhealthy_threshold()
        ),
        ("HTTP:80/api/health", 15, 5, 3, 3)
    );
    let subnets: BTreeSet<&str> = d.subnets().iter().map(String::as_str).collect();
    let public: BTreeSet<String> = ["subnet.public[eu-west-1a]", "subnet.public[eu-west-1b]"]
        .iter()
        .map(|s| f.id(s))
        .collect();
    assert_eq!(subnets, public.iter().map(String::as_str).collect::<BTreeSet<_>>());
    assert_eq!(d.security_groups(), [f.id("security_group.load_balancer[default]")]);
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_name(&name)
        .send()
        .await
        .expect("attributes");
    let attributes = attributes.load_balancer_attributes().expect("attributes");
    assert_eq!(attributes.connection_settings().map(ConnectionSettings::idle_timeout), Some(60));
    assert_eq!(
        attributes.cross_zone_load_balancing().map(CrossZoneLoadBalancing::enabled),
        Some(true)
    );
    let tags = elb.describe_tags().load_balancer_names(&name).send().await.expect("tags");
    let tags: BTreeMap<&str, &str> = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| (t.key(), t.value().unwrap_or_default()))
        .collect();
    for (k, v) in [
        ("Environment", ENV),
        ("Name", "acceptance-default"),
        ("ecsops:address", a.as_str()),
        ("ecsops:lineage", LINEAGE),
    ] {
        assert_eq!(tags.get(k).copied(), Some(v), "tag {k}");
    }

    // Adoption: the same lineage takes it over, another one is refused.
    let rerun = f.provider_as(LINEAGE).await;
    let applied = rerun.create(&f.specs[&a], 1).await.expect("adopt");
    assert!(applied.adopted);
    assert_eq!(applied.id, name);
    let stranger = f.provider_as("another-lineage").await;
    let err = stranger.create(&f.specs[&a], 1).await.expect_err("foreign");
    assert!(matches!(err, ProviderError::ForeignLineage { .. }), "{err}");
    let count = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("classic")
        .load_balancer_descriptions()
        .len();
    assert_eq!(count, 1, "no twin");

    // Refresh: one describe and one tag read, no drift.
    f.provider.calls().clear();
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(
        f.provider.calls().counts(),
        counts(&[("DescribeLoadBalancers", 1), ("DescribeTags", 1)])
    );
    assert_eq!(refresh.live[&a].attributes, f.state[&a].attributes);
    assert_eq!(refresh.live[&a].outputs, f.state[&a].outputs);

    // Drift: a listener added outside ecsops shows in `listeners`.
    elb.create_load_balancer_listeners()
        .load_balancer_name(&name)
        .listeners(
            ClassicListener::builder()
                .protocol("HTTP")
                .load_balancer_port(8081)
                .instance_protocol("HTTP")
                .instance_port(8081)
                .build()
                .expect("listener"),
        )
        .send()
        .await
        .expect("add a listener outside ecsops");
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    let live = &refresh.live[&a];
    assert_eq!(live.attributes["listeners"].as_array().expect("listeners").len(), 2);

    // Update in place from the refreshed values: the stray listener goes, the idle timeout and
    // the listener port change.
    let mut spec = f.specs[&a].clone();
    spec.attributes.insert("idle_timeout".to_owned(), json!(120));
    spec.attributes.insert(
        "health_check".to_owned(),
        json!({"target": "HTTP:8080/ready", "interval": 20, "timeout": 4,
               "healthy_threshold": 2, "unhealthy_threshold": 5}),
    );
    spec.attributes.insert(
        "listeners".to_owned(),
        json!([{"lb_port": 8080, "lb_protocol": "HTTP", "instance_port": 80,
                "instance_protocol": "HTTP", "ssl_certificate_id": null}]),
    );
    let refreshed = refresh.apply_to(&f.state);
    let applied = f.provider.update(&spec, &refreshed[&a]).await.expect("update");
    let deps = f.state[&a].dependencies.clone();
    f.state.insert(a.clone(), applied.into_state(Kind::ClassicLoadBalancer, deps));
    let d = elb.describe_load_balancers().load_balancer_names(&name).send().await.expect("classic");
    let ports: Vec<i32> = d.load_balancer_descriptions()[0]
        .listener_descriptions()
        .iter()
        .filter_map(|l| l.listener().map(ClassicListener::load_balancer_port))
        .collect();
    assert_eq!(ports, vec![8080]);
    let check = d.load_balancer_descriptions()[0].health_check().expect("a health check");
    assert_eq!(
        (check.target(), check.interval(), check.unhealthy_threshold()),
        ("HTTP:8080/ready", 20, 5)
    );
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_name(&name)
        .send()
        .await
        .expect("attributes");
    assert_eq!(
        attributes
            .load_balancer_attributes()
            .and_then(|a| a.connection_settings())
            .map(ConnectionSettings::idle_timeout),
        Some(120)
    );
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(refresh.live[&a].attributes, f.state[&a].attributes);

    // Delete, twice; then it is missing.
    f.provider.delete(&a, &f.state[&a]).await.expect("delete");
    f.provider.delete(&a, &f.state[&a]).await.expect("delete again");
    assert!(
        elb.describe_load_balancers()
            .send()
            .await
            .expect("classic")
            .load_balancer_descriptions()
            .is_empty()
    );
    let refresh = f.provider.refresh(&f.ours()).await.expect("refresh");
    assert_eq!(refresh.missing, BTreeSet::from([a]));
}
