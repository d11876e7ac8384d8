//! What a workspace offers its users' tools: the schema as editors read it (checked with Taplo,
//! the engine of Even Better TOML), `ecsops schema`, `ecsops init`, shell completions and the
//! man page.

use std::path::{Path, PathBuf};

use crate::support::{Workspace, repo_root, taplo};

/// The `#:schema` line every manifest of a workspace starts with.
const SCHEMA_LINE: &str = "#:schema ../schemas/manifest.schema.json";

/// Every `.toml` file under `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Asserts that every manifest in `environments` names the workspace's schema on its first line
/// and that Taplo, following that line, finds nothing wrong.
fn assert_taplo_accepts_workspace(environments: &Path) {
    let files = toml_files(environments);
    assert!(
        !files.is_empty(),
        "no manifest in {}",
        environments.display()
    );
    for file in &files {
        let text = std::fs::read_to_string(file).expect("manifest");
        assert_eq!(
            text.lines().next(),
            Some(SCHEMA_LINE),
            "{} does not start with the schema line",
            file.display()
        );
    }
    let checked = taplo::check(&files, None);
    assert!(
        checked.clean,
        "taplo flags valid manifests:\n{}",
        checked.output
    );
}

#[test]
fn taplo_accepts_every_example_and_valid_fixture() {
    assert_taplo_accepts_workspace(&repo_root().join("environments"));
    let fixtures = toml_files(&repo_root().join("tests/fixtures/manifests/valid"));
    let schema = repo_root().join("schemas/manifest.schema.json");
    let checked = taplo::check(&fixtures, Some(&schema));
    assert!(
        checked.clean,
        "taplo flags valid fixtures:\n{}",
        checked.output
    );
}

/// Invalid values still show in the editor: each case, placed in a workspace as a user would
/// (schema line first), is flagged with Taplo's message for it.
#[test]
fn taplo_still_flags_invalid_values() {
    let invalid = repo_root().join("tests/fixtures/manifests/invalid");
    let cases = [
        ("wrong-type.toml", "\"256\" is not of type \"integer\""),
        ("unknown-key.toml", "'servcies' was unexpected"),
        (
            "port-out-of-range.toml",
            "70000 is greater than the maximum of 65535",
        ),
        ("bad-enum.toml", "\"singel\" is not one of"),
    ];
    let ws = Workspace::new();
    ws.write(
        "schemas/manifest.schema.json",
        &std::fs::read_to_string(repo_root().join("schemas/manifest.schema.json")).expect("schema"),
    );
    for (case, message) in cases {
        let text = std::fs::read_to_string(invalid.join(case)).expect("fixture");
        let relative = format!("environments/{case}");
        ws.write(&relative, &format!("{SCHEMA_LINE}\n{text}"));
        let checked = taplo::check(&[ws.path().join(&relative)], None);
        assert!(
            !checked.clean && checked.output.contains(message),
            "taplo should flag {case} with `{message}`:\n{}",
            checked.output
        );
    }
}

/// `ecsops schema` prints the schema this binary checks with, which is the repository's copy;
/// its `$id` names the version.
#[test]
fn schema_prints_the_schema_of_this_version() {
    let ws = Workspace::new();
    let out = ws.ecsops(&["schema"]);
    out.expect_code(0);
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    assert_eq!(
        schema["$id"],
        concat!("urn:ecsops:manifest-schema:", env!("CARGO_PKG_VERSION"))
    );
    let checked_in = std::fs::read_to_string(repo_root().join("schemas/manifest.schema.json"))
        .expect("checked-in schema");
    assert_eq!(out.stdout, checked_in, "one generator for both");
}

/// `schema --write` puts the schema where the manifests' `#:schema` lines point; `validate`
/// warns, without failing, while the copy is another version's, and names the fix.
#[test]
fn schema_write_keeps_the_workspace_copy_that_validate_checks() {
    let ws = Workspace::copy_of(&repo_root().join("tests/fixtures/manifests/valid/minimal"));
    let copy = ws.path().join("schemas/manifest.schema.json");
    ws.ecsops(&["schema", "--write"])
        .expect_code(0)
        .expect_in_stdout("wrote `schemas/manifest.schema.json`");
    let printed = ws.ecsops(&["schema"]).stdout;
    assert_eq!(std::fs::read_to_string(&copy).expect("copy"), printed);
    let out = ws.ecsops(&["validate"]);
    out.expect_code(0);
    assert_eq!(out.stderr, "", "no warning for a fresh copy");

    let older = printed.replace(
        concat!("schema:", env!("CARGO_PKG_VERSION")),
        "schema:0.0.1",
    );
    std::fs::write(&copy, older).expect("older copy");
    ws.ecsops(&["validate"])
        .expect_code(0)
        .expect_in_stderr(
            "`schemas/manifest.schema.json` is not the manifest schema of this ecsops",
        )
        .expect_in_stderr("urn:ecsops:manifest-schema:0.0.1")
        .expect_in_stderr("run `ecsops schema --write`");
    ws.ecsops(&["schema", "--write"])
        .expect_code(0)
        .expect_in_stdout("wrote");
    ws.ecsops(&["schema", "--write"])
        .expect_code(0)
        .expect_in_stdout("up to date");
    assert_eq!(ws.ecsops(&["validate"]).stderr, "");
}
