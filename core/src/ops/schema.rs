//! `ecsops schema [--write]`: the manifest schema of this ecsops, and the workspace's copy of it
//! that the manifests' `#:schema` lines point editors at. `validate` warns when that copy is not
//! this ecsops' schema (after an upgrade), since editors would then check other rules.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::schema::{SCHEMA_PATH, generate, id, id_of};
use crate::workspace::{Workspace, within};

use super::OpsError;

/// What `schema --write` did.
#[derive(Debug)]
pub struct SchemaWritten {
    /// Relative to the workspace root.
    pub path: PathBuf,
    /// False when the copy already was this schema (nothing was written).
    pub changed: bool,
}

/// Writes this ecsops' schema to the workspace's `schemas/manifest.schema.json`.
pub fn write_schema(ws: &Workspace) -> Result<SchemaWritten, OpsError> {
    let changed = write_file(ws.root(), Path::new(SCHEMA_PATH), &generate())?;
    Ok(SchemaWritten { path: PathBuf::from(SCHEMA_PATH), changed })
}

/// Writes `text` to `root/relative` (making its directory) unless it already holds exactly
/// that; says whether it wrote. The file is replaced by a rename, so a link in its place is
/// replaced too, never written through: a cloned repository could otherwise point
/// `schemas/manifest.schema.json` at any file of the user's.
pub(super) fn write_file(root: &Path, relative: &Path, text: &str) -> Result<bool, OpsError> {
    let path = root.join(relative);
    let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link && std::fs::read_to_string(&path).is_ok_and(|current| current == text) {
        return Ok(false);
    }
    let failed = |source| OpsError::Write { path: relative.display().to_string(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let write = || {
        // A linked directory (`schemas -> /elsewhere`) would take the file out of it.
        within(root, path.parent().unwrap_or(root))?;
        // A new file, never one already there (a link planted at the temporary name).
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        std::fs::rename(&tmp, &path)
    };
    write()
        .inspect_err(|e| {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(&tmp);
            }
        })
        .map_err(failed)?;
    Ok(true)
}

/// A warning when the workspace has a copy of the schema that is not this ecsops' (none when
/// it has no copy: editors are then not pointed at one).
pub(super) fn stale_copy(ws: &Workspace) -> Option<Diagnostic> {
    let text = ws.read(&ws.root().join(SCHEMA_PATH)).ok()?;
    if text == generate() {
        return None;
    }
    let version = env!("CARGO_PKG_VERSION");
    let written_by = match id_of(&text) {
        Some(other) if other != id() => format!(" (its `$id` is `{other}`)"),
        _ => String::new(),
    };
    Some(
        Diagnostic::warning(
            "schema-outdated",
            format!(
                "`{SCHEMA_PATH}` is not the manifest schema of this ecsops {version}{written_by}"
            ),
        )
        .help(
            "run `ecsops schema --write`, so editors check the manifests as `ecsops validate` does",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_twice_writes_once_and_a_changed_copy_is_noticed() {
        let dir = tempfile::tempdir().expect("dir");
        let ws = Workspace::at(dir.path());
        assert!(stale_copy(&ws).is_none(), "no copy, nothing to say");
        assert!(write_schema(&ws).expect("write").changed);
        assert!(!write_schema(&ws).expect("write").changed);
        assert!(stale_copy(&ws).is_none());
        let path = dir.path().join(SCHEMA_PATH);
        let old = generate().replace(&id(), "urn:ecsops:manifest-schema:0.0.1");
        std::fs::write(&path, old).expect("write old copy");
        let warning = stale_copy(&ws).expect("a warning");
        assert_eq!(warning.code, "schema-outdated");
        assert!(warning.message.contains("0.0.1"), "{}", warning.message);
    }
}
