//! Every resource in the emulator that carries an `ecsops:address` tag, listed kind by kind with
//! the SDK (not through the provider under test): the check that a crash, a retry or a lost
//! response never left a twin behind.
//!
//! Listed: VPCs, internet gateways, subnets, route tables, Elastic IPs, NAT gateways (not
//! deleted), security groups, launch templates, auto scaling groups, capacity providers, ECS
//! clusters and services (not inactive), active task definition revisions, load balancers (both
//! kinds), target groups, listeners, listener rules, log groups, EventBridge rules, SNS topics,
//! IAM roles, instance profiles and customer-managed policies. Routes, route-table
//! associations, event targets, topic policies and subscriptions and a cluster's capacity
//! providers carry no tags; AWS keys them by what they connect, so a twin cannot exist.

use std::collections::BTreeMap;

use ecsops_core::provider::aws::sdk::{
    SdkConfig, autoscaling, ec2, ecs, elb, elbv2, events, iam, logs, sns,
};

const ADDRESS: &str = "ecsops:address";

/// The kinds (as the state names them) that carry no tags.
pub const UNTAGGED_KINDS: [&str; 6] = [
    "route",
    "route_table_association",
    "event_target",
    "sns_topic_policy",
    "sns_subscription",
    "cluster_capacity_providers",
];

/// Address → the ids of every live resource tagged with it.
#[derive(Debug, Default)]
pub struct Census(pub BTreeMap<String, Vec<String>>);

impl Census {
    /// Asserts that each tagged resource exists once and is the one `state` (a state document)
    /// records, and that every recorded resource of a kind that carries tags exists.
    pub fn assert_one_each(&self, state: &serde_json::Value) {
        let twins: Vec<_> = self.0.iter().filter(|(_, ids)| ids.len() > 1).collect();
        assert!(twins.is_empty(), "twins: {twins:?}");
        let resources = state["resources"].as_object().expect("resources");
        for (address, ids) in &self.0 {
            let recorded = resources
                .get(address)
                .unwrap_or_else(|| panic!("{address} ({ids:?}) exists but is not recorded"));
            let id = recorded["id"].as_str().expect("an id");
            // ECS and ELB record ARNs where lists give names, and the reverse.
            assert!(
                ids[0] == id
                    || ids[0].ends_with(&format!("/{id}"))
                    || id.ends_with(&format!("/{}", ids[0])),
                "{address}: recorded {id}, exists {ids:?}"
            );
        }
        let tagged: Vec<&String> = resources
            .iter()
            .filter(|(_, r)| !UNTAGGED_KINDS.contains(&r["kind"].as_str().unwrap_or("")))
            .map(|(a, _)| a)
            .collect();
        assert_eq!(self.0.keys().collect::<Vec<_>>(), tagged, "recorded but not found");
    }
}

/// Every tagged resource in the emulator, per `ecsops:address`.
pub async fn take(config: &SdkConfig) -> Census {
    let mut census = BTreeMap::<String, Vec<String>>::new();
    let mut add = |id: &str, address: Option<&str>| {
        if let Some(address) = address {
            census.entry(address.to_owned()).or_default().push(id.to_owned());
        }
    };
    for (id, address) in network(&ec2::Client::new(config)).await {
        add(&id, address.as_deref());
    }
    for (id, address) in compute(config).await {
        add(&id, address.as_deref());
    }
    for (id, address) in load_balancing(config).await {
        add(&id, address.as_deref());
    }
    for (id, address) in the_rest(config).await {
        add(&id, address.as_deref());
    }
    for ids in census.values_mut() {
        ids.sort();
    }
    Census(census)
}

type Found = Vec<(String, Option<String>)>;

/// The `ecsops:address` among `(key, value)` tag pairs, whatever the service's tag type.
fn address<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Option<String> {
    pairs
        .into_iter()
        .find(|(key, _)| *key == Some(ADDRESS))
        .and_then(|(_, value)| value.map(str::to_owned))
}

fn ec2_address(tags: &[ec2::types::Tag]) -> Option<String> {
    address(tags.iter().map(|t| (t.key(), t.value())))
}

