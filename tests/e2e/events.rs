//! `ecsops events` against the emulator, after an apply of the acceptance environment: service
//! events and stopped tasks with their reasons, exit codes and log streams, in time order, as
//! text and JSON, with `--since`, `--service` and `--follow`.
//!
//! moto writes no service events, runs no tasks (its stopped tasks have exit code 0, no
//! container reason and no `stoppedAt`) and its ListTasks ignores `serviceName`. So the test
//! proxy answers `DescribeServices` with AWS-shaped events added to web's service, and
//! `ListTasks`/`DescribeTasks` with AWS-shaped stopped tasks (one of web's killed for memory, one
//! of api's that failed to pull its image). ListTasks answers both tasks whichever service it
//! is asked about, as moto would: ecsops must tell them apart by the task's `group`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::proxy::{Fault, Proxy};
use crate::support::service_history::{self, OOM, Stop};

const PULL: &str = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";

/// The acceptance environment applied, and what the canned answers are made of.
struct Applied {
    env: Env,
    web: String,
    api: String,
    web_task: String,
    api_task: String,
    /// web's log group, as its task definition's `awslogs` options say.
    web_group: String,
    now: f64,
}

async fn applied() -> Applied {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let cluster = env.id("ecs_cluster");
    let task = |id: &str| format!("arn:aws:ecs:eu-west-1:123456789012:task/{cluster}/{id}");
    Applied {
        web_task: task("0a1b2c3d4e5f"),
        api_task: task("9f8e7d6c5b4a"),
        web: env.ecs_name("service[web]"),
        api: env.ecs_name("service[api]"),
        web_group: env.web_log_group(),
        now: SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs_f64(),
        env,
    }
}

impl Applied {
    /// A proxy answering as AWS would with the canned events and tasks; web gets the event
    /// `newer` too once it is set.
    fn proxy(&self, newer: &Arc<AtomicBool>) -> Proxy {
        let (web, now) = (self.web.clone(), self.now);
        let newer = newer.clone();
        let describe_services = Fault::rewrite(move |_, upstream| {
            // Newest first, as ECS lists them.
            let mut events = vec![
                json!({"id": "ev-recent", "createdAt": now - 600.0,
                       "message": format!("(service {web}) has reached a steady state.")}),
                json!({"id": "ev-old", "createdAt": now - 3.0 * 3600.0,
                       "message": format!("(service {web}) was unable to place a task.")}),
            ];
            if newer.load(Ordering::SeqCst) {
                events.insert(
                    0,
                    json!({"id": "ev-newer", "createdAt": now - 60.0,
                           "message": format!("(service {web}) has started 1 tasks.")}),
                );
            }
            service_history::with_events(upstream, &web, &events)
        });
        let tasks = vec![
            self.task(&self.web_task, &self.web, "web", 137, OOM, 3600.0),
            self.task(&self.api_task, &self.api, "api", 255, PULL, 1800.0),
        ];
        let mut rules = vec![service_history::rule(
            "AmazonEC2ContainerServiceV20141113.DescribeServices",
            describe_services,
        )];
        rules.extend(service_history::stopped_tasks(tasks));
        Proxy::start(self.env.moto.server.port(), rules)
    }

    /// A stopped task of `service` (its ECS name) as DescribeTasks describes it, stopped `ago`
    /// seconds ago, its container `container` ending with `exit` for `reason`.
    fn task(
        &self,
        arn: &str,
        service: &str,
        container: &str,
        exit: i32,
        reason: &str,
        ago: f64,
    ) -> Value {
        service_history::stopped_task(&Stop {
            arn,
            task_definition: &self.env.id(&format!("task_definition[{container}]")),
            service,
            container,
            exit,
            reason,
            at: self.now - ago,
        })
    }

    fn run(&self, proxy: &Proxy, args: &[&str]) -> crate::support::Output {
        self.env.ws.ecsops_env(args, &proxy.env(self.env.moto.server.env()))
    }
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{haystack}"))
}

