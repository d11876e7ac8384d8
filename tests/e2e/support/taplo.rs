//! Taplo, the TOML toolkit behind the Even Better TOML editor extension (pinned in
//! `tests/taplo/requirements.txt`): checks manifests as an editor does, against the schema their
//! `#:schema` line names, or a given one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::python_tool;

/// How `taplo check` ended, and what it said.
#[derive(Debug)]
pub struct Checked {
    pub clean: bool,
    pub output: String,
}

/// `taplo check FILES` (with `--schema` when `schema` is given), free of any Taplo
/// configuration or user setting of this machine.
pub fn check(files: &[PathBuf], schema: Option<&Path>) -> Checked {
    static TAPLO: OnceLock<PathBuf> = OnceLock::new();
    let taplo = TAPLO.get_or_init(|| python_tool("taplo", "taplo"));
    let mut cmd = Command::new(taplo);
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).args([
        "check",
        "--no-auto-config",
        "--colors",
        "never",
    ]);
    if let Some(schema) = schema {
        cmd.arg("--schema").arg(format!("file://{}", schema.display()));
    }
    let out = cmd.args(files).output().expect("run taplo");
    Checked {
        clean: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
