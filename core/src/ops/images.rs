//! `ecsops set-image ENV SERVICE=IMAGE...` and `ecsops promote FROM TO [SERVICE...]`: change
//! which images an environment runs by editing its own manifest file (never a base it extends),
//! so git, not a deploy script, says what runs.
//!
//! Contract: every request is checked (the service or system container exists and the
//! environment runs it, the image reference is well formed) and the edited text is validated
//! as `ecsops validate` would, for every environment whose `extends` chain holds the file, all
//! before anything is written. A refusal writes nothing. With `commit`, the file must match
//! HEAD beforehand, and the commit holds that file only.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::diagnostic::{Diagnostics, did_you_mean};
use crate::gitops::{Commit, Repo};
use crate::manifest::edit::{self, EditError, Workload};
use crate::manifest::image::{ImageRef, describe_change};
use crate::manifest::{Manifest, load_environment};
use crate::source::Sources;
use crate::workspace::{Overlay, Workspace};

use super::{Invalid, OpsError};

/// Why an image change was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no environment of this workspace has a service or system container `{name}`")]
    Unknown {
        name: String,
        environment: String,
        /// What `environment` runs, for the hint.
        known: Vec<String>,
        suggestion: Option<String>,
    },
    #[error("`{environment}` does not run `{name}`")]
    NotRun {
        environment: String,
        name: String,
        /// The environments that do.
        runs_in: Vec<String>,
        file: String,
    },
    #[error("`{image}` (for `{name}`) is not an image reference: {reason}")]
    BadImage { name: String, image: String, reason: String },
    #[error("`{name}` is given twice")]
    Repeated { name: String },
    #[error("cannot promote `{0}` to itself")]
    SameEnvironment(String),
    #[error("{} ({}); nothing was written", if *.already { "the manifests are invalid before the edit" } else { "the edit would leave the manifests invalid" }, super::plural(.invalid.diagnostics.error_count(), "error"))]
    WouldNotValidate {
        file: String,
        invalid: Box<Invalid>,
        /// The manifests fail the same way without the edit: fix them first.
        already: bool,
    },
    #[error("cannot edit `{file}`: {source}")]
    Edit {
        file: String,
        #[source]
        source: EditError,
    },
    #[error("cannot write `{file}`: {source}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{file}` has changes that are not committed; `--commit` would commit them too")]
    Uncommitted { file: String },
}

/// What to do with the edit.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditOptions {
    /// Compute and show the change, write nothing.
    pub dry_run: bool,
    /// Commit the edited file (only it).
    pub commit: bool,
}

/// One image that changes.
#[derive(Debug, Clone, Serialize)]
pub struct ImageChange {
    pub name: String,
    pub kind: Workload,
    pub from: String,
    pub to: String,
    /// The file the old image was inherited from, when the edit adds an override for it.
    pub inherited_from: Option<String>,
}

/// What an image edit did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct ImageUpdate {
    pub environment: String,
    /// `promote`: the environment the images come from.
    pub source: Option<String>,
    /// The edited file as users see it (`environments/acceptance.toml`).
    pub file: String,
    pub before: String,
    pub after: String,
    /// Empty: the environment already runs these images; nothing was written.
    pub changes: Vec<ImageChange>,
    /// Images asked for that are already there.
    pub unchanged: Vec<String>,
    pub written: bool,
    pub message: String,
    pub commit: Option<Commit>,
    /// Other environments the edit changes too: they extend the edited file and do not set
    /// these images themselves.
    pub also: Vec<String>,
}

/// `set-image`: `requests` are `(service or system container, image)`.
pub fn set_image(
    ws: &Workspace,
    environment: &str,
    requests: &[(String, String)],
    options: EditOptions,
) -> Result<ImageUpdate, OpsError> {
    ws.require_environment(environment)?;
    let manifest = merged(ws, environment)?;
    let mut seen = Vec::new();
    for (name, image) in requests {
        if seen.contains(&name) {
            return Err(ImageError::Repeated { name: name.clone() }.into());
        }
        seen.push(name);
        workload(ws, environment, &manifest, name)?;
        if let Err(e) = ImageRef::parse(image) {
            return Err(ImageError::BadImage {
                name: name.clone(),
                image: image.clone(),
                reason: e.to_string(),
            }
            .into());
        }
    }
    edit_images(ws, environment, None, &manifest, requests, options)
}

