//! The workspace: a directory holding `environments/*.toml`. Finds it (from `-C` or by searching
//! upward like git does) and tells environments from shared base files: a file that another file
//! `extends` is a base, every other `.toml` in `environments/` is an environment named by its
//! file stem.

use std::path::{Path, PathBuf};

use crate::manifest::sites;
use crate::source::Sources;

pub const ENVIRONMENTS_DIR: &str = "environments";

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no `environments/` directory in `{0}` or any parent directory")]
    NotFound(PathBuf),
    #[error("`{0}` has no `environments/` directory")]
    NoEnvironmentsDir(PathBuf),
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("there is no environment `{name}` in this workspace")]
    UnknownEnvironment {
        name: String,
        /// Environments that do exist, for the hint.
        known: Vec<String>,
    },
    #[error("`{name}` is a shared base file (extended by {by}), not an environment")]
    BaseNotEnvironment { name: String, by: String },
}

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Uses `dir` as the root when given (it must hold `environments/`), otherwise searches
    /// upward from `cwd`.
    pub fn discover(dir: Option<&Path>, cwd: &Path) -> Result<Self, WorkspaceError> {
        if let Some(dir) = dir {
            let root = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                cwd.join(dir)
            };
            if !root.join(ENVIRONMENTS_DIR).is_dir() {
                return Err(WorkspaceError::NoEnvironmentsDir(root));
            }
            return Ok(Self { root });
        }
        cwd.ancestors()
            .find(|d| d.join(ENVIRONMENTS_DIR).is_dir())
            .map(|root| Self {
                root: root.to_path_buf(),
            })
            .ok_or_else(|| WorkspaceError::NotFound(cwd.to_path_buf()))
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn environments_dir(&self) -> PathBuf {
        self.root.join(ENVIRONMENTS_DIR)
    }

    /// Path of an environment's manifest.
    pub fn manifest_path(&self, env: &str) -> PathBuf {
        self.environments_dir().join(format!("{env}.toml"))
    }

    /// Path as users see it: relative to the workspace root when inside it.
    pub fn display_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
    }

    /// Every `.toml` file in `environments/`, sorted.
    fn manifest_files(&self) -> Result<Vec<PathBuf>, WorkspaceError> {
        let dir = self.environments_dir();
        let entries = std::fs::read_dir(&dir).map_err(|source| WorkspaceError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect();
        files.sort();
        Ok(files)
    }

    /// Environment names and, for each base file, who extends it. Unreadable or unparsable
    /// files count as environments so that `validate` reports them.
    pub fn catalog(&self) -> Result<Catalog, WorkspaceError> {
        let files = self.manifest_files()?;
        let mut extended_by: Vec<(PathBuf, String)> = Vec::new();
        for f in &files {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            let mut scratch = Sources::default();
            let id = scratch.add(f.clone(), text.clone());
            let Ok(located) = sites::parse(id, &text) else {
                continue;
            };
            if let Some(ext) = located.value.get("extends").and_then(|v| v.as_str()) {
                let target = f.parent().unwrap_or(Path::new(".")).join(ext);
                let target = normalize(&target);
                let who = f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                extended_by.push((target, who));
            }
        }
        let mut environments = Vec::new();
        let mut bases = Vec::new();
        for f in files {
            let Some(stem) = f.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let users: Vec<String> = extended_by
                .iter()
                .filter(|(t, _)| *t == normalize(&f))
                .map(|(_, who)| who.clone())
                .collect();
            if users.is_empty() {
                environments.push(stem);
            } else {
                bases.push((stem, users));
            }
        }
        Ok(Catalog {
            environments,
            bases,
        })
    }

    /// Checks that `name` is an environment of this workspace.
    pub fn require_environment(&self, name: &str) -> Result<(), WorkspaceError> {
        let catalog = self.catalog()?;
        if catalog.environments.iter().any(|e| e == name) {
            return Ok(());
        }
        if let Some((_, by)) = catalog.bases.iter().find(|(b, _)| b == name) {
            return Err(WorkspaceError::BaseNotEnvironment {
                name: name.to_owned(),
                by: by.join(", "),
            });
        }
        Err(WorkspaceError::UnknownEnvironment {
            name: name.to_owned(),
            known: catalog.environments,
        })
    }
}

/// Environments and base files of a workspace.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub environments: Vec<String>,
    /// Base file stem → the environments (or bases) that extend it.
    pub bases: Vec<(String, Vec<String>)>,
}

/// Lexically resolves `.` and `..` so two spellings of one path compare equal (without touching
/// the file system, which may not have the file).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
