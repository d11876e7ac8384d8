//! `ecsops history` across state lineages, through the real binary and real git repositories:
//! revisions listed by when they were applied, newest first, whatever their serials; a state
//! that starts afresh (lost, replaced) numbered above every tag, so its applies are tagged and
//! a serial names one revision; and the JSON document, versioned like every other report.

use std::time::SystemTime;

use serde_json::Value;

use crate::gitops::{in_terminal, read_until, tagged, type_and_wait};
use crate::support::env::{ENV, Env};
use crate::support::git::{self, Fetched};
use crate::support::{Output, Workspace};

const OLD: &str = "0d1e2f30-old-lineage";
const NEW: &str = "4a5b6c7d-new-lineage";

fn serial(tag: &str) -> u64 {
    tag.rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no serial in `{tag}`"))
}

/// The tags `history` listed, in its order: from the text form's heading lines and from the
/// JSON document, which must agree.
fn listed(ws: &Workspace, env: &[(&str, String)]) -> Vec<String> {
    let text = ws.ecsops_env(&["history", ENV], env);
    text.expect_code(0);
    let from_text: Vec<String> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("serial "))
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect();
    let json = ws.ecsops_env(&["history", ENV, "--format", "json"], env);
    json.expect_code(0);
    let from_json: Vec<String> = json.json()["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| r["tag"].as_str().unwrap_or("(untagged)").to_owned())
        .collect();
    assert_eq!(from_text, from_json, "{}", text.stdout);
    from_text
}

/// A repository whose tags come from two lineages (as after a state was replaced before ecsops
/// numbered new states above the tags): the newer applies have the lower serials.
struct Lineages {
    ws: Workspace,
    commit: String,
    old_first: String,
    old_last: String,
    new_apply: String,
    new_rollback: String,
    by_hand: String,
}

fn lineages() -> Lineages {
    let ws = Workspace::example();
    git::init(ws.path());
    let commit = git::commit_all(ws.path(), "Acceptance environment");
    let tag = |serial, lineage, applied_at, rolled_back_to| {
        Fetched { env: ENV, serial, commit: &commit, lineage, applied_at, rolled_back_to }
            .tag(ws.path())
    };
    let old_first = tag(63, OLD, "2020-01-01T00:00:00Z", None);
    let old_last = tag(126, OLD, "2020-01-01T01:00:00Z", None);
    let new_apply = tag(57, NEW, "2021-01-01T00:00:00Z", None);
    let new_rollback =
        tag(58, NEW, "2021-02-01T00:00:00Z", Some((old_first.as_str(), commit.as_str())));
    let by_hand = "ecsops/acceptance/200".to_owned();
    // 2019-06-01: older than every apply.
    git::tag_by_hand(ws.path(), &by_hand, &commit, "release candidate\n", 1_559_347_200);
    Lineages { ws, commit, old_first, old_last, new_apply, new_rollback, by_hand }
}

#[test]
fn history_lists_revisions_newest_applied_first_across_lineages() {
    let l = lineages();
    assert_eq!(
        listed(&l.ws, &[]),
        [l.new_rollback.as_str(), &l.new_apply, &l.old_last, &l.old_first, &l.by_hand],
        "by when they were applied (a tag without ecsops's record: when it was made)"
    );
}

