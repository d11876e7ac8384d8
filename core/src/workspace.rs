//! The workspace: a directory holding `environments/*.toml`. Finds it (from `-C` or by searching
//! upward like git does) and tells environments from shared base files: a file that another file
//! `extends` and that does not name itself (`[environment] name`) is a base; every other `.toml`
//! in `environments/` is an environment named by its file stem. So an environment may extend
//! another environment (`qa.toml` extends `acceptance.toml`), and both stay environments:
//! adding a file never changes what an existing file is, as long as environments say their name.
//!
//! A workspace reads its files from the work tree, or from a [`Tree`] such as a git revision
//! (`rollback`, `diff --rev`), so every stage after it works the same on either.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::manifest::sites;
use crate::source::Sources;

pub const ENVIRONMENTS_DIR: &str = "environments";

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no `environments/` directory in `{0}` or any parent directory")]
    NotFound(PathBuf),
    #[error("`{0}` has no `environments/` directory")]
    NoEnvironmentsDir(PathBuf),
    #[error("`{0}` does not exist")]
    NoDirectory(PathBuf),
    #[error("`{0}` is a file, not a directory")]
    NotADirectory(PathBuf),
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

/// Files of a workspace that are not the work tree (a git revision). Paths are absolute, under
/// the workspace root, as they would be on disk.
pub trait Tree: std::fmt::Debug + Send + Sync {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The files directly in `dir`.
    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// How paths read from it are shown: `<label>:<path>` (git's `rev:path` form).
    fn label(&self) -> &str;
}

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    /// `None`: the work tree on disk.
    tree: Option<Arc<dyn Tree>>,
}