/// `promote`: the images `from` runs, for `names` (default: every service and system container
/// both run), into `to`'s file.
pub fn promote(
    ws: &Workspace,
    from: &str,
    to: &str,
    names: &[String],
    options: EditOptions,
) -> Result<ImageUpdate, OpsError> {
    ws.require_environment(from)?;
    ws.require_environment(to)?;
    if from == to {
        return Err(ImageError::SameEnvironment(from.to_owned()).into());
    }
    let source = merged(ws, from)?;
    let target = merged(ws, to)?;
    let names: Vec<String> = if names.is_empty() {
        images(&source)
            .into_iter()
            .filter(|(n, _, _)| image_of(&target, n).is_some())
            .map(|(n, _, _)| n)
            .collect()
    } else {
        let mut checked: Vec<String> = Vec::new();
        for n in names {
            if checked.contains(n) {
                return Err(ImageError::Repeated { name: n.clone() }.into());
            }
            workload(ws, from, &source, n)?;
            workload(ws, to, &target, n)?;
            checked.push(n.clone());
        }
        checked
    };
    let requests: Vec<(String, String)> = names
        .into_iter()
        .filter_map(|n| {
            // A source without an image has nothing to promote; its validation says so.
            let (_, image) = image_of(&source, &n)?;
            Some((n, image?.to_owned()))
        })
        .collect();
    edit_images(ws, to, Some(from), &target, &requests, options)
}

/// The environment's merged manifest; its own errors stop the command (fix them first).
fn merged(ws: &Workspace, environment: &str) -> Result<Manifest, OpsError> {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let loaded = load_environment(ws, environment, &mut sources, &mut diagnostics);
    match loaded.and_then(|l| l.manifest) {
        Some(m) if !diagnostics.has_errors() => Ok(m),
        _ => Err(OpsError::Invalid(Box::new(Invalid { sources, diagnostics }))),
    }
}

/// Every service and system container with its image, services first. The image is `None`
/// only where validation will say it is missing.
fn images(m: &Manifest) -> Vec<(String, Workload, Option<&str>)> {
    let services =
        m.services.iter().map(|(n, s)| (n.clone(), Workload::Service, s.image.as_deref()));
    let system = m
        .system_containers
        .iter()
        .map(|(n, s)| (n.clone(), Workload::SystemContainer, s.image.as_deref()));
    services.chain(system).collect()
}

fn image_of<'m>(m: &'m Manifest, name: &str) -> Option<(Workload, Option<&'m str>)> {
    if let Some(s) = m.services.get(name) {
        return Some((Workload::Service, s.image.as_deref()));
    }
    m.system_containers.get(name).map(|s| (Workload::SystemContainer, s.image.as_deref()))
}

/// The kind of `name` in `environment`, or why it has none there.
fn workload(
    ws: &Workspace,
    environment: &str,
    manifest: &Manifest,
    name: &str,
) -> Result<Workload, OpsError> {
    if let Some((kind, _)) = image_of(manifest, name) {
        return Ok(kind);
    }
    let catalog = ws.catalog()?;
    let runs_in: Vec<String> = catalog
        .environments
        .iter()
        .filter(|e| *e != environment)
        .filter(|e| merged(ws, e).is_ok_and(|m| image_of(&m, name).is_some()))
        .cloned()
        .collect();
    let file = ws.display_path(&ws.manifest_path(environment)).display().to_string();
    if runs_in.is_empty() {
        let known: Vec<String> = images(manifest).into_iter().map(|(n, _, _)| n).collect();
        let suggestion = did_you_mean(name, known.iter().map(String::as_str)).map(str::to_owned);
        return Err(ImageError::Unknown {
            name: name.to_owned(),
            environment: environment.to_owned(),
            known,
            suggestion,
        }
        .into());
    }
    Err(ImageError::NotRun {
        environment: environment.to_owned(),
        name: name.to_owned(),
        runs_in,
        file,
    }
    .into())
}

/// Edits `environment`'s own file, validates the result, writes and commits it.
fn edit_images(
    ws: &Workspace,
    environment: &str,
    source: Option<&str>,
    manifest: &Manifest,
    requests: &[(String, String)],
    options: EditOptions,
) -> Result<ImageUpdate, OpsError> {
    let path = ws.manifest_path(environment);
    let file = ws.display_path(&path).display().to_string();
    let before =
        ws.read(&path).map_err(|source| ImageError::Write { file: file.clone(), source })?;
    let mut after = before.clone();
    let mut changes = Vec::new();
    let mut unchanged = Vec::new();
    for (name, image) in requests {
        let Some((kind, old)) = image_of(manifest, name) else {
            continue;
        };
        if old == Some(image.as_str()) {
            unchanged.push(name.clone());
            continue;
        }
        let edited = edit::set_image(&after, kind, name, image)
            .map_err(|source| ImageError::Edit { file: file.clone(), source })?;
        after = edited.text;
        changes.push(ImageChange {
            name: name.clone(),
            kind,
            from: old.unwrap_or_default().to_owned(),
            to: image.clone(),
            inherited_from: (!edited.replaced)
                .then(|| inherited_from(ws, environment, kind, name))
                .flatten(),
        });
    }
    let also =
        if changes.is_empty() { Vec::new() } else { check(ws, environment, &path, &file, &after)? };
    let mut update = ImageUpdate {
        environment: environment.to_owned(),
        source: source.map(str::to_owned),
        message: message(environment, source, &changes, &also, &file),
        file: file.clone(),
        before,
        after,
        changes,
        unchanged,
        written: false,
        commit: None,
        also,
    };
    if update.changes.is_empty() || options.dry_run {
        return Ok(update);
    }
    let repo = if options.commit {
        let repo = Repo::require(ws.root())?;
        if !repo.is_unchanged(&path)? {
            return Err(ImageError::Uncommitted { file }.into());
        }
        Some(repo)
    } else {
        None
    };
    std::fs::write(&path, &update.after)
        .map_err(|source| ImageError::Write { file: file.clone(), source })?;
    update.written = true;
    if let Some(repo) = repo {
        update.commit = Some(repo.commit_file(&path, &update.message)?);
    }
    Ok(update)
}

