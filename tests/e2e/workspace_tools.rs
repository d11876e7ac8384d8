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
    assert!(!files.is_empty(), "no manifest in {}", environments.display());
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
    assert!(checked.clean, "taplo flags valid manifests:\n{}", checked.output);
}

#[test]
fn taplo_accepts_every_example_and_valid_fixture() {
    assert_taplo_accepts_workspace(&repo_root().join("environments"));
    let fixtures = toml_files(&repo_root().join("tests/fixtures/manifests/valid"));
    let schema = repo_root().join("schemas/manifest.schema.json");
    let checked = taplo::check(&fixtures, Some(&schema));
    assert!(checked.clean, "taplo flags valid fixtures:\n{}", checked.output);
}

/// Invalid values still show in the editor: each case, placed in a workspace as a user would
/// (schema line first), is flagged with Taplo's message for it.
#[test]
fn taplo_still_flags_invalid_values() {
    let invalid = repo_root().join("tests/fixtures/manifests/invalid");
    let cases = [
        ("wrong-type.toml", "\"256\" is not of type \"integer\""),
        ("unknown-key.toml", "'servcies' was unexpected"),
        ("port-out-of-range.toml", "70000 is greater than the maximum of 65535"),
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
    assert_eq!(schema["$id"], concat!("urn:ecsops:manifest-schema:", env!("CARGO_PKG_VERSION")));
    let checked_in = std::fs::read_to_string(repo_root().join("schemas/manifest.schema.json"))
        .expect("checked-in schema");
    assert_eq!(out.stdout, checked_in, "one generator for both");
}

/// `schema --write` replaces a link in the schema's place instead of writing through it: a
/// cloned repository must not be able to aim it at a file of the user's.
#[test]
fn schema_write_never_writes_through_a_link() {
    let ws = Workspace::new();
    let outside = tempfile::tempdir().expect("tempdir");
    let precious = outside.path().join("precious.txt");
    std::fs::write(&precious, "keep me").expect("precious");
    std::fs::create_dir_all(ws.path().join("schemas")).expect("schemas");
    let copy = ws.path().join("schemas/manifest.schema.json");
    std::os::unix::fs::symlink(&precious, &copy).expect("link");
    ws.ecsops(&["schema", "--write"])
        .expect_code(0)
        .expect_in_stdout("wrote `schemas/manifest.schema.json`");
    assert_eq!(std::fs::read_to_string(&precious).expect("precious"), "keep me");
    assert!(!copy.is_symlink(), "the link was replaced by the schema");
    assert_eq!(std::fs::read_to_string(&copy).expect("copy"), ws.ecsops(&["schema"]).stdout);
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

    let older = printed.replace(concat!("schema:", env!("CARGO_PKG_VERSION")), "schema:0.0.1");
    std::fs::write(&copy, older).expect("older copy");
    ws.ecsops(&["validate"])
        .expect_code(0)
        .expect_in_stderr(
            "`schemas/manifest.schema.json` is not the manifest schema of this ecsops",
        )
        .expect_in_stderr("urn:ecsops:manifest-schema:0.0.1")
        .expect_in_stderr("run `ecsops schema --write`");
    ws.ecsops(&["schema", "--write"]).expect_code(0).expect_in_stdout("wrote");
    ws.ecsops(&["schema", "--write"]).expect_code(0).expect_in_stdout("up to date");
    assert_eq!(ws.ecsops(&["validate"]).stderr, "");
}

/// A new team's first minutes: `init` in an empty git repository gives a workspace that
/// validates, plans without AWS, and that Taplo accepts; a second `init` leaves it alone unless
/// forced.
#[test]
fn init_makes_a_workspace_that_validates_plans_offline_and_holds_in_taplo() {
    let ws = Workspace::new();
    std::fs::remove_dir(ws.path().join("environments")).expect("an empty directory");
    git2::Repository::init(ws.path()).expect("git init");
    let out = ws.ecsops(&["init"]);
    out.expect_code(0)
        .expect_in_stdout("made a workspace with acceptance, production")
        .expect_in_stdout("ecsops validate")
        .expect_in_stdout("ecsops diff acceptance");
    assert!(!out.stdout.contains("git init"), "already a repository");
    for file in [
        "environments/base.toml",
        "environments/acceptance.toml",
        "environments/production.toml",
        "schemas/manifest.schema.json",
    ] {
        assert!(ws.path().join(file).is_file(), "{file} was not written");
    }
    let read = |file: &str| std::fs::read_to_string(ws.path().join(file)).expect(file);
    assert!(read(".gitignore").lines().any(|l| l == ".ecsops/"));
    assert!(read("environments/production.toml").contains("\nprotected = true\n"));
    assert!(!read("environments/acceptance.toml").contains("protected"));
    assert_eq!(read("schemas/manifest.schema.json"), ws.ecsops(&["schema"]).stdout);
    assert_taplo_accepts_workspace(&ws.path().join("environments"));

    let out = ws.ecsops(&["validate"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "2 environments valid: acceptance, production\n");
    assert_eq!(out.stderr, "", "no warning either");
    // Nothing listens on port 9: any request to AWS would fail the diff.
    let offline = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned())];
    ws.ecsops_env(&["diff", "acceptance"], &offline).expect_code(0).expect_in_stdout("Plan: ");

    std::fs::write(ws.path().join("environments/base.toml"), "# mine\n").expect("edit");
    let out = ws.ecsops(&["init"]);
    out.expect_code(1)
        .expect_in_stderr(
            "already has a workspace: environments/acceptance.toml, environments/base.toml",
        )
        .expect_in_stderr("`--force`")
        .expect_in_stderr("nothing was written");
    assert_eq!(read("environments/base.toml"), "# mine\n");
    ws.ecsops(&["init", "--force"]).expect_code(0);
    assert_ne!(read("environments/base.toml"), "# mine\n");
    let ignores = read(".gitignore");
    assert_eq!(ignores.matches(".ecsops/").count(), 1, "{ignores}");
    ws.ecsops(&["validate"]).expect_code(0);
}