#[tokio::test]
async fn events_show_stopped_tasks_with_reasons_exit_codes_and_logs_in_time_order() {
    let a = applied().await;
    let proxy = a.proxy(&Arc::new(AtomicBool::new(false)));
    let web_id = a.web_task.rsplit('/').next().expect("id");

    let text = a.run(&proxy, &["events", ENV]);
    text.expect_code(0)
        .expect_in_stdout(&format!("  web  task {web_id} (acceptance-default-web:"))
        .expect_in_stdout("stopped: Essential container in task exited [EssentialContainerExited]")
        .expect_in_stdout(&format!("    container web: exit code 137: {OOM}\n"))
        .expect_in_stdout(&format!("      logs: group {}, stream web/web/{web_id}\n", a.web_group))
        .expect_in_stdout(&format!("    container api: exit code 255: {PULL}\n"));
    let out = &text.stdout;
    let order = [
        position(out, "was unable to place a task"),
        position(out, &format!("  web  task {web_id}")),
        position(out, "  api  task 9f8e7d6c5b4a"),
        position(out, "has reached a steady state"),
    ];
    assert!(order.is_sorted(), "oldest first: {order:?}\n{out}");
    assert_eq!(out.matches("  task ").count(), 2, "each task once:\n{out}");
    assert!(proxy.matched.load(Ordering::SeqCst) >= 3, "the proxy answered");

    let recent = a.run(&proxy, &["events", ENV, "--since", "2h"]);
    recent
        .expect_code(0)
        .expect_in_stdout(&format!("task {web_id}"))
        .expect_in_stdout("has reached a steady state");
    assert!(!recent.stdout.contains("unable to place"), "older than 2h:\n{}", recent.stdout);
    let none = a.run(&proxy, &["events", ENV, "--since", "5m"]);
    none.expect_code(0).expect_in_stdout("no service events or stopped tasks for `acceptance`");

    let api = a.run(&proxy, &["events", ENV, "--service", "api"]);
    api.expect_code(0).expect_in_stdout("  api  task 9f8e7d6c5b4a");
    assert!(!api.stdout.contains("  web  "), "only api's:\n{}", api.stdout);
    a.run(&proxy, &["events", ENV, "--service", "nope"])
        .expect_code(1)
        .expect_in_stderr("`acceptance` has no service or system container `nope`")
        .expect_in_stderr("help: its services and system containers are `api`, `web`, `cadvisor`");
    a.run(&proxy, &["events", ENV, "--service", "webb"])
        .expect_code(1)
        .expect_in_stderr("help: did you mean `web`?\nhelp: its services");

    let json = a.run(&proxy, &["events", ENV, "--format", "json"]);
    json.expect_code(0);
    let doc: Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", json.stdout));
    assert_eq!(doc["format_version"], "1.4");
    assert_eq!(doc["environment"], ENV);
    let events = doc["events"].as_array().expect("events");
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (e["kind"].as_str().unwrap_or_default(), e["service"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("service_event", "web"),
            ("stopped_task", "web"),
            ("stopped_task", "api"),
            ("service_event", "web"),
        ],
        "{doc:#}"
    );
    let task = &events[1];
    assert_eq!(task["task_arn"], a.web_task.as_str());
    assert_eq!(task["stop_code"], "EssentialContainerExited");
    assert!(task["stopped_at"].is_string(), "{task:#}");
    let container = &task["containers"][0];
    assert_eq!(container["name"], "web");
    assert_eq!(container["exit_code"], 137);
    assert_eq!(container["reason"], OOM);
    assert_eq!(container["log_group"], a.web_group.as_str());
    assert_eq!(container["log_stream"], format!("web/web/{web_id}").as_str());
    assert_eq!(events[3]["id"], "ev-recent");

    // A service taken out of the manifest but not yet out of AWS is still recorded, still
    // running: its events are still shown, and `--service` still takes it.
    a.env.edit("base.toml", "[services.api]", "[services.api2]");
    a.run(&proxy, &["events", ENV]).expect_code(0).expect_in_stdout("  api  task 9f8e7d6c5b4a");
    a.run(&proxy, &["events", ENV, "--service", "api"])
        .expect_code(0)
        .expect_in_stdout("  api  task 9f8e7d6c5b4a");
}

#[tokio::test]
async fn events_follow_prints_a_new_event_once() {
    let a = applied().await;
    let newer = Arc::new(AtomicBool::new(false));
    let proxy = a.proxy(&newer);
    let mut env = proxy.env(a.env.moto.server.env());
    env.push(("ECSOPS_POLL_INTERVAL", "1".to_owned()));
    let mut child = a
        .env
        .ws
        .command(&["events", ENV, "--follow", "--format", "json"], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start events --follow");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().expect("stdout");
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        })
    };
    let wait_for = |count: usize| {
        let start = Instant::now();
        while lines.lock().expect("lines").len() < count && start.elapsed() < Duration::from_mins(1)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(4);
    assert_eq!(lines.lock().expect("lines").len(), 4, "the first read");
    newer.store(true, Ordering::SeqCst);
    wait_for(5);
    // A few more polls, which must print nothing again.
    std::thread::sleep(Duration::from_secs(3));
    child.kill().expect("kill");
    let stderr = child.wait_with_output().expect("wait").stderr;
    assert_eq!(
        String::from_utf8_lossy(&stderr),
        "Following `acceptance`: new events every 1s, until Ctrl-C.\n",
        "what says it is waiting"
    );
    reader.join().expect("reader");
    let lines = lines.lock().expect("lines");
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let ids: Vec<&str> = parsed
        .iter()
        .map(|e| e["id"].as_str().or_else(|| e["task_arn"].as_str()).unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        ["ev-old", &a.web_task, &a.api_task, "ev-recent", "ev-newer"],
        "each entry once, the new one last:\n{}",
        lines.join("\n")
    );
    assert!(parsed.iter().all(|e| e["format_version"] == "1.4"));
}

/// After a destroy the state records nothing, but the environment was applied: `events` must
/// not claim it never was (nor send the user to an apply as if it were new).
#[tokio::test]
async fn a_destroyed_environment_is_not_said_to_be_never_applied() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.run(&["destroy", ENV, "--auto-approve"]).expect_code(0);
    let serial = env.state()["serial"].as_u64().expect("serial");
    for args in [&["events", ENV][..], &["events", ENV, "--follow"]] {
        let out = env.run(args);
        out.expect_code(0).expect_in_stdout(&format!(
            "`acceptance` has no recorded resources (state serial {serial}), so there are no events"
        ));
        assert!(!out.stdout.contains("nothing was applied"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn an_environment_never_applied_says_so_and_follow_does_not_wait() {
    let env = Env::new().await;
    for args in [&["events", ENV][..], &["events", ENV, "--follow"]] {
        let out = env.run(args);
        out.expect_code(0).expect_in_stdout(
            "`acceptance` has no recorded resources: nothing was applied there yet (`ecsops apply acceptance`), so there are no events",
        );
    }
    let out = env.run(&["events", ENV, "--format", "json"]);
    out.expect_code(0);
    assert_eq!(out.json()["events"], json!([]), "{}", out.stdout);
}
