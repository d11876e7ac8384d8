//! `ecsops validate`: every invalid fixture fails with exit 1 at the expected `file:line:column`
//! with the expected message; valid fixtures and the repository's own manifests pass.

use std::path::Path;

use crate::support::{Workspace, repo_root};

fn fixtures() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/manifests")
}

/// One expected or rendered diagnostic: severity, code, `path:line:col`, message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    warning: bool,
    code: String,
    location: String,
    message: String,
}

/// The expectations of a case: `# expect: code line:col message` (or `# expect-warning: ...`)
/// lines in a single-file case, an `expect` file of `code path:line:col message` lines in a
/// directory; `-` for the place of a diagnostic that has none.
fn expectations(case: &Path) -> Vec<Expected> {
    let parse = |line: &str, warning: bool, prefix: &str| {
        let (code, rest) = line.split_once(' ').expect("`code line:col message`");
        let (loc, msg) = rest.split_once(' ').expect("`code line:col message`");
        Expected {
            warning,
            code: code.to_owned(),
            // `-`: a diagnostic with no place in a file.
            location: if loc == "-" { String::new() } else { format!("{prefix}{loc}") },
            message: msg.to_owned(),
        }
    };
    if case.is_dir() {
        let text = std::fs::read_to_string(case.join("expect")).expect("expect file");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.strip_prefix("warning: ") {
                Some(rest) => parse(rest, true, ""),
                None => parse(l, false, ""),
            })
            .collect()
    } else {
        let stem = case.file_stem().and_then(|s| s.to_str()).expect("stem");
        let prefix = format!("environments/{stem}.toml:");
        let text = std::fs::read_to_string(case).expect("fixture");
        text.lines()
            .filter_map(|l| {
                if let Some(rest) = l.strip_prefix("# expect: ") {
                    Some(parse(rest, false, &prefix))
                } else {
                    l.strip_prefix("# expect-warning: ").map(|rest| parse(rest, true, &prefix))
                }
            })
            .collect()
    }
}

/// Every diagnostic the CLI rendered: its code (the line above), its `×` or `⚠` line and the
/// `╭─[place]` under it.
fn rendered(stderr: &str) -> Vec<Expected> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let (warning, message) = if let Some(m) = trimmed.strip_prefix("× ") {
            (false, m)
        } else if let Some(m) = trimmed.strip_prefix("⚠ ") {
            (true, m)
        } else {
            continue;
        };
        let location = lines
            .get(i + 1)
            .and_then(|l| l.split_once("╭─["))
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .unwrap_or("")
            .to_owned();
        let code = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map_or("", |l| l.trim())
            .to_owned();
        out.push(Expected { warning, code, location, message: message.to_owned() });
    }
    out
}

/// The whole set must match: every rendered diagnostic is expected (same severity and place,
/// its message containing the expected text) and every expected one is rendered.
fn mismatch(expected: &[Expected], got: &[Expected]) -> Option<String> {
    let mut unmatched: Vec<&Expected> = got.iter().collect();
    let mut missing = Vec::new();
    for e in expected {
        match unmatched.iter().position(|g| {
            g.warning == e.warning
                && g.code == e.code
                && g.location == e.location
                && g.message.contains(&e.message)
        }) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(e),
        }
    }
    (!missing.is_empty() || !unmatched.is_empty())
        .then(|| format!("missing: {missing:#?}\nunexpected: {unmatched:#?}"))
}

