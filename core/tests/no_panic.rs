//! No input makes validation or planning panic: random text and mutations of the example
//! manifests go through the whole offline pipeline (load, schema, rules, graph, plan), and every
//! diagnostic points inside its file.

use std::path::Path;

use ecsops_core::diagnostic::Diagnostics;
use ecsops_core::ops;
use ecsops_core::source::Sources;
use ecsops_core::workspace::Workspace;
use proptest::prelude::*;

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    ["base.toml", "acceptance.toml", "production.toml"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).expect("example manifest");
            ((*f).to_owned(), text)
        })
        .collect()
}

/// Every diagnostic's site lies inside its file, on character boundaries, and what the
/// CLI's report does with it (line:column, the masked snippet text) works.
fn check_sites(sources: &Sources, diagnostics: &Diagnostics) {
    for d in diagnostics.iter() {
        let Some(site) = &d.site else { continue };
        let file = sources.get(site.file);
        let text = &file.text;
        assert!(
            site.span.start <= site.span.end && site.span.end <= text.len(),
            "{d:?} outside a {}-byte file",
            text.len()
        );
        assert!(
            text.is_char_boundary(site.span.start) && text.is_char_boundary(site.span.end),
            "{d:?} splits a character"
        );
        let _ = file.line_col(site.span.start);
        let masked = file.masked(std::slice::from_ref(&site.span));
        assert_eq!(masked.len(), text.len(), "masking keeps every offset");
    }
}

/// Runs validate and diff on a workspace holding `files`; checks every diagnostic's site,
/// errors included.
fn pipeline(files: &[(String, String)]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(&envs).expect("dir");
    for (name, text) in files {
        std::fs::write(envs.join(name), text).expect("write");
    }
    let ws = Workspace::at(dir.path());
    if let Ok(report) = ops::validate(&ws, &[]) {
        check_sites(&report.sources, &report.diagnostics);
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for env in ["acceptance", "production"] {
        match runtime.block_on(ops::diff(&ws, env, &ops::DiffOptions::default())) {
            Ok(outcome) => check_sites(&outcome.sources, &outcome.warnings),
            Err(ops::OpsError::Invalid(invalid)) => {
                check_sites(&invalid.sources, &invalid.diagnostics);
            }
            Err(_) => {}
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceValue(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                "0",
                "-1",
                "99999999999",
                "\"\"",
                "[]",
                "{}",
                "true",
                "\"x\"",
                "1.5",
                "nan",
                "\"10.0.0.0/8\"",
                "\"ssm:\"",
                "[\"a\", 1]",
                "{ a = { b = 1 } }",
            ])
        )
            .prop_map(|(i, v)| Mutation::ReplaceValue(i, v)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return text.to_owned();
    }
    let n = lines.len();
    match mutation {
        Mutation::FlipByte(at, byte) => {
            let mut bytes = text.as_bytes().to_vec();
            let len = bytes.len();
            if len > 0 {
                bytes[at % len] = *byte;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(first, second) => lines.swap(first % n, second % n),
        Mutation::ReplaceValue(i, v) => {
            let l = &mut lines[i % n];
            if let Some(eq) = l.find(" = ") {
                l.truncate(eq + 3);
                l.push_str(v);
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(
        file in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut files = examples();
        for m in &mutations {
            files[file].1 = apply(&files[file].1, m);
        }
        pipeline(&files);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}", toml in "[a-z_\\[\\]\\.= \"0-9{}\\n,]{0,300}") {
        pipeline(&[("acceptance.toml".to_owned(), text), ("production.toml".to_owned(), toml)]);
    }
}
