//! `ecsops history` across state lineages, through the real binary and real git repositories:
//! revisions listed by when they were applied, newest first, whatever their serials.

use crate::support::Workspace;
use crate::support::env::ENV;
use crate::support::git::{self, Fetched};

const OLD: &str = "0d1e2f30-old-lineage";
const NEW: &str = "4a5b6c7d-new-lineage";

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
        Fetched {
            env: ENV,
            serial,
            commit: &commit,
            lineage,
            applied_at,
            rolled_back_to,
        }
        .tag(ws.path())
    };
    let old_first = tag(63, OLD, "2020-01-01T00:00:00Z", None);
    let old_last = tag(126, OLD, "2020-01-01T01:00:00Z", None);
    let new_apply = tag(57, NEW, "2021-01-01T00:00:00Z", None);
    let new_rollback = tag(
        58,
        NEW,
        "2021-02-01T00:00:00Z",
        Some((old_first.as_str(), commit.as_str())),
    );
    let by_hand = "ecsops/acceptance/200".to_owned();
    // 2019-06-01: older than every apply.
    git::tag_by_hand(
        ws.path(),
        &by_hand,
        &commit,
        "release candidate\n",
        1_559_347_200,
    );
    Lineages {
        ws,
        old_first,
        old_last,
        new_apply,
        new_rollback,
        by_hand,
    }
}

#[test]
fn history_lists_revisions_newest_applied_first_across_lineages() {
    let l = lineages();
    assert_eq!(
        listed(&l.ws, &[]),
        [
            l.new_rollback.as_str(),
            &l.new_apply,
            &l.old_last,
            &l.old_first,
            &l.by_hand
        ],
        "by when they were applied (a tag without ecsops's record: when it was made)"
    );
}