#[test]
fn init_names_its_environments_and_refuses_bad_names() {
    let ws = Workspace::new();
    let out = ws.ecsops(&["init", "team", "--env", "staging", "--env", "prod"]);
    out.expect_code(0)
        .expect_in_stdout("cd ")
        .expect_in_stdout("  git init\n  git add environments schemas .gitignore && git commit\n");
    let team = ws.path().join("team");
    assert!(
        std::fs::read_to_string(team.join("environments/prod.toml"))
            .expect("prod")
            .contains("\nprotected = true\n")
    );
    let validate = std::process::Command::new(env!("CARGO_BIN_EXE_ecsops"))
        .env_clear()
        .env("NO_COLOR", "1")
        .args(["validate", "-C"])
        .arg(&team)
        .output()
        .expect("run validate");
    assert!(validate.status.success(), "{validate:?}");
    assert_eq!(String::from_utf8_lossy(&validate.stdout), "2 environments valid: prod, staging\n");

    let out = ws.ecsops(&["init", "other", "--env", "Prod"]);
    out.expect_code(1)
        .expect_in_stderr("`Prod` is not a valid environment name")
        .expect_in_stderr("help: for example `--env prod`")
        .expect_in_stderr("nothing was written");
    ws.ecsops(&["init", "other", "--env", "QA Team"])
        .expect_code(1)
        .expect_in_stderr("help: for example `--env qa-team`");
    ws.ecsops(&["init", "other", "--env", "base"])
        .expect_code(1)
        .expect_in_stderr("help: choose another name, for example `--env staging`");
    assert!(!ws.path().join("other/environments").exists());
}