/// Every `null` in `value`, by its path.
fn nulls(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(path.to_owned()),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nulls(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                nulls(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn history_json_is_versioned_like_every_report_and_omits_what_it_does_not_know() {
    let l = lineages();
    let out = l.ws.ecsops(&["history", ENV, "--format", "json"]);
    out.expect_code(0);
    let doc = out.json();
    assert_eq!(doc["format_version"], "1.4", "{doc}");
    assert_eq!(doc["ecsops_version"], env!("CARGO_PKG_VERSION"), "{doc}");
    assert_eq!(doc["environment"], ENV);
    let mut found = Vec::new();
    nulls(&doc, "", &mut found);
    assert!(found.is_empty(), "optional fields written as null: {found:?}\n{doc}");
    let revision = |tag: &str| {
        doc["revisions"]
            .as_array()
            .expect("revisions")
            .iter()
            .find(|r| r["tag"] == tag)
            .unwrap_or_else(|| panic!("no {tag} in {doc}"))
            .clone()
    };
    let apply = revision(&l.new_apply);
    assert!(apply.get("rolled_back_to").is_none(), "{apply}");
    assert_eq!(apply["operation"], "apply");
    assert_eq!(apply["applied_at"], "2021-01-01T00:00:00Z");
    assert_eq!(apply["lineage"], NEW);
    assert_eq!(apply["commit"], l.commit.as_str());
    assert_eq!(apply["current"], false);
    let rollback = revision(&l.new_rollback);
    assert_eq!(rollback["operation"], "rollback");
    assert_eq!(
        rollback["rolled_back_to"],
        serde_json::json!({"tag": l.old_first, "commit": l.commit})
    );
    let by_hand = revision(&l.by_hand);
    for unknown in
        ["operation", "lineage", "applied_at", "applied_by", "summary", "account", "rolled_back_to"]
    {
        assert!(by_hand.get(unknown).is_none(), "{unknown}: {by_hand}");
    }
    assert_eq!(by_hand["notes"], serde_json::json!(["not an ecsops tag message: made by hand?"]));
}

fn no_tag_warning(out: &Output) {
    assert!(
        !out.stderr.contains("not tagged"),
        "every finished apply of a committed revision is tagged\n{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_state_started_afresh_is_numbered_above_every_tag_and_listed_first() {
    let env = Env::new().await;
    git::init(env.dir());
    let first = git::commit_all(env.dir(), "Acceptance environment");
    let old = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    let old_lineage = env.state()["lineage"].as_str().expect("lineage").to_owned();

    // The local state is lost and the emulator reset: the next apply starts a new lineage,
    // which would reach the old one's serials again.
    std::fs::remove_dir_all(env.dir().join(".ecsops")).expect("lose the local state");
    env.moto.server.post("/moto-api/reset");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    no_tag_warning(&out);
    let new = tagged(&out);
    let state = env.state();
    let lineage = state["lineage"].as_str().expect("lineage").to_owned();
    assert_ne!(lineage, old_lineage);
    assert!(serial(&new) > serial(&old), "{new} after {old}");
    assert_eq!(state["serial"].as_u64(), Some(serial(&new)));
    assert_eq!(git::tags(env.dir(), ENV), [old.clone(), new.clone()]);
    let (commit, message, _) = git::annotated(env.dir(), &new);
    assert_eq!(commit, first);
    assert!(message.contains(&format!("Lineage: {lineage}\n")), "{message}");
    let (_, message, _) = git::annotated(env.dir(), &old);
    assert!(message.contains(&format!("Lineage: {old_lineage}\n")), "{message}");

    // Tags of a lineage applied from another clone arrive later (`git fetch --tags`), with
    // serials above this state's: the next apply is tagged above them all the same.
    let fetched: Vec<String> = [1, 2, 3, 30]
        .into_iter()
        .map(|n| {
            Fetched {
                env: ENV,
                serial: serial(&new) + n,
                commit: &first,
                lineage: OLD,
                applied_at: "2020-01-01T00:00:00Z",
                rolled_back_to: None,
            }
            .tag(env.dir())
        })
        .collect();
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let second = git::commit_all(env.dir(), "Raise capacity");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    no_tag_warning(&out);
    let newest = tagged(&out);
    assert!(serial(&newest) > serial(&fetched[3]), "{newest}");
    assert_eq!(env.state()["serial"].as_u64(), Some(serial(&newest)));
    assert_eq!(git::annotated(env.dir(), &newest).0, second);

    let order = listed(&env.ws, &env.moto.server.env());
    assert_eq!(
        order,
        [newest.as_str(), &new, &old, &fetched[3], &fetched[2], &fetched[1], &fetched[0]],
        "newest applied first"
    );
    let history = env.run(&["history", ENV]);
    history
        .expect_in_stdout(&format!("serial {}  {newest}  (current)\n", serial(&newest)))
        .expect_in_stdout(&format!("from another state lineage ({old_lineage})"));

    // Tags made while an apply runs, after it chose its serial (here, at its prompt), are
    // left as they are: the apply says so, why, and what follows.
    let before = env.state()["serial"].as_u64().expect("serial");
    env.edit("base.toml", "desired_capacity = 3", "desired_capacity = 2");
    let head = git::commit_all(env.dir(), "Lower capacity");
    let mut child = in_terminal(&env, "apply acceptance");
    let (_, rx) = read_until(&mut child, "Only `yes` confirms");
    let now =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs();
    for n in 1..=5 {
        git::tag_by_hand(
            env.dir(),
            &format!("ecsops/{ENV}/{}", before + n),
            &head,
            "made meanwhile\n",
            i64::try_from(now).expect("seconds"),
        );
    }
    let (code, shown) = type_and_wait(&mut child, &rx, b"yes\n");
    assert_eq!(code, Some(0), "{shown}");
    let state = env.state();
    let at = state["serial"].as_u64().expect("serial");
    assert!((before + 1..=before + 5).contains(&at), "{shown}");
    let name = format!("ecsops/{ENV}/{at}");
    for expected in [
        format!("warning: not tagged: tag `{name}` was made while this apply ran"),
        format!("chose serial {at} above every existing tag; tags are never moved"),
        format!("help: `git show {name}` says who made it"),
        format!("`ecsops history {ENV}` lists it as untagged"),
    ] {
        assert!(shown.contains(&expected), "no `{expected}` in\n{shown}");
    }
    assert!(state["revision"].get("tag").is_none(), "{}", state["revision"]);
    assert_eq!(git::annotated(env.dir(), &name).1, "made meanwhile\n");
    env.run(&["history", ENV]).expect_in_stdout(&format!("serial {at}  (untagged)  (current)"));
    env.assert_unlocked();
}

/// Outside a git repository, a state's tagged last apply is listed without sending the user to
/// `git fetch --tags` (there is no repository to fetch into); the warning says why no tag shows.
#[test]
fn outside_git_a_tagged_apply_is_not_said_to_be_fetchable() {
    let ws = Workspace::new();
    ws.write(
        "environments/acc.toml",
        "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n[network]\ncidr = \"10.0.0.0/16\"\n",
    );
    let doc = serde_json::json!({
        "version": 2, "lineage": NEW, "serial": 7, "environment": "acc", "resources": {},
        "revision": {"commit": "0123456789abcdef0123456789abcdef01234567",
                     "tag": "ecsops/acc/7", "dirty": false, "operation": "apply",
                     "result": "applied", "applied_at": "2026-11-24T10:00:00Z",
                     "applied_by": "ci@runner"}
    });
    ws.write("doc.json", &doc.to_string());
    let path = ws.path().join("doc.json");
    ws.ecsops(&["state", "push", "acc", path.to_str().expect("utf-8")]).expect_code(0);
    let out = ws.ecsops(&["history", "acc"]);
    out.expect_code(0);
    out.expect_in_stdout("serial 7  ecsops/acc/7  (current)");
    out.expect_in_stdout("not in a git repository");
    assert!(!out.stdout.contains("git fetch"), "{}", out.stdout);
}
