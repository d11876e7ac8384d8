//! `ecsops roll` against the emulator, with the tests playing the ECS agent
//! (`support::agent`): the acceptance environment's two instances are made outdated by an
//! instance type change, then replaced one at a time; a roll killed while an old instance is
//! DRAINING (held there by a task the test started on it) is finished by the next; a new
//! instance that never joins the cluster stops the roll with the capacity taken back.
//!
//! moto moves no tasks off a DRAINING instance by itself: the test stops its task when it
//! decides the drain is over. Waits are short (`ECSOPS_POLL_INTERVAL`,
//! `ECSOPS_ROLL_WAIT_TIMEOUT`) so each test takes seconds, not minutes.

use std::time::{Duration, Instant};

use ecsops_core::provider::aws::sdk::{autoscaling, ecs};

use crate::gitops::{in_terminal, read_until, type_and_wait};
use crate::recommended_ami::ssm_publishes;
use crate::support::agent::{Agent, container_instances, running};
use crate::support::env::{ENV, Env};
use crate::support::{Output, git};

/// What the tests read of the group.
#[derive(Debug)]
struct Group {
    desired: i32,
    max: i32,
    tags: Vec<String>,
    /// Instance id → instance type, for the running instances.
    instances: Vec<(String, String)>,
}

/// While it lives, moto's tasks stay RUNNING until stopped, as on AWS; moto otherwise moves
/// each a step towards STOPPED per read (its state manager), which would end a drain the test
/// means to hold.
struct TasksHeld<'a>(&'a Env);

impl<'a> TasksHeld<'a> {
    fn new(env: &'a Env) -> Self {
        env.moto.server.post_json(
            "/moto-api/state-manager/set-transition",
            r#"{"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}"#,
        );
        Self(env)
    }
}

impl Drop for TasksHeld<'_> {
    fn drop(&mut self) {
        self.0.moto.server.post_json(
            "/moto-api/state-manager/unset-transition",
            r#"{"model_name": "ecs::task"}"#,
        );
    }
}

/// [`Env::roll_held_by_a_task`]'s roll, and what keeps it draining while it lives.
struct Draining<'a> {
    _agent: Agent,
    _tasks: TasksHeld<'a>,
    /// The outdated instances, the first of them draining.
    old: Vec<String>,
    /// The task that keeps it draining until stopped.
    task: String,
    roll: std::process::Child,
}

impl Env {
    fn group_name(&self) -> String {
        self.id("autoscaling_group[default]")
    }

    fn autoscaling(&self) -> autoscaling::Client {
        autoscaling::Client::new(&self.config)
    }

    fn cluster(&self) -> String {
        self.id("ecs_cluster")
    }

    /// Applies the example, starts the agent, waits for both instances to join, then makes
    /// them outdated (larger instances) and applies that.
    async fn outdated(&self) -> (Agent, Vec<String>) {
        self.outdated_of(2).await
    }

    /// [`Env::outdated`] for a group of `count` instances.
    async fn outdated_of(&self, count: usize) -> (Agent, Vec<String>) {
        let agent = self.larger_instances_committed(count).await;
        self.run(&["apply", ENV, "--auto-approve"])
            .expect_code(0)
            .expect_in_stdout(&format!(
                "hint: {count} instance(s) of instance group `default` still run the previous launch template; replace them with `ecsops roll acceptance`"
            ));
        let old: Vec<String> = self.group().await.instances.into_iter().map(|(id, _)| id).collect();
        assert_eq!(old.len(), count, "the group's desired capacity");
        (agent, old)
    }

    /// Stops task `task`, which lets the drain that waits for it end.
    async fn stop_task(&self, task: &str) {
        ecs::Client::new(&self.config)
            .stop_task()
            .cluster(self.cluster())
            .task(task)
            .send()
            .await
            .expect("stop task");
    }