async fn network(c: &ec2::Client) -> Found {
    let mut found = Found::new();
    let mut push = |id: Option<&str>, tags: &[ec2::types::Tag]| {
        found.push((id.unwrap_or("?").to_owned(), ec2_address(tags)));
    };
    for v in c.describe_vpcs().send().await.expect("vpcs").vpcs() {
        push(v.vpc_id(), v.tags());
    }
    for g in c.describe_internet_gateways().send().await.expect("gateways").internet_gateways() {
        push(g.internet_gateway_id(), g.tags());
    }
    for s in c.describe_subnets().send().await.expect("subnets").subnets() {
        push(s.subnet_id(), s.tags());
    }
    for t in c.describe_route_tables().send().await.expect("route tables").route_tables() {
        push(t.route_table_id(), t.tags());
    }
    for a in c.describe_addresses().send().await.expect("addresses").addresses() {
        push(a.allocation_id(), a.tags());
    }
    for n in c.describe_nat_gateways().send().await.expect("nat gateways").nat_gateways() {
        let gone = matches!(
            n.state(),
            Some(ec2::types::NatGatewayState::Deleted | ec2::types::NatGatewayState::Deleting)
        );
        if !gone {
            push(n.nat_gateway_id(), n.tags());
        }
    }
    for g in c.describe_security_groups().send().await.expect("security groups").security_groups() {
        push(g.group_id(), g.tags());
    }
    for t in
        c.describe_launch_templates().send().await.expect("launch templates").launch_templates()
    {
        push(t.launch_template_id(), t.tags());
    }
    found
}

fn ecs_address(tags: &[ecs::types::Tag]) -> Option<String> {
    address(tags.iter().map(|t| (t.key(), t.value())))
}

