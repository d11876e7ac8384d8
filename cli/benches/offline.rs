//! Benchmark: `ecsops validate` + `ecsops diff` (offline, local state) end to end through the
//! real binary, on a generated workspace of 300 services and 6 instance groups. Run with
//! `cargo bench -p ecsops-cli --bench offline`; it prints a Markdown table for BENCHMARKS.md.
//! Target: under 100 ms for validate + diff on the 2-core reference machine.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SERVICES: usize = 300;
const GROUPS: usize = 6;
/// AWS allows 100 rules per listener by default, so the services spread over three ALBs.
const LOAD_BALANCERS: usize = 3;
const RUNS: usize = 15;

fn workspace(dir: &Path) -> std::io::Result<()> {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs)?;
    let mut base = String::from(
        "[environment]\nregion = \"eu-west-1\"\n\
         availability_zones = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]\n\n",
    );
    for g in 0..GROUPS {
        let name = if g == 0 { "default".to_owned() } else { format!("group-{g}") };
        let _ = writeln!(
            base,
            "[instance_groups.{name}]\ninstance_type = \"m6i.xlarge\"\nmin_size = 2\nmax_size = 10\n"
        );
    }
    for l in 0..LOAD_BALANCERS {
        let _ = writeln!(base, "[load_balancers.lb-{l}]\n");
    }
    for s in 0..SERVICES {
        let group =
            if s % GROUPS == 0 { "default".to_owned() } else { format!("group-{}", s % GROUPS) };
        let _ = writeln!(
            base,
            "[services.svc-{s:03}]\nimage = \"registry.example.com/svc-{s:03}:1.0.{s}\"\n\
             cpu = 256\nmemory = 512\ndesired_count = 2\ncontainer_port = 8080\n\
             instance_group = \"{group}\"\n\
             route = {{ load_balancer = \"lb-{}\", paths = [\"/svc-{s:03}/*\"], priority = {} }}\n\
             environment = {{ SERVICE = \"svc-{s:03}\", LOG_LEVEL = \"info\" }}\n\
             secrets = {{ DB_PASSWORD = \"ssm:/bench/svc-{s:03}/db\" }}\n",
            s % LOAD_BALANCERS,
            s / LOAD_BALANCERS + 1
        );
    }
    std::fs::write(envs.join("base.toml"), base)?;
    std::fs::write(
        envs.join("bench.toml"),
        "extends = \"base.toml\"\n[environment]\nname = \"bench\"\n[network]\ncidr = \"10.9.0.0/16\"\n",
    )
}

fn run(dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ecsops"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ecsops");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "ecsops {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    workspace(dir.path()).expect("write workspace");
    // Warm the page cache and the binary.
    run(dir.path(), &["validate", "bench"]);
    let (mut validate, mut diff, mut both) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let v = run(dir.path(), &["validate", "bench"]);
        let d = run(dir.path(), &["diff", "bench", "--format", "json"]);
        validate.push(v);
        diff.push(d);
        both.push(v + d);
    }
    let resources = {
        let out = Command::new(env!("CARGO_BIN_EXE_ecsops"))
            .arg("-C")
            .arg(dir.path())
            .args(["diff", "bench", "--format", "json"])
            .output()
            .expect("run ecsops");
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan json");
        plan["changes"].as_array().map_or(0, Vec::len)
    };
    println!("| workload | runs | median | min | max |");
    println!("|---|---|---|---|---|");
    for (name, xs) in [
        ("`ecsops validate bench`", validate),
        ("`ecsops diff bench --format json`", diff),
        ("validate + diff", both),
    ] {
        let min = xs.iter().min().copied().unwrap_or_default();
        let max = xs.iter().max().copied().unwrap_or_default();
        println!("| {name} | {RUNS} | {} | {} | {} |", ms(median(xs)), ms(min), ms(max));
    }
    println!(
        "\nworkspace: {SERVICES} services, {GROUPS} instance groups, {LOAD_BALANCERS} load balancers, \
         3 zones; plan: {resources} resources"
    );
}