    /// Starts a task on `instance` (with `StartTask`, which lets the test pick the instance),
    /// in task group `group` when given (`service:NAME` marks a service's task); returns its ARN.
    async fn start_task_on(&self, instance: &str, group: Option<&str>) -> String {
        let ecs = ecs::Client::new(&self.config);
        let cluster = self.cluster();
        let registered = container_instances(&ecs, &cluster).await.expect("registered");
        let (arn, _) = registered[instance].clone();
        ecs.register_task_definition()
            .family("hold")
            .container_definitions(
                ecs::types::ContainerDefinition::builder()
                    .name("hold")
                    .image("busybox")
                    .memory(64)
                    .build(),
            )
            .send()
            .await
            .expect("task definition");
        ecs.start_task()
            .cluster(&cluster)
            .task_definition("hold")
            .container_instances(&arn)
            .set_group(group.map(str::to_owned))
            .send()
            .await
            .expect("start task")
            .tasks()
            .first()
            .and_then(|t| t.task_arn())
            .expect("a task")
            .to_owned()
    }

    async fn group(&self) -> Group {
        let out = self
            .autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(self.group_name())
            .send()
            .await
            .expect("describe group");
        let g = out.auto_scaling_groups().first().expect("the group");
        let instances = running(&self.autoscaling(), &self.ec2(), &self.group_name())
            .await
            .expect("running instances");
        Group {
            desired: g.desired_capacity().unwrap_or_default(),
            max: g.max_size().unwrap_or_default(),
            tags: g
                .tags()
                .iter()
                .filter_map(|t| t.key().map(str::to_owned))
                .filter(|k| k.starts_with("ecsops:roll"))
                .collect(),
            instances,
        }
    }

    /// Applies the environment in git with `count` instances joined to the cluster, then
    /// commits a larger instance type (not applied yet).
    async fn larger_instances_committed(&self, count: usize) -> Agent {
        git::init(self.dir());
        git::commit_all(self.dir(), "Acceptance environment");
        self.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
        let agent = Agent::start(&self.config, &self.group_name(), &self.cluster());
        Agent::until_active(&self.config, &self.cluster(), count).await;
        self.edit("base.toml", "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
        git::commit_all(self.dir(), "Larger instances");
        agent
    }

    /// A roll of the outdated instances whose first (roll drains in id order) runs a task that
    /// stays RUNNING, so it stays DRAINING: returned once it is.
    async fn roll_held_by_a_task(&self) -> Draining<'_> {
        let (agent, old) = self.outdated().await;
        let first = old.iter().min().expect("an old instance").clone();
        let tasks = TasksHeld::new(self);
        let task = self.start_task_on(&first, None).await;
        let roll = self.roll_until_draining(&first).await;
        Draining { _agent: agent, _tasks: tasks, old, task, roll }
    }

