//! `ecsops diff`: the offline plan of the example workspace in every format, exit codes, and the
//! planner end to end against a recorded local state.

use serde_json::{Value, json};

use crate::support::{Workspace, repo_root};

fn example() -> Workspace {
    let ws = Workspace::new();
    for f in ["base.toml", "acceptance.toml", "production.toml"] {
        let text =
            std::fs::read_to_string(repo_root().join("environments").join(f)).expect("example");
        ws.write(&format!("environments/{f}"), &text);
    }
    ws
}

fn plan_json(ws: &Workspace, env: &str) -> Value {
    let out = ws.ecsops(&["diff", env, "--format", "json", "--offline"]);
    out.expect_code(0);
    serde_json::from_str(&out.stdout).expect("plan is JSON")
}

#[test]
fn the_readme_command_prints_the_full_acceptance_plan() {
    let ws = example();
    let out = ws.ecsops(&["diff", "acceptance"]);
    out.expect_code(0);
    out.expect_in_stdout("(no state yet: everything will be created)");
    let summary = out.stdout.lines().last().expect("summary line");
    let created: usize = summary
        .strip_prefix("Plan: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("Plan: N to create");
    // The whole layout of the example: network, IAM, logs, alerts, cluster, group, ALB and
    // three services.
    assert_eq!(created, 57, "{summary}");
    assert!(summary.ends_with("to create, 0 to update, 0 to replace, 0 to delete."), "{summary}");
    for address in [
        "vpc",
        "subnet.public[eu-west-1a]",
        "subnet.private[eu-west-1b]",
        "nat_gateway[eu-west-1a]",
        "route_table.private[eu-west-1a]",
        "security_group.instances",
        "iam_role.instance",
        "instance_profile",
        "launch_template[default]",
        "autoscaling_group[default]",
        "ecs_cluster",
        "capacity_provider[default]",
        "load_balancer[default]",
        "target_group[web]",
        "listener[default:80]",
        "listener_rule[web]",
        "log_group.host[docker]",
        "event_rule.stopped_tasks",
        "sns_topic.alerts",
        "task_definition[web]",
        "service[web]",
        "service[cadvisor]",
    ] {
        assert!(out.stdout.contains(&format!("# {address} will be created")), "missing {address}");
    }
    assert!(!out.stdout.contains('\u{1b}'), "NO_COLOR output has no escapes");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn json_is_versioned_and_markdown_is_a_pr_comment() {
    let ws = example();
    let plan = plan_json(&ws, "production");
    assert_eq!(plan["format_version"], "1.4");
    assert_eq!(plan["environment"], "production");
    assert_eq!(plan["prior_state"], Value::Null);
    let changes = plan["changes"].as_array().expect("changes");
    assert_eq!(plan["summary"]["create"].as_u64(), Some(changes.len() as u64));
    let nats = changes.iter().filter(|c| c["kind"] == "nat_gateway").count();
    assert_eq!(nats, 2, "production has a NAT gateway per zone");
    assert!(changes.iter().any(|c| c["address"] == "listener[default:443]"));
    let md = ws.ecsops(&["diff", "production", "--format", "markdown"]);
    md.expect_code(0);
    assert!(md.stdout.starts_with("### ecsops plan: `production`"), "{}", md.stdout);
    assert_eq!(md.stdout.matches("<details>").count(), md.stdout.matches("</details>").count());
    md.expect_in_stdout("<code>+ vpc</code> will be created");
}

#[test]
fn usage_errors_exit_1_never_the_changes_code() {
    let ws = example();
    // A typo in a CI job must fail it, not read as "changes present" (2).
    ws.ecsops(&["diff", "acceptance", "--detailed-exitcode", "--bogus"])
        .expect_code(1)
        .expect_in_stderr("--bogus");
    ws.ecsops(&["diff"]).expect_code(1);
    ws.ecsops(&["state", "show", "acceptance"]).expect_code(1);
    ws.ecsops(&["lock"]).expect_code(1);
    ws.ecsops(&["no-such-command"]).expect_code(1);
    ws.ecsops(&[]).expect_code(1);
    ws.ecsops(&["--help"]).expect_code(0).expect_in_stdout("Usage: ecsops");
    ws.ecsops(&["diff", "--help"]).expect_code(0);
    ws.ecsops(&["--version"]).expect_code(0).expect_in_stdout("ecsops ");
}

#[test]
fn detailed_exitcode_and_a_recorded_state() {
    let ws = example();
    ws.ecsops(&["diff", "acceptance", "--detailed-exitcode", "--offline"]).expect_code(2);

    // Record a state as an apply would: every planned value, with made-up ids for what AWS
    // assigns. Values that depend on ids are unknown until the ids are recorded, one level of
    // references per pass, so repeat until the plan settles (a real apply records them at once).
    let mut state = json!({"version": 1, "lineage": "7c1f0e4e-0000-4000-8000-000000000001",
                           "serial": 1, "environment": "acceptance", "resources": {}});
    for pass in 0.. {
        assert!(pass < 12, "the plan does not settle");
        let plan = plan_json(&ws, "acceptance");
        if pass > 0
            && plan["summary"]["create"] == 0
            && plan["summary"]["update"] == 0
            && plan["summary"]["replace"] == 0
        {
            break;
        }
        for c in plan["changes"].as_array().expect("changes") {
            let address = c["address"].as_str().expect("address");
            let entry = &mut state["resources"][address];
            if entry.is_null() {
                *entry = json!({"kind": c["kind"], "id": format!("id-{address}"),
                                "attributes": {}, "outputs": {},
                                "dependencies": c.get("depends_on").cloned().unwrap_or(json!([]))});
                for output in ["id", "arn", "latest_version", "name"] {
                    entry["outputs"][output] = json!(format!("{output}-{address}"));
                }
            }
            for a in c["attributes"].as_array().into_iter().flatten() {
                if let Some(after) = a.get("after") {
                    entry["attributes"][a["name"].as_str().expect("name")] = after.clone();
                }
            }
        }
        ws.write(".ecsops/state/acceptance.json", &state.to_string());
    }
    let out = ws.ecsops(&["diff", "acceptance", "--detailed-exitcode", "--offline"]);
    out.expect_code(0);
    out.expect_in_stdout("No changes.");
    out.expect_in_stdout("(state serial 1, lineage 7c1f0e4e");
    // With resources recorded, a diff reads them from AWS first; without credentials it says
    // how to plan offline instead.
    let out =
        ws.ecsops_env(&["diff", "acceptance"], &[("AWS_EC2_METADATA_DISABLED", "true".to_owned())]);
    out.expect_code(1);
    out.expect_in_stderr("--offline");

    // Scaling up is an in-place update of exactly the group.
    let acceptance =
        std::fs::read_to_string(ws.path().join("environments/acceptance.toml")).expect("read");
    ws.write(
        "environments/acceptance.toml",
        &format!("{acceptance}\n[instance_groups.default]\ndesired_capacity = 3\n"),
    );
    let out = ws.ecsops(&["diff", "acceptance", "--detailed-exitcode", "--offline"]);
    out.expect_code(2);
    out.expect_in_stdout("# autoscaling_group[default] will be updated in place");
    out.expect_in_stdout("~ desired_capacity");
    assert!(
        out.stdout.ends_with("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.\n"),
        "{}",
        out.stdout
    );

    // Removing a service deletes exactly its resources.
    ws.write("environments/acceptance.toml", &acceptance);
    let base = std::fs::read_to_string(ws.path().join("environments/base.toml")).expect("read");
    let start = base.find("[services.api]").expect("api section");
    let end = base[start..].find("# A system container").map_or(base.len(), |i| start + i);
    ws.write("environments/base.toml", &format!("{}{}", &base[..start], &base[end..]));
    let plan = plan_json(&ws, "acceptance");
    let mut deleted: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["address"].as_str().expect("address"))
        .collect();
    deleted.sort_unstable();
    // `api` was the only service with secrets, so the policy granting read access to them goes too.
    assert_eq!(
        deleted,
        [
            "iam_policy.task_execution",
            "listener_rule[api]",
            "log_group.service[api]",
            "service[api]",
            "target_group[api]",
            "task_definition[api]"
        ]
    );
}

#[test]
fn invalid_manifests_and_broken_state_fail_with_the_reason() {
    let ws = example();
    let acc =
        std::fs::read_to_string(ws.path().join("environments/acceptance.toml")).expect("read");
    ws.write("environments/acceptance.toml", &acc.replace("10.0.0.0/16", "10.0.0.0/33"));
    let out = ws.ecsops(&["diff", "acceptance", "--detailed-exitcode"]);
    out.expect_code(1);
    out.expect_in_stderr("[environments/acceptance.toml:");
    assert!(out.stdout.is_empty(), "no plan for an invalid manifest");

    ws.write("environments/acceptance.toml", &acc);
    ws.write(".ecsops/state/acceptance.json", "{ not json");
    let out = ws.ecsops(&["diff", "acceptance"]);
    out.expect_code(1);
    out.expect_in_stderr(".ecsops/state/acceptance.json");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);

    let out = ws.ecsops(&["diff", "staging"]);
    out.expect_code(1);
    out.expect_in_stderr("environments here: acceptance, production");
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);

    ws.ecsops(&["diff", "acceptence"]).expect_code(1).expect_in_stderr(
        "help: did you mean `acceptance`?\nhelp: environments here: acceptance, production",
    );
}

