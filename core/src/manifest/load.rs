//! Loading one environment: read its file, follow `extends` (relative paths, cycles and missing
//! files are diagnostics), deep-merge, check the merged document against the JSON Schema, and
//! deserialize it into [`Manifest`]. Every problem becomes a [`Diagnostic`] with a site.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::manifest::sites::{self, Located, SiteMap};
use crate::manifest::types::Manifest;
use crate::schema;
use crate::source::{FileId, Sources};
use crate::workspace::{Workspace, normalize};

/// How deep `extends` chains may go; deeper is almost certainly a mistake.
const MAX_EXTENDS_DEPTH: usize = 16;

/// One environment's manifest after merging, with where every value came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub environment: String,
    /// The environment's own file (the end of the `extends` chain).
    pub file: FileId,
    /// Files in merge order: the deepest base first, the environment file last.
    pub chain: Vec<FileId>,
    /// The same files' paths, as read (absolute when the workspace root is).
    pub paths: Vec<PathBuf>,
    pub value: serde_json::Value,
    pub sites: SiteMap,
    /// The typed manifest; `None` when the document does not match the schema.
    pub manifest: Option<Manifest>,
    /// When it does not: the manifest without the offending values (when what is left reads as
    /// one), for the semantic rules to check in the same run, and the pointers taken out.
    pub partial: Option<(Manifest, Vec<String>)>,
}

/// Why `extends = "<ext>"` (resolved to `base`) names no file of the workspace: an absolute
/// path, or one that leaves the workspace root. Either would read a file that a git revision
/// of the workspace does not hold, so `diff --rev`, `review` and rollbacks could not rebuild
/// the environment as it was; refused, though the file may well exist on this machine.
fn outside(ws: &Workspace, ext: &str, base: &Path) -> Option<Diagnostic> {
    if Path::new(ext).has_root() {
        return Some(
            Diagnostic::error("extends-outside", format!("`extends` path `{ext}` is absolute"))
                .label("absolute path")
                .help(
                    "write the base's path relative to this file (for example `base.toml`): an \
                     absolute path names a file of this machine, which a git revision does not carry",
                ),
        );
    }
    let norm = normalize(base);
    let root = normalize(ws.root());
    let escapes = norm.components().any(|c| c == std::path::Component::ParentDir);
    if escapes || !norm.starts_with(&root) {
        return Some(
            Diagnostic::error(
                "extends-outside",
                format!("base file `{ext}` is outside the workspace"),
            )
            .label("leaves the workspace")
            .help(
                "move the base into the workspace (for example `environments/base.toml`) and \
                 extend it by a path relative to this file: every git revision must carry the \
                 files its environments are built from",
            ),
        );
    }
    None
}

/// File `file`, which is not UTF-8, pointed at its first byte that is not: offset `at`, where
/// its loaded text has U+FFFD in the byte's place.
fn not_utf8(file: FileId, at: usize, shown: &Path) -> Diagnostic {
    Diagnostic::error("manifest-not-utf8", format!("`{}` is not UTF-8 text", shown.display()))
        .at(Some(crate::source::Site {
            file,
            span: at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
        }))
        .label("this byte is not UTF-8")
        .help("TOML files are UTF-8: save it as UTF-8 (an editor's \"save with encoding\")")
}

