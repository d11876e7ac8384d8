//! `ecsops init [DIR] [--env NAME...]`: a new workspace in an existing repository, from the
//! templates in `core/templates/`: `environments/base.toml`, one file per environment extending
//! it (each with its own VPC range; `production` and `prod` protected), the schema the files'
//! `#:schema` lines point at, and `.ecsops/` in `.gitignore`. Every file it writes validates.
//! It never overwrites a workspace unless told to.

use std::path::{Path, PathBuf};

use crate::schema::{SCHEMA_PATH, generate};
use crate::validate::environment_name_ok;
use crate::workspace::ENVIRONMENTS_DIR;

use super::OpsError;
use super::schema::write_file;

const BASE: &str = include_str!("../../templates/base.toml");
const ENVIRONMENT: &str = include_str!("../../templates/environment.toml");
const PROTECTED: &str = include_str!("../../templates/protected.toml");

/// The environments of a workspace made without `--env`.
const DEFAULT_ENVIRONMENTS: [&str; 2] = ["acceptance", "production"];

/// Environments with these names are protected from the start.
const PROTECTED_NAMES: [&str; 2] = ["production", "prod"];

/// What `.gitignore` must hold: the local state and lock files.
const IGNORED: &str = ".ecsops/";

/// Why no workspace was made; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{}` already has a workspace: {}", .dir.display(), .files.join(", "))]
    Exists { dir: PathBuf, files: Vec<String> },
    #[error(
        "`{0}` is not a valid environment name: lowercase letters, digits and `-`, at most 20 characters"
    )]
    InvalidName(String),
    #[error("`base` is the shared file every environment extends; it cannot be an environment")]
    BaseName,
    #[error("environment `{0}` is named twice")]
    Repeated(String),
    #[error(
        "{0} environments is more than the {MAX_ENVIRONMENTS} VPC ranges `10.N.0.0/16` init gives out"
    )]
    TooMany(usize),
    #[error("`{}` is a file, not a directory", .0.display())]
    NotADirectory(PathBuf),
}

/// Environment `i` gets `10.i.0.0/16`: one per value of the second octet.
const MAX_ENVIRONMENTS: usize = 256;

/// What `init` made.
#[derive(Debug)]
pub struct Initialized {
    pub dir: PathBuf,
    pub environments: Vec<String>,
    /// The files written, relative to `dir`, in the order written.
    pub written: Vec<PathBuf>,
    /// Whether `dir` is in a git repository (one that cannot be read counts as one): the next
    /// steps start with `git init` when it is not.
    pub in_repository: bool,
}

/// Makes a workspace in `dir` (created if missing) with `environments`, or acceptance and
/// production when empty. `force` overwrites the files of an existing workspace.
pub fn init(dir: &Path, environments: &[String], force: bool) -> Result<Initialized, OpsError> {
    let environments: Vec<String> = if environments.is_empty() {
        DEFAULT_ENVIRONMENTS.iter().map(|&e| e.to_owned()).collect()
    } else {
        environments.to_vec()
    };
    if environments.len() > MAX_ENVIRONMENTS {
        return Err(InitError::TooMany(environments.len()).into());
    }
    if dir.exists() && !dir.is_dir() {
        return Err(InitError::NotADirectory(dir.to_path_buf()).into());
    }
    for (i, env) in environments.iter().enumerate() {
        if env == "base" {
            return Err(InitError::BaseName.into());
        }
        if !environment_name_ok(env) {
            return Err(InitError::InvalidName(env.clone()).into());
        }
        if environments[..i].contains(env) {
            return Err(InitError::Repeated(env.clone()).into());
        }
    }
    let mut files: Vec<(PathBuf, String)> = vec![
        (Path::new(SCHEMA_PATH).to_path_buf(), generate()),
        (manifest_path("base"), BASE.to_owned()),
    ];
    files.extend(
        environments.iter().enumerate().map(|(i, env)| (manifest_path(env), environment(env, i))),
    );
    if !force {
        let existing = existing_workspace(dir, &files);
        if !existing.is_empty() {
            return Err(InitError::Exists { dir: dir.to_path_buf(), files: existing }.into());
        }
    }
    let mut written = Vec::new();
    for (path, text) in &files {
        write_file(dir, path, text)?;
        written.push(path.clone());
    }
    if let Some(text) = gitignore(dir) {
        write_file(dir, Path::new(".gitignore"), &text)?;
        written.push(PathBuf::from(".gitignore"));
    }
    Ok(Initialized {
        dir: dir.to_path_buf(),
        environments,
        written,
        in_repository: !matches!(crate::gitops::Repo::discover(dir), Ok(None)),
    })
}

fn manifest_path(name: &str) -> PathBuf {
    Path::new(ENVIRONMENTS_DIR).join(format!("{name}.toml"))
}

/// The manifest of the `index`-th environment: VPC `10.<index>.0.0/16`, so no two overlap.
fn environment(name: &str, index: usize) -> String {
    let protection = if PROTECTED_NAMES.contains(&name) { PROTECTED } else { "" };
    ENVIRONMENT
        .replace("{name}", name)
        .replace("{protection}", protection)
        .replace("{cidr}", &format!("10.{index}.0.0/16"))
}

/// What makes `dir` a workspace already: any manifest in `environments/`, and any file `init`
/// would write. Paths relative to `dir`, sorted.
fn existing_workspace(dir: &Path, files: &[(PathBuf, String)]) -> Vec<String> {
    let mut existing: Vec<String> = std::fs::read_dir(dir.join(ENVIRONMENTS_DIR))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| p.strip_prefix(dir).ok().map(|p| p.display().to_string()))
        .collect();
    existing.extend(
        files.iter().filter(|(p, _)| dir.join(p).exists()).map(|(p, _)| p.display().to_string()),
    );
    existing.sort();
    existing.dedup();
    existing
}

/// `.gitignore` with `.ecsops/` added, or `None` when it already ignores it.
fn gitignore(dir: &Path) -> Option<String> {
    let current = std::fs::read_to_string(dir.join(".gitignore")).unwrap_or_default();
    let ignored = current
        .lines()
        .any(|l| matches!(l.trim(), ".ecsops" | ".ecsops/" | "/.ecsops" | "/.ecsops/"));
    if ignored {
        return None;
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# ecsops: local state, its history and locks\n");
    text.push_str(IGNORED);
    text.push('\n');
    Some(text)
}

impl From<InitError> for OpsError {
    fn from(e: InitError) -> Self {
        Self::Init(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_get_their_own_range_and_production_is_protected() {
        let acceptance = environment("acceptance", 0);
        assert!(acceptance.contains("cidr = \"10.0.0.0/16\""), "{acceptance}");
        assert!(!acceptance.contains("protected = true"), "{acceptance}");
        let production = environment("production", 1);
        assert!(production.contains("cidr = \"10.1.0.0/16\""), "{production}");
        assert!(production.contains("\nprotected = true\n"), "{production}");
        assert!(production.contains("name = \"production\""), "{production}");
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("dir");
        for names in [&["Prod"][..], &["base"], &["qa", "qa"], &["a-very-long-environment-name"]] {
            let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
            assert!(matches!(init(dir.path(), &names, false), Err(OpsError::Init(_))));
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn gitignore_gains_the_state_directory_once() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(".gitignore"), "target").expect("write");
        let text = gitignore(dir.path()).expect("added");
        assert!(text.starts_with("target\n# ecsops"), "{text}");
        std::fs::write(dir.path().join(".gitignore"), &text).expect("write");
        assert_eq!(gitignore(dir.path()), None);
    }
}
