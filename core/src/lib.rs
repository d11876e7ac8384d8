//! ecsops-core: the library behind the `ecsops` command.
//!
//! ```text
//! environments/<env>.toml ──load──▶ Manifest ──validate──▶ Desired graph ──┐
//!                          (sites)   (schema + semantics)   (resources+deps) │
//! state backend ──read──▶ State (serial, lineage, resources) ─────────────────┤
//!                                                                             ▼
//!                                         Plan (per resource, per attribute)
//!                                             │ render: text · markdown · json
//! ```
//!
//! Module map: [`account`] says which AWS account an environment may touch and with which
//! credentials; [`workspace`] finds the workspace and its environments; [`manifest`] loads a
//! manifest with `extends` and remembers where each value is written; [`schema`] generates and
//! checks the JSON Schema; [`validate`] applies the semantic rules; [`cidr`] holds the subnet
//! arithmetic both validation and the graph use; [`partition`] tells a region's partition (the
//! ARN prefix and endpoint DNS suffix the graph writes); [`graph`] expands a manifest
//! into addressed resources and dependency edges; [`state`] holds the recorded state document
//! and its backends (local file, S3 with conditional-write locking) and the outputs read from
//! it; [`provider`] talks to AWS
//! (create, read in batches, update, delete, adopt by ownership tags);
//! [`plan`] diffs desired against recorded; [`render`] turns a plan into text, Markdown or JSON
//! (and an edited file into a unified diff, and what the reporting commands found into their
//! JSON documents);
//! [`apply`] walks a plan in parallel and saves the state after every step; [`rollout`] judges
//! and waits for the deployments an apply started; [`gitops`] reads
//! and tags git (provenance, protected-environment guards, revisions read from git objects,
//! one-file commits of `set-image`); [`status`] holds what `status` reports about running
//! services and instances, with the rule that marks an instance outdated; [`events`] holds
//! what ECS says happened to services (events, stopped tasks and why), merged into one log;
//! [`roll`] decides the steps of a rolling instance replacement from what AWS shows;
//! [`diagnostic`] and [`source`] carry located problems; [`ops`] has one function per command.
//! Core never prints: the CLI presents what ops return.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod account;
pub mod apply;
pub mod cidr;
pub mod diagnostic;
pub mod events;
pub mod gitops;
pub mod graph;
pub mod manifest;
pub mod ops;
pub mod partition;
pub mod plan;
pub mod provider;
pub mod render;
pub mod roll;
pub mod rollout;
pub mod schema;
pub mod source;
pub mod state;
pub mod status;
pub mod validate;
pub mod workspace;

#[cfg(test)]
mod readable {
    /// No source file of either package is over 900 lines: a newcomer reads a module whole.
    #[test]
    fn no_source_file_is_over_900_lines() {
        fn walk(dir: &std::path::Path, long: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("source directory").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, long);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let lines = std::fs::read_to_string(&path).expect("source").lines().count();
                    if lines > 900 {
                        long.push(format!("{} ({lines} lines)", path.display()));
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut long = Vec::new();
        walk(&root.join("src"), &mut long);
        walk(&root.join("../cli/src"), &mut long);
        assert!(long.is_empty(), "split these files: {long:?}");
    }
}