/// `init` refuses what it cannot make, before writing anything: a workspace in a file, and more
/// environments than it has VPC ranges for (the 257th would get `10.256.0.0/16`).
#[test]
fn init_refuses_a_file_and_more_environments_than_vpc_ranges() {
    let ws = Workspace::new();
    ws.write("notes.txt", "");
    ws.ecsops(&["init", "notes.txt"])
        .expect_code(1)
        .expect_in_stderr("notes.txt` is a file, not a directory")
        .expect_in_stderr("nothing was written");
    let names: Vec<String> = (0..257).map(|i| format!("e{i}")).collect();
    let mut args = vec!["init", "many"];
    for name in &names {
        args.extend(["--env", name.as_str()]);
    }
    ws.ecsops(&args)
        .expect_code(1)
        .expect_in_stderr("257 environments is more than the 256 VPC ranges")
        .expect_in_stderr("nothing was written");
    assert!(!ws.path().join("many").exists());
    args.truncate(args.len() - 2);
    ws.ecsops(&args).expect_code(0);
    let validate = std::process::Command::new(env!("CARGO_BIN_EXE_ecsops"))
        .env_clear()
        .env("NO_COLOR", "1")
        .args(["validate", "e255", "-C"])
        .arg(ws.path().join("many"))
        .output()
        .expect("run validate");
    assert!(validate.status.success(), "{validate:?}");
}

/// What bash offers after `ecsops apply --p` is what `apply --help` documents: the poll
/// interval tests set is no option, so it is in no shell's script.
#[test]
fn completions_offer_only_documented_options() {
    let ws = Workspace::new();
    let bash = ws.ecsops(&["completions", "bash"]);
    let script = ws.path().join("ecsops.bash");
    std::fs::write(&script, &bash.stdout).expect("script");
    let offered = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && COMP_WORDS=(ecsops apply --p) COMP_CWORD=2 && _ecsops ecsops --p apply && echo \"${{COMPREPLY[*]}}\"",
            script.display()
        ))
        .output()
        .expect("run bash");
    assert_eq!(String::from_utf8_lossy(&offered.stdout), "--plan --parallelism\n", "{offered:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = ws.ecsops(&["completions", shell]);
        assert!(!out.stdout.contains("poll-interval"), "{shell}");
    }
}

/// The scripts name the command; bash itself loads the bash one and registers it.
#[test]
fn completions_and_the_man_page_describe_ecsops() {
    let ws = Workspace::new();
    let bash = ws.ecsops(&["completions", "bash"]);
    bash.expect_code(0).expect_in_stdout("_ecsops()");
    let script = ws.path().join("ecsops.bash");
    std::fs::write(&script, &bash.stdout).expect("script");
    let registered = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p ecsops", script.display()))
        .output()
        .expect("run bash");
    assert!(registered.status.success(), "{registered:?}");
    assert!(
        String::from_utf8_lossy(&registered.stdout).contains("_ecsops ecsops"),
        "{registered:?}"
    );
    for (shell, names_ecsops) in
        [("zsh", "#compdef ecsops"), ("fish", "complete -c ecsops"), ("powershell", "'ecsops'")]
    {
        ws.ecsops(&["completions", shell]).expect_code(0).expect_in_stdout(names_ecsops);
    }
    ws.ecsops(&["completions", "tcsh"]).expect_code(1).expect_in_stderr("possible values: bash");

    let man = ws.ecsops(&["man"]);
    man.expect_code(0)
        .expect_in_stdout(".TH ecsops 1")
        .expect_in_stdout(concat!("ecsops ", env!("CARGO_PKG_VERSION")));
    for command in ["validate", "init", "completions"] {
        assert!(man.stdout.contains(command), "the man page lacks `{command}`");
    }
    // `--dir` writes every page the top page names, each with its command's options.
    let pages = tempfile::tempdir().expect("temp dir");
    let dir = pages.path().to_string_lossy().into_owned();
    ws.ecsops(&["man", "--dir", &dir]).expect_code(0);
    let top = std::fs::read_to_string(pages.path().join("ecsops.1")).expect("ecsops.1");
    let named: Vec<&str> = top
        .split("ecsops\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name))
        .collect();
    assert!(named.len() >= 15, "{named:?}");
    for name in named {
        let file = pages.path().join(format!("ecsops-{}.1", name.replace("\\-", "-")));
        assert!(file.is_file(), "no page for ecsops\\-{name}(1)");
    }
    let apply = std::fs::read_to_string(pages.path().join("ecsops-apply.1")).expect("apply");
    assert!(apply.contains("\\-\\-auto\\-approve"), "{apply}");
    let push = pages.path().join("ecsops-state-push.1");
    assert!(push.is_file(), "nested commands have pages too");
}