impl Workspace {
    /// Uses `dir` as the root when given (it must hold `environments/`), otherwise searches
    /// upward from `cwd`.
    pub fn discover(dir: Option<&Path>, cwd: &Path) -> Result<Self, WorkspaceError> {
        if let Some(dir) = dir {
            let root = if dir.is_absolute() { dir.to_path_buf() } else { cwd.join(dir) };
            if !root.is_dir() {
                return Err(if root.exists() {
                    WorkspaceError::NotADirectory(root)
                } else {
                    WorkspaceError::NoDirectory(root)
                });
            }
            if !root.join(ENVIRONMENTS_DIR).is_dir() {
                return Err(WorkspaceError::NoEnvironmentsDir(root));
            }
            return Ok(Self::at(root));
        }
        cwd.ancestors()
            .find(|d| d.join(ENVIRONMENTS_DIR).is_dir())
            .map(Self::at)
            .ok_or_else(|| WorkspaceError::NotFound(cwd.to_path_buf()))
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), tree: None }
    }

    /// The same workspace with its files read from `tree` instead of the work tree.
    #[must_use]
    pub fn with_tree(&self, tree: Arc<dyn Tree>) -> Self {
        Self { root: self.root.clone(), tree: Some(tree) }
    }

    /// The label of the tree files are read from (`None`: the work tree).
    pub fn tree_label(&self) -> Option<&str> {
        self.tree.as_deref().map(Tree::label)
    }

    /// A file's text, from the work tree or the workspace's tree; a file that is not UTF-8 is
    /// an `InvalidData` error ([`Workspace::read_lossy`] says where).
    pub fn read(&self, path: &Path) -> std::io::Result<String> {
        String::from_utf8(self.read_bytes(path)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// A file's text with what is not UTF-8 replaced, and the byte offset of the first such
    /// byte (`None` when the file is UTF-8).
    pub fn read_lossy(&self, path: &Path) -> std::io::Result<(String, Option<usize>)> {
        let bytes = self.read_bytes(path)?;
        let bad = std::str::from_utf8(&bytes).err().map(|e| e.valid_up_to());
        Ok((String::from_utf8_lossy(&bytes).into_owned(), bad))
    }

    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match &self.tree {
            None => read_inside(&self.root, path),
            Some(tree) => tree.read(&normalize(path)),
        }
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

    /// Path as users see it: relative to the workspace root when inside it, and prefixed with
    /// the tree's label (`3f2a1c9:environments/base.toml`) when not read from the work tree.
    pub fn display_path(&self, path: &Path) -> PathBuf {
        let path = normalize(path);
        let relative =
            path.strip_prefix(&self.root).map_or_else(|_| path.clone(), Path::to_path_buf);
        match self.tree_label() {
            None | Some("") => relative,
            Some(label) => PathBuf::from(format!("{label}:{}", relative.display())),
        }
    }

    /// Every `.toml` file in `environments/`, sorted.
    fn manifest_files(&self) -> Result<Vec<PathBuf>, WorkspaceError> {
        let dir = self.environments_dir();
        let io = |source| WorkspaceError::Io { path: dir.clone(), source };
        let listed: Vec<PathBuf> = match &self.tree {
            Some(tree) => tree.list(&dir).map_err(io)?,
            None => std::fs::read_dir(&dir)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect(),
        };
        let mut files: Vec<PathBuf> =
            listed.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
        files.sort();
        Ok(files)
    }

    /// Environment names and, for each base file, who extends it. Unreadable or unparsable
    /// files count as environments so that `validate` reports them, and so do files only a
    /// cycle of `extends` reaches (a file extending itself): loading them reports the cycle.
    pub fn catalog(&self) -> Result<Catalog, WorkspaceError> {
        let files = self.manifest_files()?;
        // Each file's `extends` target, both normalized.
        let mut extends: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut named: Vec<PathBuf> = Vec::new();
        for f in &files {
            let Ok(text) = self.read(f) else {
                continue;
            };
            let mut scratch = Sources::default();
            let id = scratch.add(f.clone(), text.clone());
            let Ok(located) = sites::parse(id, &text) else {
                continue;
            };
            if located.value.pointer("/environment/name").is_some() {
                named.push(normalize(f));
            }
            if let Some(ext) = located.value.get("extends").and_then(|v| v.as_str()) {
                let target = f.parent().unwrap_or(Path::new(".")).join(ext);
                extends.push((normalize(f), normalize(&target)));
            }
        }
        let target_of = |f: &Path| extends.iter().find(|(e, _)| e == f).map(|(_, t)| t);
        // The other files that extend `f`.
        let extenders = |f: &Path| {
            let f = f.to_path_buf();
            extends.iter().filter(move |(e, t)| *t == f && *e != f).map(|(e, _)| e)
        };
        let starts: Vec<PathBuf> = files
            .iter()
            .map(|f| normalize(f))
            .filter(|f| extenders(f).next().is_none() || named.contains(f))
            .collect();
        // The files some environment builds on, following each chain until it repeats.
        let mut reached: Vec<PathBuf> = Vec::new();
        for start in &starts {
            let mut at = target_of(start);
            while let Some(t) = at {
                if reached.contains(t) || t == start {
                    break;
                }
                reached.push(t.clone());
                at = target_of(t);
            }
        }
        let mut environments = Vec::new();
        let mut bases = Vec::new();
        for f in files {
            let Some(stem) = f.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let path = normalize(&f);
            if starts.contains(&path) || !reached.contains(&path) {
                environments.push(stem);
                continue;
            }
            let users = extenders(&path)
                .filter_map(|e| e.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            bases.push((stem, users));
        }
        Ok(Catalog { environments, bases })
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

/// The work tree with some files replaced by proposed text, so that an edit is loaded and
/// validated exactly as it would be once written, without writing it. Paths show as in the work
/// tree (its label is empty).
#[derive(Debug)]
pub struct Overlay {
    root: PathBuf,
    files: Vec<(PathBuf, String)>,
}

impl Overlay {
    /// `files`: absolute paths under the workspace root `root` and their proposed text.
    pub fn new(root: &Path, files: Vec<(PathBuf, String)>) -> Self {
        Self {
            root: root.to_owned(),
            files: files.into_iter().map(|(p, t)| (normalize(&p), t)).collect(),
        }
    }
}

impl Tree for Overlay {
    /// The proposed text, else the work tree's file, read as the work tree is read.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let path = normalize(path);
        match self.files.iter().find(|(p, _)| *p == path) {
            Some((_, text)) => Ok(text.clone().into_bytes()),
            None => read_inside(&self.root, &path),
        }
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect())
    }

    fn label(&self) -> &'static str {
        ""
    }
}

/// Environments and base files of a workspace.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub environments: Vec<String>,
    /// Base file stem → the environments (or bases) that extend it.
    pub bases: Vec<(String, Vec<String>)>,
}

/// The largest file ecsops reads from a workspace: manifests are a few kilobytes.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// A work-tree file of the workspace at `root`. Refuses a link that leads out of the workspace,
/// what is not a regular file, and a file over [`MAX_FILE_BYTES`]: a checked-out pull request
/// chooses all three, and what ecsops reads may be quoted in a diagnostic, so a link to
/// `~/.aws/credentials` or `/proc/self/environ` would put them in a CI log, and `/dev/zero`
/// would take all memory.
fn read_inside(root: &Path, path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, Read};
    let real = within(root, path)?;
    // Asked before opening: opening a FIFO waits for a writer.
    if !std::fs::metadata(&real)?.is_file() {
        return Err(Error::other("it is not a regular file"));
    }
    let file = std::fs::File::open(&real)?;
    let mut bytes = Vec::new();
    // Reading one byte past the limit tells a file that grew since it was opened.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::other("it is larger than the 1 MiB a workspace file may be"));
    }
    Ok(bytes)
}

/// The canonical path of `path`, which must lie in the workspace at `root` once links are
/// followed: ecsops neither reads nor writes through a link that leads out of it.
pub(crate) fn within(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let real = std::fs::canonicalize(path)?;
    if real.starts_with(std::fs::canonicalize(root)?) {
        return Ok(real);
    }
    Err(std::io::Error::other(format!(
        "it is a link that leads out of the workspace, to `{}`",
        real.display()
    )))
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
