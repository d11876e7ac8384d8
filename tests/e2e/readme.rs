//! The README as a contract: its command table names exactly the commands the binary has, every
//! one of them exits 1 on a usage error as its exit-code table says, and its install command
//! names the package that builds the binary.

use std::collections::BTreeSet;

use crate::support::{Workspace, repo_root};

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).expect("README.md")
}

/// The subcommands `--help` lists (`help` itself aside: clap adds it to every parser).
fn commands_in_help(ws: &Workspace, args: &[&str]) -> BTreeSet<String> {
    let mut with_help = args.to_vec();
    with_help.push("--help");
    let out = ws.ecsops(&with_help);
    out.expect_code(0);
    out.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // Wrapped descriptions are indented further than the names.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The commands the README's table documents: the word after `ecsops` in each row.
fn commands_in_readme(readme: &str) -> BTreeSet<String> {
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `ecsops "))
        .filter_map(|rest| rest.split([' ', '`']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_command_table_names_every_command_and_no_other() {
    let ws = Workspace::example();
    let help = commands_in_help(&ws, &[]);
    assert!(help.contains("diff") && help.contains("man"), "{help:?}");
    assert_eq!(commands_in_readme(&readme()), help);
}

#[test]
fn every_command_exits_1_on_a_usage_error_as_the_exit_code_table_says() {
    let readme = readme();
    assert!(
        readme.contains("| 1 | any error, usage errors included"),
        "the README's exit-code table changed: update this test with it"
    );
    let ws = Workspace::example();
    let mut commands: Vec<Vec<String>> = Vec::new();
    for c in commands_in_help(&ws, &[]) {
        let subcommands = commands_in_help(&ws, &[&c]);
        commands.extend(subcommands.into_iter().map(|s| vec![c.clone(), s]));
        commands.push(vec![c]);
    }
    assert!(commands.iter().any(|c| c == &["state", "push"]), "{commands:?}");
    for command in commands {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        args.push("--no-such-flag");
        ws.ecsops(&args).expect_code(1).expect_in_stderr("--no-such-flag");
    }
}

#[test]
fn the_install_command_builds_the_ecsops_binary() {
    assert!(readme().contains("cargo install --locked --path cli"));
    let manifest =
        std::fs::read_to_string(repo_root().join("cli/Cargo.toml")).expect("cli/Cargo.toml");
    assert!(
        manifest.contains("[[bin]]\nname = \"ecsops\""),
        "cli/Cargo.toml no longer builds `ecsops`:\n{manifest}"
    );
}