    /// Starts `ecsops roll ENV --auto-approve` (its output piped) and returns once it has set
    /// instance `first` DRAINING.
    async fn roll_until_draining(&self, first: &str) -> std::process::Child {
        let mut child = self
            .ws
            .command(&["roll", ENV, "--auto-approve"], &self.roll_env("60s"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start roll");
        let ecs = ecs::Client::new(&self.config);
        let cluster = self.cluster();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut now = std::collections::BTreeMap::default();
        while Instant::now() < deadline {
            now = container_instances(&ecs, &cluster).await.unwrap_or_default();
            if now.get(first).is_some_and(|(_, s)| s == "DRAINING") {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("{first} never DRAINING: {now:?}");
    }

    /// `ecsops roll ENV ARGS` with fast waits.
    fn roll(&self, args: &[&str], timeout: &str) -> Output {
        let mut all = vec!["roll", ENV];
        all.extend_from_slice(args);
        self.ws.ecsops_env(&all, &self.roll_env(timeout))
    }

    fn roll_env(&self, timeout: &str) -> Vec<(&'static str, String)> {
        let mut env = self.moto.server.env();
        env.push(("ECSOPS_POLL_INTERVAL", "200ms".to_owned()));
        env.push(("ECSOPS_ROLL_WAIT_TIMEOUT", timeout.to_owned()));
        env
    }

    /// Asserts the roll finished: two instances, all of the new type, none of `old`, the
    /// desired capacity as before, max size `max` and no roll tags.
    async fn assert_rolled(&self, old: &[String], max: i32) {
        let g = self.group().await;
        assert_eq!(g.instances.len(), 2, "{g:?}");
        for (id, instance_type) in &g.instances {
            assert!(!old.contains(id), "old instance {id} still in service: {g:?}");
            assert_eq!(instance_type, "t3.large", "{g:?}");
        }
        assert_eq!((g.desired, g.max), (2, max), "as the manifest says: {g:?}");
        assert!(g.tags.is_empty(), "roll tags left: {g:?}");
        self.assert_unlocked();
    }
}

#[tokio::test]
async fn roll_replaces_every_outdated_instance_without_losing_capacity() {
    let env = Env::new().await;
    let (agent, old) = env.outdated().await;

    let dry = env.roll(&["--dry-run"], "20s");
    dry.expect_code(0)
        .expect_in_stdout("instance group default: 2 outdated instances")
        .expect_in_stdout("type t3.medium, now t3.large")
        .expect_in_stdout("up to 3 during the roll");
    for id in &old {
        dry.expect_in_stdout(id);
    }
    let g = env.group().await;
    assert_eq!(g.desired, 2, "a dry run changes nothing");
    assert!(g.tags.is_empty(), "{g:?}");

    agent.reset_lowest();
    let rolled = env.roll(&["--auto-approve"], "20s");
    rolled.expect_code(0).expect_in_stdout("Roll of `acceptance` complete.");
    let stderr = &rolled.stderr;
    for id in &old {
        assert!(stderr.contains(&format!("set {id} DRAINING")), "{stderr}");
        assert!(stderr.contains(&format!("terminated {id} with its capacity")), "{stderr}");
    }
    assert!(stderr.contains("raised desired capacity to 3 (max 4)"), "{stderr}");
    assert!(stderr.contains("restored desired 2, max 4"), "{stderr}");
    env.assert_rolled(&old, 4).await;
    assert!(
        agent.lowest_active() >= 2 && agent.lowest_active() != usize::MAX,
        "ACTIVE container instances fell to {} during the roll",
        agent.lowest_active()
    );

    let before = env.group().await.instances;
    let again = env.roll(&["--auto-approve"], "20s");
    again.expect_code(0).expect_in_stdout("Nothing to roll in `acceptance`");
    assert!(!again.stderr.contains("raised"), "{}", again.stderr);
    assert_eq!(env.group().await.instances, before, "a second roll changes nothing");

    let json: serde_json::Value =
        serde_json::from_str(&env.roll(&["--auto-approve", "--format", "json"], "20s").stdout)
            .expect("JSON report");
    assert_eq!(json["format_version"], "1.4");
    assert_eq!(json["ended"], "nothing_to_do");

    env.roll(&["--group", "nope"], "20s")
        .expect_code(1)
        .expect_in_stderr("`acceptance` has no applied instance group `nope`")
        .expect_in_stderr("help: its instance groups are `default`");
}

#[tokio::test]
async fn a_roll_killed_while_draining_is_finished_by_the_next() {
    let env = Env::new().await;
    // Kept whole: the agent and the held tasks live as long as the test.
    let mut held = env.roll_held_by_a_task().await;
    let (old, task) = (held.old.clone(), held.task.clone());
    let child = &mut held.roll;
    let first = old.iter().min().expect("an old instance").clone();
    child.kill().expect("kill -9");
    let _ = child.wait();
    let g = env.group().await;
    assert_eq!(g.desired, 3, "the batch's capacity was added: {g:?}");
    assert_eq!(g.tags.len(), 3, "roll tags record the capacity: {g:?}");
    env.stop_task(&task).await;

    let lock: serde_json::Value =
        serde_json::from_str(&env.run(&["lock", ENV, "--format", "json"]).stdout)
            .expect("lock JSON");
    let id = lock["holder"]["id"].as_str().expect("the killed roll's lock");
    assert_eq!(lock["holder"]["operation"], "roll");
    env.run(&["unlock", ENV, id]).expect_code(0);

    // While the group carries roll tags, plans leave its capacity to the roll.
    env.run(&["diff", ENV, "--detailed-exitcode"])
        .expect_code(0)
        .expect_in_stdout("autoscaling_group[default] is being rolled")
        .expect_in_stdout("finish it with `ecsops roll acceptance`");
    // A new max size goes into the roll's tags, for the roll to restore.
    env.edit("base.toml", "max_size = 4", "max_size = 5");
    git::commit_all(env.dir(), "Room for one more");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let g = env.group().await;
    assert_eq!((g.desired, g.max), (3, 4), "apply left the roll's capacity alone: {g:?}");

    let resumed = env.roll(&["--auto-approve"], "20s");
    resumed.expect_code(0).expect_in_stdout("continuing an interrupted roll");
    // The capacity the killed roll added is used, not added again: the DRAINING instance is
    // finished first, and only the second batch raises the capacity (once).
    let first_line = resumed.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
        format!("default: terminated {first} with its capacity"),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        resumed.stderr.matches("raised desired capacity to 3").count(),
        1,
        "{}",
        resumed.stderr
    );
    assert!(!resumed.stderr.contains("capacity to 4"), "{}", resumed.stderr);
    env.assert_rolled(&old, 5).await;
}

#[tokio::test]
async fn ctrl_c_stops_a_roll_unlocked_and_the_next_roll_continues_it() {
    let env = Env::new().await;
    let held = env.roll_held_by_a_task().await;
    let (old, task, child) = (held.old.clone(), held.task.clone(), held.roll);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = Output::from(child.wait_with_output().expect("the roll ends"));
    out.expect_code(1)
        .expect_in_stdout(&format!("Roll interrupted; run `ecsops roll {ENV}` again to continue."));
    // Stopped between two steps: the lock is released and the roll's tags stay for the next.
    env.assert_unlocked();
    let g = env.group().await;
    assert_eq!(g.desired, 3, "the batch's capacity stays: {g:?}");
    assert_eq!(g.tags.len(), 3, "roll tags record the capacity: {g:?}");

    env.stop_task(&task).await;
    env.roll(&["--auto-approve"], "20s")
        .expect_code(0)
        .expect_in_stdout("continuing an interrupted roll");
    env.assert_rolled(&old, 4).await;
}

#[tokio::test]
async fn a_lock_release_that_fails_after_the_roll_is_said_beside_its_report() {
    let env = Env::new().await;
    let held = env.roll_held_by_a_task().await;
    let (old, task, child) = (held.old.clone(), held.task.clone(), held.roll);

    // A colleague breaks the roll's lock while it waits for the drain.
    let id = env.lock_id();
    env.run(&["unlock", ENV, &id]).expect_code(0);
    env.stop_task(&task).await;

    let out = Output::from(child.wait_with_output().expect("the roll ends"));
    out.expect_code(0)
        .expect_in_stdout(&format!("Roll of `{ENV}` complete."))
        .expect_in_stderr(&format!(
            "warning: releasing the lock failed: `{ENV}` is not locked; if `ecsops lock {ENV}` says it is held, run `ecsops unlock {ENV} {id}`"
        ));
    env.assert_rolled(&old, 4).await;
}

#[tokio::test]
async fn a_new_instance_that_never_joins_stops_the_roll_and_takes_its_capacity_back() {
    let env = Env::new().await;
    let (agent, old) = env.outdated().await;
    agent.pause();
    let stopped = env.roll(&["--auto-approve"], "2s");
    stopped
        .expect_code(1)
        .expect_in_stderr("not ACTIVE in the cluster after")
        .expect_in_stderr("is the ECS agent running?")
        .expect_in_stderr("/var/log/ecs/ecs-agent.log")
        .expect_in_stdout("Roll of `acceptance` stopped.");
    let g = env.group().await;
    let ids: Vec<&String> = g.instances.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, old.iter().collect::<Vec<_>>(), "the new instance is gone");
    assert_eq!((g.desired, g.max), (2, 4), "{g:?}");
    assert!(g.tags.is_empty(), "{g:?}");
    let registered = container_instances(&ecs::Client::new(&env.config), &env.cluster())
        .await
        .expect("registered");
    for id in &old {
        assert_eq!(registered[id].1, "ACTIVE", "{registered:?}");
    }
    env.assert_unlocked();
}

#[tokio::test]
async fn under_managed_scaling_the_scaling_alarms_are_suspended_for_the_roll() {
    let env = Env::new().await;
    env.edit(
        "base.toml",
        "desired_capacity = 2\n",
        "desired_capacity = 2\nmanaged_scaling = true\n",
    );
    // ECS owns the desired capacity: the group starts at its minimum, one instance.
    let (_agent, old) = env.outdated_of(1).await;
    env.roll(&["--dry-run"], "20s")
        .expect_code(0)
        .expect_in_stdout("managed scaling: its scaling alarms are suspended during the roll");
    let rolled = env.roll(&["--auto-approve"], "20s");
    rolled
        .expect_code(0)
        .expect_in_stderr("suspended the scaling alarms (managed scaling)")
        .expect_in_stderr("restored desired 1, max 4");
    let out = env
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(env.group_name())
        .send()
        .await
        .expect("describe group");
    let g = out.auto_scaling_groups().first().expect("the group");
    assert!(
        g.suspended_processes().is_empty(),
        "resumed after the roll: {:?}",
        g.suspended_processes()
    );
    let now = env.group().await;
    assert_eq!(now.instances.len(), 1, "{now:?}");
    assert!(!old.contains(&now.instances[0].0), "{now:?}");
    assert!(now.tags.is_empty(), "{now:?}");
}

/// A roll that recorded its capacity, and that it suspends the scaling alarms, then died
/// before suspending them: the roll that continues it suspends them (the call changes nothing
/// when they were), rather than rolling with ECS scaling the group meanwhile.
#[tokio::test]
async fn a_continued_roll_suspends_the_scaling_alarms_its_predecessor_may_not_have() {
    use crate::support::proxy::{Fault, Proxy};
    use autoscaling::types::Tag;

    let env = Env::new().await;
    env.edit(
        "base.toml",
        "desired_capacity = 2\n",
        "desired_capacity = 2\nmanaged_scaling = true\n",
    );
    let (_agent, _old) = env.outdated_of(1).await;
    let g = env.group().await;
    let recorded =
        ecsops_core::roll::Recorded { desired: g.desired, max: g.max, active: 1, suspended: true };
    let tags = recorded.tags().into_iter().map(|(k, v)| {
        Tag::builder()
            .resource_id(env.group_name())
            .resource_type("auto-scaling-group")
            .key(k)
            .value(v)
            .propagate_at_launch(false)
            .build()
    });
    env.autoscaling()
        .create_or_update_tags()
        .set_tags(Some(tags.collect()))
        .send()
        .await
        .expect("the killed roll's tags");
    let proxy = Proxy::always(env.moto.server.port(), vec!["Action=SuspendProcesses"], Fault::Pass);
    env.ws
        .ecsops_env(&["roll", ENV, "--auto-approve"], &proxy.env(env.roll_env("20s")))
        .expect_code(0)
        .expect_in_stdout("continuing an interrupted roll");
    assert_eq!(
        proxy.matched.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the alarms suspended again"
    );
    let now = env.group().await;
    assert!(now.tags.is_empty(), "{now:?}");
}

/// Issue 16's first acceptance point end to end: SSM names a newer ECS-optimized AMI (the
/// proxy answers `GetParameters` with another AMI moto has, as AWS does once it publishes one),
/// the plan shows it, apply makes a template version launching it, and `roll` moves every
/// instance onto it.
/// In JSON the apply report names the groups left outdated, and the hint goes to stderr with
/// the other words: stdout is the report alone.
#[tokio::test]
async fn the_json_apply_report_lists_outdated_groups_and_stdout_stays_json() {
    let env = Env::new().await;
    let _agent = env.larger_instances_committed(2).await;
    let out = env.run(&["apply", ENV, "--auto-approve", "--format", "json"]);
    out.expect_code(0).expect_in_stderr(
        "hint: 2 instance(s) of instance group `default` still run the previous launch template",
    );
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is the JSON report alone");
    assert_eq!(
        report["outdated"],
        serde_json::json!([{"group": "default", "instances": 2}]),
        "{report:#}"
    );
}

#[tokio::test]
async fn a_newer_recommended_ami_is_rolled_onto_every_instance() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let _agent = Agent::start(&env.config, &env.group_name(), &env.cluster());
    Agent::until_active(&env.config, &env.cluster(), 2).await;
    let old_ami = env.recorded_ami();
    let (new_ami, _) = env.another_ecs_ami(&old_ami).await;
    let old = env.group().await.instances;
    let proxy = ssm_publishes(&env, &old_ami, &new_ami);

    env.run_through(&proxy, &["diff", ENV, "--detailed-exitcode"])
        .expect_code(2)
        .expect_in_stdout(&format!("\"{old_ami}\" -> \"{new_ami}\""));
    env.run_through(&proxy, &["apply", ENV, "--auto-approve"])
        .expect_code(0)
        .expect_in_stdout("hint: 2 instance(s) of instance group `default` still run the previous launch template; replace them with `ecsops roll acceptance`");
    env.roll(&["--dry-run"], "20s")
        .expect_code(0)
        .expect_in_stdout("instance group default: 2 outdated instances");

    env.roll(&["--auto-approve"], "20s").expect_code(0);
    let now = env.group().await;
    assert_eq!(now.instances.len(), 2, "{now:?}");
    let ids: Vec<String> = now.instances.iter().map(|(id, _)| id.clone()).collect();
    for (id, _) in &old {
        assert!(!ids.contains(id), "old instance {id} still in service: {now:?}");
    }
    let described = env
        .ec2()
        .describe_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .expect("describe instances");
    let amis: Vec<&str> = described
        .reservations()
        .iter()
        .flat_map(ecsops_core::provider::aws::sdk::ec2::types::Reservation::instances)
        .filter_map(|i| i.image_id())
        .collect();
    assert_eq!(amis, [new_ami.as_str(); 2], "every instance launches the new AMI");
    env.roll(&["--auto-approve"], "20s")
        .expect_code(0)
        .expect_in_stdout("Nothing to roll in `acceptance`");
}

/// A system container's task (a daemon, in its service's task group) stays on a DRAINING
/// instance until the instance goes: it must not hold the drain, or no roll would ever end.
/// The test holds moto's tasks RUNNING ([`TasksHeld`]), so only the daemon rule can let the
/// drain finish.
#[tokio::test]
async fn daemon_tasks_do_not_hold_the_drain() {
    let env = Env::new().await;
    let (_agent, old) = env.outdated().await;
    let daemon = env.state()["resources"]["service[cadvisor]"]["attributes"]["name"]
        .as_str()
        .expect("the system container's service name")
        .to_owned();
    let _held = TasksHeld::new(&env);
    for id in &old {
        env.start_task_on(id, Some(&format!("service:{daemon}"))).await;
    }
    env.roll(&["--auto-approve"], "5s")
        .expect_code(0)
        .expect_in_stdout("Roll of `acceptance` complete.");
    env.assert_rolled(&old, 4).await;
}

#[tokio::test]
async fn a_protected_environment_is_rolled_only_once_its_name_is_typed() {
    let env = Env::new().await;
    env.edit("acceptance.toml", "name = \"acceptance\"", "name = \"acceptance\"\nprotected = true");
    let (_agent, old) = env.outdated().await;
    let mut child = in_terminal(&env, "roll acceptance");
    let (_, rx) = read_until(
        &mut child,
        "`acceptance` is protected. Type its name to replace these instances: ",
    );
    let (code, shown) = type_and_wait(&mut child, &rx, b"yes\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("Roll cancelled: only `acceptance` confirms; nothing was changed."),
        "{shown}"
    );
    let group = env.group().await;
    let now: Vec<String> = group.instances.into_iter().map(|(id, _)| id).collect();
    assert_eq!(now, old, "no instance was replaced");
    assert!(group.tags.is_empty(), "no roll tags: {:?}", group.tags);
    env.assert_unlocked();
}

/// After a destroy the state records no instance group, but the environment was applied: the
/// roll must not say nothing was applied there yet.
#[tokio::test]
async fn a_destroyed_environment_has_nothing_to_roll_and_is_not_said_never_applied() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.run(&["destroy", ENV, "--auto-approve"]).expect_code(0);
    let out = env.run(&["roll", ENV, "--dry-run"]);
    out.expect_code(0);
    out.expect_in_stdout("Nothing to roll in `acceptance`: its state records no instance group");
    assert!(!out.stdout.contains("nothing was applied"), "{}", out.stdout);
}