/// The file that sets the image `environment` inherits, as users see it.
fn inherited_from(ws: &Workspace, environment: &str, kind: Workload, name: &str) -> Option<String> {
    let mut sources = Sources::default();
    let loaded = load_environment(ws, environment, &mut sources, &mut Diagnostics::default())?;
    let pointer = crate::manifest::sites::child_pointer(
        &crate::manifest::sites::child_pointer(&format!("/{}", kind.table()), name),
        "image",
    );
    let site = loaded.sites.value(&pointer)?;
    Some(sources.get(site.file).display.display().to_string())
}

/// Validates every environment whose `extends` chain holds `path`, with the edited text in
/// place of the file, as `ecsops validate` would once it is written; returns those besides
/// `environment` whose merged manifests the edit changes.
fn check(
    ws: &Workspace,
    environment: &str,
    path: &std::path::Path,
    file: &str,
    text: &str,
) -> Result<Vec<String>, OpsError> {
    let overlay = ws
        .with_tree(Arc::new(Overlay::new(ws.root(), vec![(path.to_path_buf(), text.to_owned())])));
    let target = crate::workspace::normalize(path);
    let merged = |w: &Workspace, e: &str| {
        load_environment(w, e, &mut Sources::default(), &mut Diagnostics::default())
    };
    // Each environment whose chain holds the file (or that does not load), with its merged
    // manifest as the edit makes it.
    let edited: Vec<(String, Option<serde_json::Value>)> = overlay
        .catalog()?
        .environments
        .into_iter()
        .filter_map(|e| match merged(&overlay, &e) {
            None => Some((e, None)),
            Some(l) => (l.paths.iter())
                .any(|p| crate::workspace::normalize(p) == target)
                .then(|| (e, Some(l.value))),
        })
        .collect();
    let affected: Vec<String> = edited.iter().map(|(e, _)| e.clone()).collect();
    let report = super::validate(&overlay, &affected)?;
    if report.is_valid() {
        return Ok(edited
            .into_iter()
            .filter(|(e, after)| e != environment && merged(ws, e).map(|l| l.value) != *after)
            .map(|(e, _)| e)
            .collect());
    }
    let already = !super::validate(ws, &affected)?.is_valid();
    Err(ImageError::WouldNotValidate {
        already,
        file: file.to_owned(),
        invalid: Box::new(Invalid { sources: report.sources, diagnostics: report.diagnostics }),
    }
    .into())
}

/// The commit message: a subject naming every change briefly
/// (`deploy acceptance: web nginx:1.27-alpine → 1.28-alpine, api httpd:2.4 → 2.5`), then one
/// line per change with both references in full.
fn message(
    environment: &str,
    source: Option<&str>,
    changes: &[ImageChange],
    also: &[String],
    file: &str,
) -> String {
    let brief: Vec<String> =
        changes.iter().map(|c| format!("{} {}", c.name, describe_change(&c.from, &c.to))).collect();
    let from = source.map(|s| format!(" from {s}")).unwrap_or_default();
    let mut out = format!("deploy {environment}{from}: {}\n\n", brief.join(", "));
    for c in changes {
        _ = writeln!(out, "{}: {} → {}", c.name, c.from, c.to);
    }
    if !also.is_empty() {
        _ = writeln!(out, "\nAlso changes {}: {}.", also.join(", "), extending(also, file));
    }
    out
}

/// Why the edit of `file` changes the environments `also`: `it extends FILE` or `they extend
/// FILE`.
pub fn extending(also: &[String], file: &str) -> String {
    let whose = if also.len() == 1 { "it extends" } else { "they extend" };
    format!("{whose} {file}")
}

impl From<ImageError> for OpsError {
    fn from(e: ImageError) -> Self {
        Self::Image(Box::new(e))
    }
}