/// The task execution role may read exactly the secrets the services reference: each SSM
/// parameter and Secrets Manager secret by its own ARN, with the one action each needs.
#[test]
fn the_execution_policy_grants_exactly_the_referenced_secrets() {
    let ws = example();
    let path = ws.path().join("environments/acceptance.toml");
    let text = std::fs::read_to_string(&path).expect("acceptance.toml");
    std::fs::write(
        &path,
        text + "\n[services.worker]\nimage = \"public.ecr.aws/docker/library/busybox:1.36\"\n\
                secrets = { TOKEN = \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:worker-token-AbCdEf\" }\n",
    )
    .expect("add a worker with a Secrets Manager secret");
    let plan = plan_json(&ws, "acceptance");
    let policy = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == "iam_policy.task_execution")
        .expect("the execution policy");
    let document = policy["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["name"] == "document")
        .map(|a| a["after"].clone())
        .expect("its document");
    let mut grants: Vec<(String, Vec<String>)> = document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            let list = |v: &Value| -> Vec<String> {
                match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => {
                        a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
                    }
                    _ => Vec::new(),
                }
            };
            let actions = list(&s["Action"]);
            assert_eq!(actions.len(), 1, "one action per statement: {s}");
            (actions[0].clone(), list(&s["Resource"]))
        })
        .collect();
    grants.sort();
    assert_eq!(
        grants,
        [
            (
                "secretsmanager:GetSecretValue".to_owned(),
                vec![
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:worker-token-AbCdEf"
                        .to_owned()
                ]
            ),
            (
                "ssm:GetParameters".to_owned(),
                vec!["arn:aws:ssm:eu-west-1:*:parameter/ecsops/api/database-password".to_owned()]
            ),
        ]
    );
}
