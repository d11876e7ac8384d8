//! Benchmark: a full `ecsops apply acceptance --auto-approve` of the example workspace against
//! the moto emulator, from empty, at `--parallelism 1` and at the default (10), and the AWS
//! requests of a no-change `diff` (the refresh). Run with
//! `cargo bench -p ecsops-cli --bench apply`; it prints a Markdown table for BENCHMARKS.md.
//!
//! moto answers at once (NAT gateways are `available` immediately, nothing boots), so the wall
//! time is ecsops' own work plus the emulator's request handling: the parallelism gain here is
//! a floor of what it is against AWS, where the waits dominate.

#[path = "../../tests/e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use support::Workspace;
use support::moto;

const RUNS: usize = 3;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let guard = moto::moto();
    let env = guard.server.env();
    let mut rows = Vec::new();
    for parallelism in ["1", "10"] {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            guard.server.post("/moto-api/reset");
            let ws = Workspace::example();
            let started = Instant::now();
            ws.ecsops_env(
                &["apply", "acceptance", "--auto-approve", "--parallelism", parallelism],
                &env,
            )
            .expect_code(0);
            times.push(started.elapsed());
        }
        rows.push((parallelism, median(times)));
    }

    let ws = Workspace::example();
    guard.server.post("/moto-api/reset");
    ws.ecsops_env(&["apply", "acceptance", "--auto-approve"], &env).expect_code(0);
    let mut diff_times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = ws.ecsops_env(&["diff", "acceptance", "--detailed-exitcode"], &env);
        out.expect_code(0);
        diff_times.push(started.elapsed());
        last = Some(out);
    }
    let requests = last
        .as_ref()
        .and_then(|out| {
            out.stderr.lines().find_map(|l| {
                l.strip_prefix("Read the live resources with ")
                    .and_then(|r| r.strip_suffix(" AWS requests."))
            })
        })
        .unwrap_or("?");
    // The same diff with every request 100 ms away, as from a distant region: what the
    // refresh's sequential round trips cost.
    let mut far = Vec::new();
    for delay in [Duration::ZERO, Duration::from_millis(100)] {
        let proxy = support::proxy::Proxy::with_delay(guard.server.port(), Vec::new(), delay);
        let vars = proxy.env(env.clone());
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            ws.ecsops_env(&["diff", "acceptance", "--detailed-exitcode"], &vars).expect_code(0);
            times.push(started.elapsed());
        }
        far.push((delay, median(times)));
    }
    let state = std::fs::read_to_string(ws.path().join(".ecsops/state/acceptance.json"))
        .expect("state file");
    let state: serde_json::Value = serde_json::from_str(&state).expect("state JSON");
    let resources = state["resources"].as_object().map_or(0, serde_json::Map::len);

    println!("| measurement | median of {RUNS} |");
    println!("|---|---:|");
    for (p, t) in rows {
        println!(
            "| apply acceptance from empty ({resources} resources), `--parallelism {p}` | {:.1} s |",
            t.as_secs_f64()
        );
    }
    println!(
        "| no-change `diff acceptance` (refresh + plan) | {:.2} s |",
        median(diff_times).as_secs_f64()
    );
    println!("| AWS requests of that diff | {requests} |");
    for (delay, t) in far {
        println!(
            "| that diff through a proxy adding {} ms per request | {:.2} s |",
            delay.as_millis(),
            t.as_secs_f64()
        );
    }
}
