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