/// Loads and schema-checks the environment `env`. Diagnostics go to `diags`; returns `None` when
/// nothing could be loaded at all (unreadable file, syntax error, broken `extends`).
pub fn load_environment(
    ws: &Workspace,
    env: &str,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<Loaded> {
    let path = ws.manifest_path(env);
    let mut chain: Vec<(FileId, Located)> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut next = Some((path, None::<crate::source::Site>));
    while let Some((path, referrer)) = next.take() {
        let norm = normalize(&path);
        if seen.contains(&norm) {
            let cycle: Vec<String> = seen
                .iter()
                .chain(std::iter::once(&norm))
                .map(|p| ws.display_path(p).display().to_string())
                .collect();
            diags.push(
                Diagnostic::error(
                    "extends-cycle",
                    format!("`extends` forms a cycle: {}", cycle.join(" → ")),
                )
                .at(referrer)
                .label("this `extends` closes the cycle")
                .help("remove `extends` from one of these files"),
            );
            return None;
        }
        if seen.len() >= MAX_EXTENDS_DEPTH {
            diags.push(
                Diagnostic::error(
                    "extends-depth",
                    format!("`extends` chain is deeper than {MAX_EXTENDS_DEPTH} files"),
                )
                .at(referrer)
                .help("flatten the chain of base files"),
            );
            return None;
        }
        seen.push(norm);
        let (text, not_text) = match ws.read_lossy(&path) {
            Ok(t) => t,
            Err(e) => {
                let shown = ws.display_path(&path);
                let d = if referrer.is_some() {
                    Diagnostic::error(
                        "extends-missing",
                        format!("cannot read base file `{}`: {e}", shown.display()),
                    )
                    .label("extended here")
                    .help("fix the path; it is relative to the file that says `extends`")
                } else {
                    Diagnostic::error(
                        "manifest-unreadable",
                        format!("cannot read `{}`: {e}", shown.display()),
                    )
                };
                diags.push(d.at(referrer));
                return None;
            }
        };
        let mut secrets = super::sensitive::spans(&text);
        let shown = ws.display_path(&path);
        let id = sources.add(shown.clone(), text);
        // The lexical ones first: the diagnostics below, a syntax error's included, may quote
        // the file before it parses.
        sources.mark_sensitive(id, secrets.clone());
        if let Some(at) = not_text {
            diags.push(not_utf8(id, at, &shown));
            return None;
        }
        let located = match sites::parse(id, &sources.get(id).text) {
            Ok(l) => l,
            Err(d) => {
                diags.push(d);
                return None;
            }
        };
        secrets.extend(super::sensitive::parsed(&sources.get(id).text, &located.sites));
        sources.mark_sensitive(id, secrets);
        match located.value.get("extends") {
            None => {}
            Some(serde_json::Value::String(ext)) => {
                let base = path.parent().unwrap_or(Path::new(".")).join(ext);
                let site = located.sites.value("/extends");
                if let Some(d) = outside(ws, ext, &base) {
                    diags.push(d.at(site));
                    return None;
                }
                next = Some((base, site));
            }
            Some(_) => {
                diags.push(
                    Diagnostic::error("extends-type", "`extends` must be a string")
                        .at(located.sites.value("/extends"))
                        .help("write the base file's path, for example `extends = \"base.toml\"`"),
                );
                return None;
            }
        }
        chain.push((id, located));
        paths.push(path);
    }
    // The chain was read child first; merge from the deepest base upward.
    chain.reverse();
    paths.reverse();
    let file = chain.last().map(|(id, _)| *id)?;
    let files: Vec<FileId> = chain.iter().map(|(id, _)| *id).collect();
    let mut iter = chain.into_iter().map(|(_, l)| l);
    let first = iter.next()?;
    let mut merged = iter.fold(first, sites::merge);
    // `extends` is consumed by loading; the merged document has none left.
    if let Some(obj) = merged.value.as_object_mut() {
        obj.remove("extends");
    }
    let (manifest, partial) = match schema::check(&merged.value, &merged.sites, diags) {
        Ok(()) => match serde_path_to_error::deserialize::<_, Manifest>(merged.value.clone()) {
            Ok(m) => (Some(m), None),
            Err(e) => {
                // What the schema let through but the types refuse (a float where a whole number
                // goes): said at the value, like a schema error.
                let pointer = pointer_of(e.path());
                let reason = e.inner().to_string();
                let mut d =
                    Diagnostic::error("manifest-shape", format!("`{}`: {reason}", e.path()))
                        .at(merged.sites.value(&pointer))
                        .label("invalid value");
                if reason.starts_with("invalid type: floating point") {
                    d = d.help("write a whole number, without a decimal point or exponent");
                }
                diags.push(d);
                (None, None)
            }
        },
        Err(offending) => {
            let mut pruned = merged.value.clone();
            for p in &offending {
                remove(&mut pruned, p);
            }
            let partial = serde_json::from_value::<Manifest>(pruned).ok().map(|m| (m, offending));
            (None, partial)
        }
    };
    Some(Loaded {
        environment: env.to_owned(),
        file,
        chain: files,
        paths,
        value: merged.value,
        sites: merged.sites,
        manifest,
        partial,
    })
}

/// The JSON pointer of a deserializer's `path` (`services.web.cpu` → `/services/web/cpu`).
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter().fold(String::new(), |pointer, segment| match segment {
        Segment::Seq { index } => sites::child_pointer(&pointer, &index.to_string()),
        Segment::Map { key } => sites::child_pointer(&pointer, key),
        Segment::Enum { variant } => sites::child_pointer(&pointer, variant),
        Segment::Unknown => pointer,
    })
}

/// Takes the value at JSON `pointer` out of `value` (array items are set to null: removing them
/// would shift the pointers of the others).
fn remove(value: &mut serde_json::Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(serde_json::Value::Object(map)) => {
            map.remove(&key);
        }
        Some(serde_json::Value::Array(items)) => {
            if let Some(item) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = serde_json::Value::Null;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use super::*;
    use crate::workspace::Tree;

    /// A tree holding `environments/acc.toml`, which cannot be read (no fixture can make a file
    /// unreadable when the tests run as root).
    #[derive(Debug)]
    struct Unreadable;

    impl Tree for Unreadable {
        fn read(&self, _: &Path) -> std::io::Result<Vec<u8>> {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        }
        fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
            Ok(vec![dir.join("acc.toml")])
        }
        fn label(&self) -> &'static str {
            "test"
        }
    }

    #[test]
    fn a_manifest_that_cannot_be_read_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("environments")).expect("environments");
        let ws = Workspace::discover(Some(dir.path()), dir.path())
            .expect("workspace")
            .with_tree(Arc::new(Unreadable));
        let mut sources = Sources::default();
        let mut diags = Diagnostics::default();
        assert!(load_environment(&ws, "acc", &mut sources, &mut diags).is_none());
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["manifest-unreadable"]);
    }
}