async fn compute(config: &SdkConfig) -> Found {
    let mut found = Found::new();
    for g in autoscaling::Client::new(config)
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("groups")
        .auto_scaling_groups()
    {
        found.push((
            g.auto_scaling_group_name().unwrap_or("?").to_owned(),
            address(g.tags().iter().map(|t| (t.key(), t.value()))),
        ));
    }
    let c = ecs::Client::new(config);
    let tags = ecs::types::ClusterField::Tags;
    let clusters = c.list_clusters().send().await.expect("clusters");
    let described = c
        .describe_clusters()
        .set_clusters(Some(clusters.cluster_arns().to_vec()))
        .include(tags)
        .send()
        .await
        .expect("describe clusters");
    for cluster in described.clusters() {
        let arn = cluster.cluster_arn().unwrap_or("?");
        // A deleted cluster stays visible as INACTIVE for a while, as on AWS.
        if cluster.status() == Some("INACTIVE") {
            continue;
        }
        found.push((arn.to_owned(), ecs_address(cluster.tags())));
        let services = c.list_services().cluster(arn).send().await.expect("services");
        if services.service_arns().is_empty() {
            continue;
        }
        let described = c
            .describe_services()
            .cluster(arn)
            .set_services(Some(services.service_arns().to_vec()))
            .include(ecs::types::ServiceField::Tags)
            .send()
            .await
            .expect("describe services");
        for s in described.services() {
            if s.status() != Some("INACTIVE") {
                found.push((s.service_arn().unwrap_or("?").to_owned(), ecs_address(s.tags())));
            }
        }
    }
    // moto cannot describe every capacity provider; the clusters name theirs.
    let providers: Vec<String> =
        described.clusters().iter().flat_map(|c| c.capacity_providers().iter().cloned()).collect();
    if !providers.is_empty() {
        for p in c
            .describe_capacity_providers()
            .set_capacity_providers(Some(providers))
            .include(ecs::types::CapacityProviderField::Tags)
            .send()
            .await
            .expect("capacity providers")
            .capacity_providers()
        {
            found
                .push((p.capacity_provider_arn().unwrap_or("?").to_owned(), ecs_address(p.tags())));
        }
    }
    let revisions = c
        .list_task_definitions()
        .status(ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .expect("task definitions");
    for arn in revisions.task_definition_arns() {
        let d = c
            .describe_task_definition()
            .task_definition(arn)
            .include(ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .expect("task definition");
        found.push((arn.clone(), ecs_address(d.tags())));
    }
    found
}

async fn load_balancing(config: &SdkConfig) -> Found {
    let mut found = Found::new();
    let c = elbv2::Client::new(config);
    let mut arns = Vec::new();
    let lbs = c.describe_load_balancers().send().await.expect("lbs");
    for lb in lbs.load_balancers() {
        let arn = lb.load_balancer_arn().unwrap_or("?").to_owned();
        let listeners =
            c.describe_listeners().load_balancer_arn(&arn).send().await.expect("listeners");
        for l in listeners.listeners() {
            let listener = l.listener_arn().unwrap_or("?").to_owned();
            let rules = c.describe_rules().listener_arn(&listener).send().await.expect("rules");
            arns.extend(
                rules
                    .rules()
                    .iter()
                    .filter(|r| r.is_default() != Some(true))
                    .filter_map(|r| r.rule_arn().map(str::to_owned)),
            );
            arns.push(listener);
        }
        arns.push(arn);
    }
    let groups = c.describe_target_groups().send().await.expect("groups");
    arns.extend(
        groups.target_groups().iter().filter_map(|g| g.target_group_arn().map(str::to_owned)),
    );
    for batch in arns.chunks(20) {
        let tags =
            c.describe_tags().set_resource_arns(Some(batch.to_vec())).send().await.expect("tags");
        for d in tags.tag_descriptions() {
            found.push((
                d.resource_arn().unwrap_or("?").to_owned(),
                address(d.tags().iter().map(|t| (t.key(), t.value()))),
            ));
        }
    }
    let c = elb::Client::new(config);
    let names: Vec<String> = c
        .describe_load_balancers()
        .send()
        .await
        .expect("classic lbs")
        .load_balancer_descriptions()
        .iter()
        .filter_map(|d| d.load_balancer_name().map(str::to_owned))
        .collect();
    for name in names {
        let tags = c.describe_tags().load_balancer_names(&name).send().await.expect("classic tags");
        let tags = tags.tag_descriptions().iter().flat_map(elb::types::TagDescription::tags);
        found.push((name, address(tags.map(|t| (Some(t.key()), t.value())))));
    }
    found
}

async fn the_rest(config: &SdkConfig) -> Found {
    let mut found = Found::new();
    let c = logs::Client::new(config);
    for g in c.describe_log_groups().send().await.expect("log groups").log_groups() {
        let arn = g.arn().unwrap_or("?").trim_end_matches(":*").to_owned();
        let tags =
            c.list_tags_for_resource().resource_arn(&arn).send().await.expect("log group tags");
        let address = tags.tags().and_then(|t| t.get(ADDRESS)).cloned();
        found.push((g.log_group_name().unwrap_or("?").to_owned(), address));
    }
    let c = events::Client::new(config);
    for r in c.list_rules().send().await.expect("rules").rules() {
        let arn = r.arn().unwrap_or("?").to_owned();
        let tags = c.list_tags_for_resource().resource_arn(&arn).send().await.expect("rule tags");
        let pairs = tags.tags().iter().map(|t| (Some(t.key()), Some(t.value())));
        found.push((arn, address(pairs)));
    }
    let c = sns::Client::new(config);
    for t in c.list_topics().send().await.expect("topics").topics() {
        let arn = t.topic_arn().unwrap_or("?").to_owned();
        let tags = c.list_tags_for_resource().resource_arn(&arn).send().await.expect("topic tags");
        let pairs = tags.tags().iter().map(|t| (Some(t.key()), Some(t.value())));
        found.push((arn, address(pairs)));
    }
    found.extend(identities(&iam::Client::new(config)).await);
    found
}

fn iam_address(tags: &[iam::types::Tag]) -> Option<String> {
    address(tags.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

async fn identities(c: &iam::Client) -> Found {
    let mut found = Found::new();
    for r in c.list_roles().send().await.expect("roles").roles() {
        let tags = c.list_role_tags().role_name(r.role_name()).send().await.expect("role tags");
        found.push((r.arn().to_owned(), iam_address(tags.tags())));
    }
    for p in c.list_instance_profiles().send().await.expect("profiles").instance_profiles() {
        // moto has no ListInstanceProfileTags; GetInstanceProfile carries them.
        let got = c
            .get_instance_profile()
            .instance_profile_name(p.instance_profile_name())
            .send()
            .await
            .expect("profile");
        let tags = got.instance_profile().map_or(&[][..], |p| p.tags());
        found.push((p.arn().to_owned(), iam_address(tags)));
    }
    for p in c
        .list_policies()
        .scope(iam::types::PolicyScopeType::Local)
        .send()
        .await
        .expect("policies")
        .policies()
    {
        let arn = p.arn().unwrap_or("?").to_owned();
        let tags = c.list_policy_tags().policy_arn(&arn).send().await.expect("policy tags");
        found.push((arn, iam_address(tags.tags())));
    }
    found
}