#[test]
fn every_invalid_fixture_reports_exactly_its_diagnostics_at_their_places() {
    let mut cases: Vec<_> = std::fs::read_dir(fixtures().join("invalid"))
        .expect("invalid fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "only {} invalid fixtures", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let ws = if case.is_dir() {
            Workspace::copy_of(case)
        } else {
            let ws = Workspace::new();
            let name = case.file_name().and_then(|s| s.to_str()).expect("name");
            ws.write(
                &format!("environments/{name}"),
                &std::fs::read_to_string(case).expect("read"),
            );
            ws
        };
        let out = ws.ecsops(&["validate"]);
        let expected = expectations(case);
        assert!(!expected.is_empty(), "{} has no expectation", case.display());
        let code = i32::from(expected.iter().any(|e| !e.warning));
        if out.code != Some(code) {
            failures.push(format!(
                "{}: exit {:?}, expected {code}\n{}",
                case.display(),
                out.code,
                out.stderr
            ));
            continue;
        }
        if let Some(diff) = mismatch(&expected, &rendered(&out.stderr)) {
            failures.push(format!("{}: {diff}\n{}", case.display(), out.stderr));
        }
        assert!(!out.stderr.contains("hunter2"), "a secret value was printed:\n{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn valid_fixtures_and_the_example_workspace_pass() {
    for (dir, says) in [
        ("valid/minimal", "1 environment valid: minimal\n"),
        ("valid/accounts", "1 environment valid: accounts\n"),
        ("valid/shared-base", "2 environments valid: one, two\n"),
    ] {
        let ws = Workspace::copy_of(&fixtures().join(dir));
        let out = ws.ecsops(&["validate"]);
        out.expect_code(0);
        assert_eq!(out.stdout, says);
        assert_eq!(out.stderr, "", "no warnings either");
    }
    // The repository's own example workspace (only its manifests: `target/` changes under us).
    let ws = Workspace::new();
    for f in ["base.toml", "acceptance.toml", "production.toml"] {
        let text =
            std::fs::read_to_string(repo_root().join("environments").join(f)).expect("example");
        ws.write(&format!("environments/{f}"), &text);
    }
    let out = ws.ecsops(&["validate"]);
    out.expect_code(0);
    out.expect_in_stdout("2 environments valid: acceptance, production");
    // Named twice, counted once.
    let out = ws.ecsops(&["validate", "acceptance", "production", "acceptance"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "2 environments valid: acceptance, production\n");
}

#[test]
fn errors_of_several_files_are_reported_in_one_run() {
    let ws = Workspace::new();
    let bad = "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\"]\n[network]\ncidr = \"10.0.0.0/16\"\ncolour = 1\n";
    ws.write("environments/one.toml", bad);
    ws.write("environments/two.toml", &bad.replace("10.0.0.0", "10.1.0.0"));
    let out = ws.ecsops(&["validate"]);
    out.expect_code(1);
    out.expect_in_stderr("[environments/one.toml:6:1]");
    out.expect_in_stderr("[environments/two.toml:6:1]");
    out.expect_in_stderr("error: 2 errors found");
}

#[test]
fn unknown_environments_and_base_files_are_named() {
    let ws = Workspace::copy_of(&fixtures().join("valid/shared-base"));
    let out = ws.ecsops(&["validate", "three"]);
    out.expect_code(1);
    out.expect_in_stderr("there is no environment `three`");
    out.expect_in_stderr("environments here: one, two");
    let out = ws.ecsops(&["validate", "base"]);
    out.expect_code(1);
    out.expect_in_stderr("`base` is a shared base file (extended by one, two)");
    ws.ecsops(&["validate", "one"]).expect_code(0);
}

#[test]
fn without_a_workspace_the_error_says_where_to_look() {
    let empty = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecsops"))
        .current_dir(empty.path())
        .env("NO_COLOR", "1")
        .arg("validate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no `environments/` directory"), "{stderr}");
    assert!(stderr.contains("-C DIR"), "{stderr}");

    // `-C` to a directory that is not there, to `environments/` itself, to one without it.
    let ws = Workspace::example();
    let run = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecsops"))
            .env("NO_COLOR", "1")
            .arg("-C")
            .arg(dir)
            .arg("validate")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = empty.path().join("nowhere");
    let stderr = run(&missing);
    assert!(stderr.contains(&format!("`{}` does not exist", missing.display())), "{stderr}");
    let stderr = run(&ws.path().join("environments"));
    assert!(
        stderr.contains(&format!(
            "that is the environments directory itself: point `-C` at the directory holding it (`-C {}`)",
            ws.path().display()
        )),
        "{stderr}"
    );
    let stderr = run(empty.path());
    assert!(
        stderr.contains(&format!("make one there with `ecsops init {}`", empty.path().display())),
        "{stderr}"
    );
}

/// `-C` to a file (a manifest, most often) says it is a file, not that it does not exist, and
/// names the workspace holding it.
#[test]
fn dash_c_to_a_file_names_the_workspace_holding_it() {
    let ws = Workspace::example();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecsops"))
        .env("NO_COLOR", "1")
        .arg("-C")
        .arg(ws.path().join("environments/base.toml"))
        .arg("validate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("base.toml` is a file, not a directory"), "{stderr}");
    let root = format!("the one holding `environments/`: `-C {}`", ws.path().display());
    assert!(stderr.contains(&root), "{stderr}");
}

/// What a checked-out pull request links or puts in the workspace is read only when it is a
/// regular file of the workspace under 1 MiB: a link out of it (to credentials, to a device)
/// is refused without quoting what it leads to, as are a FIFO (opening it would wait forever)
/// and an oversized file; a link to another file of the workspace is read as that file.
#[test]
fn files_are_read_only_from_inside_the_workspace() {
    const OUTSIDE: &str = "aws_secret_access_key = hunter2-outside-MARKER\n";
    const ENV: &str = "extends = \"base.toml\"\n[network]\ncidr = \"10.0.0.0/16\"\n\
        [instance_groups.default]\n";
    let outside = tempfile::tempdir().expect("tempdir");
    let credentials = outside.path().join("credentials");
    std::fs::write(&credentials, OUTSIDE).expect("credentials");
    let ws = Workspace::new();
    ws.write("environments/acc.toml", ENV);
    let base = ws.path().join("environments/base.toml");
    std::os::unix::fs::symlink(&credentials, &base).expect("link");
    let out = ws.ecsops(&["validate", "acc"]);
    out.expect_code(1)
        .expect_in_stderr("cannot read base file `environments/base.toml`: it is a link that leads out of the workspace");
    assert!(!out.stderr.contains("MARKER"), "{}", out.stderr);

    std::fs::remove_file(&base).expect("unlink");
    std::os::unix::fs::symlink("/dev/zero", &base).expect("link");
    ws.ecsops(&["validate", "acc"])
        .expect_code(1)
        .expect_in_stderr("leads out of the workspace, to `/dev/zero`");
    std::fs::remove_file(&base).expect("unlink");
    let made = std::process::Command::new("mkfifo").arg(&base).status().expect("mkfifo");
    assert!(made.success());
    ws.ecsops(&["validate", "acc"]).expect_code(1).expect_in_stderr(
        "cannot read base file `environments/base.toml`: it is not a regular file",
    );
    std::fs::remove_file(&base).expect("remove");
    ws.write("environments/base.toml", &format!("# {}\n", "x".repeat(1 << 20)));
    ws.ecsops(&["validate", "acc"])
        .expect_code(1)
        .expect_in_stderr("it is larger than the 1 MiB a workspace file may be");

    ws.write(
        "shared/base.toml",
        "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n",
    );
    std::fs::remove_file(&base).expect("remove");
    std::os::unix::fs::symlink("../shared/base.toml", &base).expect("link");
    ws.ecsops(&["validate", "acc"]).expect_code(0);
}

/// A secret value never reaches the output, whatever stage finds a problem next to it: TOML
/// syntax, the schema, the semantic rules, or a warning; in `validate` and in `diff`.
#[test]
fn no_stage_prints_a_secret_written_next_to_a_problem() {
    const MARKER: &str = "hunter2-s3cr3t-MARKER";
    // A secret written as a number: the schema refuses it without quoting it.
    const NUMBER: &str = "98765432123";
    const BASE: &str = "[environment]\nregion = \"eu-west-1\"\n\
        availability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n\
        [network]\ncidr = \"10.0.0.0/16\"\n[instance_groups.default]\n\
        [services.web]\nimage = \"public.ecr.aws/nginx/nginx:1.27-alpine\"\n";
    let cases: [(&str, &str, i32); 19] = [
        // A syntax error on the line after the secret.
        ("syntax", "secrets = { DATABASE_PASSWORD = \"{M}\" }\nbroken = \n", 1),
        // An unknown key beside it: the schema check fails before the secret rules run.
        ("schema", "secrets = { DATABASE_PASSWORD = \"{M}\" }\ncpus = 256\n", 1),
        // The secret itself is the problem (a value, not a reference).
        ("semantic", "secrets = { DATABASE_PASSWORD = \"{M}\" }\n", 1),
        // A secret table of its own, with a schema error in it.
        ("table", "[services.web.secrets]\nDB_PASSWORD = \"{M}\"\nNOT_A_REF = 3\n", 1),
        // A plain variable that looks like a secret: a warning that quotes its line.
        ("warning", "environment = { API_TOKEN = \"{M}\" }\n", 0),
        // A dotted key, and a daemon's secret next to a schema error.
        ("dotted", "secrets.DB_PASSWORD = \"{M}\"\ncpus = 1\n", 1),
        (
            "daemon",
            "[system_containers.agent]\nimage = \"x\"\nsecrets = { KEY = \"{M}\" }\nprivileged = \"yes\"\n",
            1,
        ),
        // Values that are not strings: unquoted (a syntax error) or a number (a schema error).
        ("unquoted", "secrets = { DATABASE_PASSWORD = {M} }\n", 1),
        ("unquoted-table", "[services.web.secrets]\nDB_PASSWORD = {M}\n", 1),
        ("number", "secrets = { DATABASE_PASSWORD = {N}, X = \"ssm:/x\" }\n", 1),
        ("number-table", "[services.web.secrets]\nPIN = {N}\n", 1),
        ("number-variable", "environment = { API_TOKEN = {N} }\n", 1),
        // Unquoted words: the value is all of them, not the first.
        ("words", "[services.web.secrets]\nDB_PASSWORD = first {M} last\n", 1),
        ("words-inline", "secrets = { DB = first {M}, X = [a, {N}] }\n", 1), // Keys written with escapes, which only the parser reads as `secrets` and a secret's
        // name, beside a schema error.
        ("escaped-key", "\"secr\\u0065ts\" = { DB = \"{M}\" }\ncpuz = 1\n", 1),
        ("escaped-variable", "environment = { \"DB_\\u0050ASSWORD\" = \"{M}\" }\ncpuz = 1\n", 1),
        // A multi-line string: its later lines have no `=` of their own.
        (
            "multi-line",
            "[services.web.secrets]\nTLS_KEY = \"\"\"-----BEGIN PRIVATE KEY-----\nMIIE{M}\"\"\"\nEXTRA = 5\n",
            1,
        ),
        // Where a reference belongs, a value written by mistake, beside a schema error.
        ("registry", "registry_credentials = \"{M}\"\ncpuz = 1\n", 1),
        (
            "log-option",
            "logging = { driver = \"splunk\", options = { splunk-token = \"{M}\" } }\ncpuz = 1\n",
            1,
        ),
    ];
    for (name, extra, code) in cases {
        let ws = Workspace::new();
        let text = format!("{BASE}{}", extra.replace("{M}", MARKER).replace("{N}", NUMBER));
        ws.write("environments/acc.toml", &text);
        // Debug tracing included: no log line may carry it either.
        let out = ws.ecsops(&["-vv", "validate"]);
        out.expect_code(code);
        let json = ws.ecsops(&["validate", "--format", "json"]);
        let all = format!("{}{}{}", out.stdout, out.stderr, json.stdout);
        assert!(
            !all.contains(MARKER) && !all.contains(NUMBER),
            "{name}: a secret value was printed:\n{all}"
        );
        if code == 1 {
            assert!(out.stderr.contains("acc.toml:"), "{name}: {all}");
            let diff = ws.ecsops(&["-vv", "diff", "acc", "--offline"]);
            diff.expect_code(1);
            let all = format!("{}{}", diff.stdout, diff.stderr);
            assert!(
                !all.contains(MARKER) && !all.contains(NUMBER),
                "{name}: diff printed a secret:\n{all}"
            );
        } else {
            assert!(out.stderr.contains("looks like a secret"), "{name}: {all}");
            assert!(out.stderr.contains("API_TOKEN = \"*****"), "{name}: {all}");
        }
    }
}

#[test]
fn instance_types_are_checked_against_the_sdk_with_a_suggestion_and_an_escape_hatch() {
    let manifest = |group: &str| {
        format!(
            "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n\
             [network]\ncidr = \"10.0.0.0/16\"\n[instance_groups.default]\n{group}\n"
        )
    };
    let ws = Workspace::new();
    ws.write("environments/acc.toml", &manifest("instance_type = \"t3.mdium\""));
    let out = ws.ecsops(&["validate"]);
    out.expect_code(1);
    out.expect_in_stderr("did you mean `t3.medium`?");

    // A type newer than the SDK: refused with the way out, accepted once allowed.
    ws.write("environments/acc.toml", &manifest("instance_type = \"zz99.large\""));
    let out = ws.ecsops(&["validate"]);
    out.expect_code(1);
    out.expect_in_stderr("`allow_unknown_instance_type = true`");
    ws.write(
        "environments/acc.toml",
        &manifest("instance_type = \"zz99.large\"\nallow_unknown_instance_type = true"),
    );
    ws.ecsops(&["validate"]).expect_code(0);
    // The hatch does not let a malformed name through.
    ws.write(
        "environments/acc.toml",
        &manifest("instance_type = \"banana\"\nallow_unknown_instance_type = true"),
    );
    ws.ecsops(&["validate"]).expect_code(1);
}

#[test]
fn an_environment_may_extend_another_and_both_stay_environments() {
    let ws = Workspace::example();
    ws.write(
        "environments/qa.toml",
        "extends = \"acceptance.toml\"\n[environment]\nname = \"qa\"\n[network]\ncidr = \"10.3.0.0/16\"\n",
    );
    let out = ws.ecsops(&["validate"]);
    out.expect_code(0);
    out.expect_in_stdout("3 environments valid: acceptance, production, qa");
    for env in ["acceptance", "qa"] {
        let out = ws.ecsops(&["diff", env, "--offline"]);
        out.expect_code(0);
        out.expect_in_stdout(&format!("ecsops plan for {env} "));
    }
    // A file that does not name itself and is extended is still a shared base.
    let out = ws.ecsops(&["diff", "base", "--offline"]);
    out.expect_code(1);
    out.expect_in_stderr("`base` is a shared base file (extended by acceptance, production)");
    // Extending an environment without naming the new one inherits the other's name: refused
    // with the place and the fix.
    ws.write(
        "environments/qa.toml",
        "extends = \"acceptance.toml\"\n[network]\ncidr = \"10.3.0.0/16\"\n",
    );
    let out = ws.ecsops(&["validate"]);
    out.expect_code(1);
    out.expect_in_stderr("environment name `acceptance` does not match its file `qa.toml`");
    out.expect_in_stderr("add `[environment] name = \"qa\"` to `qa.toml`");
    assert!(
        !out.stderr.contains("rename the file"),
        "the base is not to be renamed: {}",
        out.stderr
    );
}

#[test]
fn a_shadowed_route_is_kept_only_when_allowed() {
    let fixture =
        std::fs::read_to_string(fixtures().join("invalid/shadowed-rule.toml")).expect("fixture");
    let ws = Workspace::new();
    ws.write(
        "environments/acc.toml",
        &fixture.replace("priority = 1000 }", "priority = 1000, allow_shadowed = true }"),
    );
    ws.ecsops(&["validate"]).expect_code(0);
    // Before the catch-all it is reached: no complaint either.
    ws.write("environments/acc.toml", &fixture.replace("priority = 1000 }", "priority = 50 }"));
    ws.ecsops(&["validate"]).expect_code(0);
}

/// A health check path without its `/` is offered the path with it, once: the help said "as in
/// `/health` or `/health`" for `health`.
#[test]
fn a_relative_health_check_path_is_offered_once_from_the_root() {
    let fixture = std::fs::read_to_string(fixtures().join("invalid/invalid-health-check.toml"))
        .expect("fixture");
    let ws = Workspace::new();
    ws.write("environments/acc.toml", &fixture.replace("path = \"no slash\"", "path = \"health\""));
    let out = ws.ecsops(&["validate"]);
    out.expect_code(1);
    out.expect_in_stderr(
        "help: write it from the root, `/health`: the path the load balancer requests on each task\n",
    );
}

/// Every diagnostic code the validator can emit (each is a literal at its emitting call in
/// `core/src`) has a fixture that produces it, except those that guard internal invariants or
/// speak of git and the state.
#[test]
fn every_diagnostic_code_has_a_fixture() {
    const INTERNAL: [&str; 6] = [
        // The schema accepted a document the types reject: a bug in the schema, not input.
        "manifest-shape",
        // A listed file that cannot be read (permission denied): the tests run as root, which
        // reads anything; a unit test of `manifest::load` makes it with a tree that refuses.
        "manifest-unreadable",
        // The generated schema does not compile: a bug in ecsops.
        "schema-internal",
        // Warnings of `diff` and `apply` about git and the state, not about a manifest: no
        // fixture can make them (`published.rs` and the apply tests do).
        "stale-head",
        "undoes-applied",
        "unfinished-apply",
    ];
    let mut emitted = std::collections::BTreeSet::new();
    let mut dirs = vec![repo_root().join("core/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("source dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                for call in ["Diagnostic::error(", "Diagnostic::warning(", ".at_value(", ".at_key("]
                {
                    for (i, _) in text.match_indices(call) {
                        let rest = text[i + call.len()..].trim_start();
                        if let Some(code) =
                            rest.strip_prefix('"').and_then(|r| r.split_once('"')).map(|(c, _)| c)
                        {
                            emitted.insert(code.to_owned());
                        }
                    }
                }
            }
        }
    }
    assert!(emitted.len() >= 60, "found only {emitted:?}");
    let mut covered = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(fixtures().join("invalid")).expect("fixtures").flatten() {
        covered.extend(expectations(&entry.path()).into_iter().map(|e| e.code));
    }
    let missing: Vec<&String> = emitted
        .iter()
        .filter(|c| !covered.contains(*c) && !INTERNAL.contains(&c.as_str()))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    let unknown: Vec<&String> = covered.iter().filter(|c| !emitted.contains(*c)).collect();
    assert!(unknown.is_empty(), "fixtures expect codes nothing emits: {unknown:?}");
}
