//! Test harness: temporary workspaces and a runner for the real binary with a clean environment
//! (no inherited AWS settings, temp HOME, no colour), so tests see what a fresh machine sees.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod agent;
pub mod aws;
pub mod census;
pub mod env;
pub mod git;
pub mod iam;
pub mod moto;
pub mod provider;
pub mod proxy;
pub mod rollout;
pub mod service_history;
pub mod taplo;

/// The repository root (the workspace of the example manifests).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ has a parent").to_path_buf()
}

/// The executable `bin` of the pinned Python tool `name` (`tests/<name>/requirements.txt`),
/// installed into `target/<name>-venv` by `tests/ensure-venv.sh` on first use.
pub fn python_tool(name: &str, bin: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("tests/ensure-venv.sh"))
        .args([name, bin])
        .output()
        .expect("run tests/ensure-venv.sh");
    assert!(
        out.status.success(),
        "installing {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A throwaway workspace directory with an `environments/` folder.
/// Replaces the first `from` in `environments/<file>` of the workspace at `dir` with `to`.
pub fn edit_manifest(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("environments").join(file);
    let text = std::fs::read_to_string(&path).expect("manifest");
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write manifest");
}

pub struct Workspace {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let w = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp home"),
        };
        std::fs::create_dir_all(w.path().join("environments")).expect("environments dir");
        w
    }

    /// A workspace holding a copy of `src`'s files (recursively).
    pub fn copy_of(src: &Path) -> Self {
        let w = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp home"),
        };
        copy_dir(src, w.path());
        w
    }

    /// A workspace holding a copy of the example `environments/`.
    pub fn example() -> Self {
        let w = Self::new();
        copy_dir(&repo_root().join("environments"), &w.path().join("environments"));
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `environments/<name>` (or any relative path).
    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    /// Runs `ecsops -C <workspace> <args>`.
    pub fn ecsops(&self, args: &[&str]) -> Output {
        self.ecsops_env(args, &[])
    }

    /// The `ecsops` command with the clean test environment plus `env`, not yet run.
    pub fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecsops"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("-C")
            .arg(self.path())
            .args(args);
        cmd
    }

    /// Runs `ecsops -C <workspace> <args>` with extra environment variables.
    pub fn ecsops_env(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        let mut cmd = self.command(args, env);
        cmd.output().expect("run ecsops").into()
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("dir");
    for entry in std::fs::read_dir(src).expect("read dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Stdout as the one JSON document it must be.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON document ({e}):\n{}\n{}", self.stdout, self.stderr)
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stdout contains `text`, showing the whole output when it does not.
    pub fn expect_in_stdout(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "{}", self.shown(text, "stdout"));
        self
    }

    /// Asserts that stderr contains `text`, showing the whole output when it does not.
    pub fn expect_in_stderr(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "{}", self.shown(text, "stderr"));
        self
    }

    /// The plan's drift headings (`# <address> was changed outside ecsops`, ...), trimmed.
    pub fn drift(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('#') && l.contains("outside ecsops"))
            .collect()
    }

    /// Asserts that the plan changes `attribute` in place, its line ending with `values`
    /// (`4 -> 9`).
    pub fn expect_change(&self, attribute: &str, values: &str) -> &Self {
        let line = format!("~ {attribute} ");
        assert!(
            self.stdout.lines().map(str::trim).any(|l| l.starts_with(&line) && l.ends_with(values)),
            "{}",
            self.shown(&format!("{line}… {values}"), "stdout")
        );
        self
    }

    fn shown(&self, text: &str, stream: &str) -> String {
        format!("no `{text}` in {stream}\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}
