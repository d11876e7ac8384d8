//! The one place errors and diagnostics become text: miette source snippets with the offending
//! line, a caret, a label and a `help:` line, on stderr.

use std::fmt::Write as _;

use ecsops_core::diagnostic::{Diagnostic, Diagnostics, Severity};
use ecsops_core::gitops::GitError;
use ecsops_core::ops::OpsError;
use ecsops_core::ops::apply::LockLeft;
use ecsops_core::ops::images::ImageError;
use ecsops_core::ops::init::InitError;
use ecsops_core::source::Sources;
use ecsops_core::state::{LockInfo, StateError};
use ecsops_core::workspace::{ENVIRONMENTS_DIR, WorkspaceError};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};

use crate::term;

/// Errors a command returns to `main`.
#[derive(Debug)]
pub enum CliError {
    Ops(OpsError),
    Io(String),
}

impl From<OpsError> for CliError {
    fn from(e: OpsError) -> Self {
        Self::Ops(e)
    }
}

impl From<WorkspaceError> for CliError {
    fn from(e: WorkspaceError) -> Self {
        Self::Ops(OpsError::Workspace(e))
    }
}

fn handler() -> GraphicalReportHandler {
    let theme = if term::stderr_color() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme).with_context_lines(1)
}

/// Prints every diagnostic with its source snippet.
pub fn diagnostics(sources: &Sources, diags: &Diagnostics) {
    let handler = handler();
    for d in diags.iter() {
        anstream::eprint!("{}", render_diagnostic(&handler, sources, diags, d));
    }
}

/// The file's text with every range that may hold a secret masked: those the loader found and
/// the sites of sensitive diagnostics, so snippets (context lines included) never show one.
fn masked_text(
    sources: &Sources,
    diags: &Diagnostics,
    file: ecsops_core::source::FileId,
) -> String {
    let source = sources.get(file);
    let text = &source.text;
    let extra: Vec<std::ops::Range<usize>> = diags
        .iter()
        .filter(|d| d.sensitive)
        .filter_map(|d| d.site.as_ref().filter(|s| s.file == file))
        .map(|site| {
            let end = site.span.end.min(text.len());
            let start = site.span.start.min(end);
            // Keep the quotes so the line still reads as TOML.
            match text.get(start..end) {
                Some(s) if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
                    start + 1..end - 1
                }
                _ => start..end,
            }
        })
        .collect();
    source.masked(&extra)
}

/// A file whose `file:line:column` header counts the column in characters, as the JSON output
/// does (`SourceFile::line_col`): miette counts bytes, so the two would name different columns
/// on a line with an `é` before the error. Counted on the unmasked text, since a masked secret
/// turns each of its bytes into a `*`.
struct CharColumn {
    source: NamedSource<String>,
    /// The label's byte offset and its 0-based column in characters.
    at: (usize, usize),
}

impl SourceCode for CharColumn {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let read = self.source.read_span(span, before, after)?;
        // Only the header's read starts at the label with no context; snippets start at a line.
        if before > 0 || span.offset() != self.at.0 {
            return Ok(read);
        }
        Ok(Box::new(MietteSpanContents::new_named(
            read.name().unwrap_or_default().to_owned(),
            read.data(),
            *read.span(),
            read.line(),
            self.at.1,
            read.line_count(),
        )))
    }
}

fn render_diagnostic(
    handler: &GraphicalReportHandler,
    sources: &Sources,
    diags: &Diagnostics,
    d: &Diagnostic,
) -> String {
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let mut md = MietteDiagnostic::new(d.message.clone()).with_severity(severity).with_code(d.code);
    if let Some(help) = &d.help {
        md = md.with_help(help.clone());
    }
    let mut out = String::new();
    if let Some(site) = &d.site {
        let file = sources.get(site.file);
        let span = site.span.start..site.span.end.max(site.span.start);
        md = md.with_label(LabeledSpan::new_with_span(d.label.clone(), span));
        let text = masked_text(sources, diags, site.file);
        let (_, column) = file.line_col(site.span.start);
        let report = miette::Report::new(md).with_source_code(CharColumn {
            source: NamedSource::new(file.display.display().to_string(), text),
            at: (site.span.start, column - 1),
        });
        let _ = handler.render_report(&mut out, report.as_ref());
    } else {
        let report = miette::Report::new(md);
        let _ = handler.render_report(&mut out, report.as_ref());
    }
    out
}

/// The closing line after diagnostics.
pub fn summary(errors: usize) {
    let s = if errors == 1 { "" } else { "s" };
    anstream::eprintln!("error: {errors} error{s} found; fix them and run `ecsops validate` again");
}

/// Warns of a lock a command could not release once it ended, and how to remove it.
pub fn lock_left(environment: &str, left: &LockLeft) {
    anstream::eprintln!(
        "warning: releasing the lock failed: {}; if `ecsops lock {environment}` says it is held, run `ecsops unlock {environment} {}`",
        left.reason,
        left.id
    );
}

/// Prints an error that stopped a command, with what to do next; `plans`: the command offers
/// `--offline`.
pub fn error(err: &CliError, plans: bool) {
    match err {
        CliError::Ops(e) => ops_error(e, plans),
        CliError::Io(e) => anstream::eprintln!("error: {e}"),
    }
}

fn ops_error(err: &OpsError, plans: bool) {
    match err {
        OpsError::Invalid(invalid) => {
            diagnostics(&invalid.sources, &invalid.diagnostics);
            summary(invalid.diagnostics.error_count());
        }
        OpsError::Workspace(WorkspaceError::UnknownEnvironment { name, known }) => {
            anstream::eprintln!("error: there is no environment `{name}` in this workspace");
            did_you_mean(name, known);
            if known.is_empty() {
                anstream::eprintln!("help: add `environments/{name}.toml`");
            } else {
                anstream::eprintln!("help: environments here: {}", known.join(", "));
            }
        }
        OpsError::Workspace(e @ WorkspaceError::NoEnvironmentsDir(dir)) => {
            anstream::eprintln!("error: {e}");
            let help = if dir.file_name().is_some_and(|n| n == ENVIRONMENTS_DIR) {
                let parent = dir.parent().unwrap_or(dir);
                format!(
                    "that is the environments directory itself: point `-C` at the directory holding it (`-C {}`)",
                    parent.display()
                )
            } else {
                format!(
                    "point `-C` at a workspace, or make one there with `ecsops init {}`",
                    dir.display()
                )
            };
            anstream::eprintln!("help: {help}");
        }
        OpsError::Workspace(e @ WorkspaceError::NotADirectory(file)) => {
            anstream::eprintln!("error: {e}");
            // Most often a manifest: `-C environments/production.toml`.
            match file.ancestors().find(|d| d.join(ENVIRONMENTS_DIR).is_dir()) {
                Some(root) => anstream::eprintln!(
                    "help: `-C` takes the workspace directory, the one holding `environments/`: `-C {}`",
                    root.display()
                ),
                None => anstream::eprintln!(
                    "help: `-C` takes the workspace directory, the one holding `environments/`"
                ),
            }
        }
        OpsError::Workspace(e @ (WorkspaceError::NotFound(_) | WorkspaceError::NoDirectory(_))) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: run ecsops inside a workspace, or point at one with `-C DIR`; `ecsops init` makes one"
            );
        }
        OpsError::Statefile(StateError::LockHeld { environment, holder }) => {
            anstream::eprintln!("error: the state of `{environment}` is locked");
            anstream::eprint!("{}", lock_fields(holder));
            anstream::eprintln!(
                "help: wait for it to finish (`--lock-timeout 5m`), or, if its holder is gone, run `ecsops unlock {environment} {}`",
                holder.id
            );
        }
        OpsError::Statefile(e @ StateError::Credentials { .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: give credentials that can read the state (`aws sts get-caller-identity`, `aws sso login`, AWS_PROFILE, or `[state] role_arn` / `profile`); to review a change without credentials, `ecsops diff ENV --rev BASE` plans from git alone"
            );
        }
        OpsError::Statefile(e @ StateError::Conflict { environment, .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: someone else wrote the state; run `ecsops diff {environment}` again and re-apply"
            );
        }
        OpsError::Statefile(e @ StateError::Unconditional { .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: keep the state in Amazon S3, or in a compatible store that honours `If-None-Match` on PUT"
            );
        }
        OpsError::Statefile(e @ StateError::Corrupt { environment, location, .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!("help: {}", restore_help(environment, location));
        }
        OpsError::Statefile(e @ StateError::WrongEnvironment { environment, given }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: push a state of `{environment}` (`ecsops state history {environment}` lists its kept versions); `--force` does not override this: the document records `{given}`'s resources, and the next apply of `{environment}` would replace them"
            );
        }
        OpsError::Statefile(e @ StateError::StaleSerial { environment, given, stored }) => {
            anstream::eprintln!("error: {e}");
            let help = if given == stored {
                format!(
                    "the document has the stored state's serial: an edited `ecsops state pull {environment}`, or a copy of the stored state; to write it as the next serial, push it again with `--force`"
                )
            } else {
                format!(
                    "the stored state is newer (`ecsops state pull {environment}` prints it, `ecsops state history {environment}` lists the kept versions); to put this older document back on purpose, push it again with `--force` (it is written with the next serial)"
                )
            };
            anstream::eprintln!("help: {help}");
        }
        OpsError::Statefile(e @ StateError::LineageMismatch { environment, .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: the document comes from another state history of `{environment}` (a lost state's backup, or one started afresh); compare it with `ecsops state pull {environment}`, and to replace the stored state with it, lineage included, push it again with `--force`"
            );
        }
        OpsError::Statefile(e @ StateError::WrongLockId { environment, .. }) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!("help: `ecsops lock {environment}` shows the holder and its id");
        }
        OpsError::Protected(refusal) => {
            anstream::eprintln!("error: {refusal}");
            anstream::eprintln!("help: {}", refusal.help());
            anstream::eprintln!("nothing was changed");
        }
        e @ OpsError::Rollback { help, .. } => {
            anstream::eprintln!("error: {e}");
            if !help.is_empty() {
                anstream::eprintln!("help: {help}");
            }
        }
        e @ OpsError::RevisionInvalid { invalid, .. } => {
            diagnostics(&invalid.sources, &invalid.diagnostics);
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: name a revision whose manifests validate (`ecsops history` lists the applied ones), or fix the manifests there"
            );
        }
        e @ OpsError::StalePlan { environment, .. } => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: make a new plan with `ecsops diff {environment} --out FILE`, review it, and apply that"
            );
        }
        e @ OpsError::UnknownService { name, known, .. } => {
            anstream::eprintln!("error: {e}");
            did_you_mean(name, known);
            anstream::eprintln!(
                "help: {}",
                known_names(
                    known,
                    "its services and system containers are",
                    "the manifest has no services or system containers"
                )
            );
        }
        e @ OpsError::AmiParameter { .. } => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: set `ami` to `recommended` or `recommended-arm64` (the ECS-optimized Amazon Linux 2023 AMIs AWS publishes under `/aws/service/ecs/optimized-ami/`) or to an AMI id like `ami-0123456789abcdef0`"
            );
            anstream::eprintln!("nothing was planned or changed");
        }
        e @ OpsError::AmiArchitecture { wanted, .. } => {
            anstream::eprintln!("error: {e}");
            let recommended = if wanted == "arm64" { "recommended-arm64" } else { "recommended" };
            anstream::eprintln!(
                "help: set `ami` to an {wanted} AMI (`{recommended}` is the ECS-optimized one), or choose an instance type of the AMI's architecture"
            );
            anstream::eprintln!("nothing was planned or changed");
        }
        e @ OpsError::UnknownGroup { group, known, .. } => {
            anstream::eprintln!("error: {e}");
            did_you_mean(group, known);
            anstream::eprintln!(
                "help: {}",
                known_names(
                    known,
                    "its instance groups are",
                    "it has no instance groups; apply one first"
                )
            );
        }
        e @ OpsError::NotConfirmed { .. } => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!("the lock was released; nothing was changed");
        }
        OpsError::Git(e @ GitError::NoCommit(_)) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: name a branch, a tag or a commit of this repository (`git log --oneline --all` lists them; a repository with no commit yet has none: commit the workspace first); another's branch is `origin/NAME` once fetched (`git fetch`)"
            );
        }
        OpsError::Git(e @ GitError::NotARepository(_)) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!(
                "help: revisions are read from git: run ecsops in a clone of the workspace's repository (`-C DIR`), or make one (`git init`, then commit the workspace)"
            );
        }
        OpsError::Provider(e) => {
            anstream::eprintln!("error: {e}");
            let offline =
                if plans { ", or plan against the recorded state with `--offline`" } else { "" };
            match e.aws_code() {
                Some("DispatchFailure" | "TimeoutError" | "ConstructionFailure") => {
                    anstream::eprintln!(
                        "help: ecsops could not reach AWS; check the credentials (AWS_PROFILE, `aws sso login`) and the network{offline}"
                    );
                }
                Some(code) if code.contains("AccessDenied") || code.contains("Unauthorized") => {
                    anstream::eprintln!(
                        "help: the credentials in use may not do this; grant the permission{offline}"
                    );
                }
                _ => {}
            }
        }
        OpsError::Account(e) => {
            anstream::eprintln!("error: {e}");
            anstream::eprintln!("help: {}", e.help());
        }
        OpsError::Image(e) => image_error(e),
        OpsError::Init(e) => {
            anstream::eprintln!("error: {e}");
            let help = match &**e {
                InitError::Exists { .. } => {
                    "pass `--force` to overwrite these files, or name another directory".to_owned()
                }
                InitError::InvalidName(name) => {
                    format!("for example `--env {}`", suggested_name(name))
                }
                InitError::BaseName => {
                    "choose another name, for example `--env staging`".to_owned()
                }
                InitError::Repeated(_) => {
                    "name each environment once, for example `--env staging --env production`"
                        .to_owned()
                }
                InitError::TooMany(_) => {
                    "make a workspace per group of environments, or give the others their own `cidr` by hand"
                        .to_owned()
                }
                InitError::NotADirectory(_) => {
                    "name a directory to make the workspace in; a missing one is made".to_owned()
                }
            };
            anstream::eprintln!("help: {help}");
            anstream::eprintln!("nothing was written");
        }
        OpsError::LockLeft { error, environment, left } => {
            match error.as_deref() {
                // Its usual words say the lock was released.
                Some(e @ OpsError::NotConfirmed { .. }) => {
                    anstream::eprintln!("error: {e}");
                    anstream::eprintln!("nothing was changed");
                }
                Some(e) => ops_error(e, plans),
                None => {
                    anstream::eprintln!("error: {err}");
                    anstream::eprintln!(
                        "help: if `ecsops lock {environment}` says it is held, run `ecsops unlock {environment} {}`",
                        left.id
                    );
                    return;
                }
            }
            lock_left(environment, left);
        }
        e => anstream::eprintln!("error: {e}"),
    }
}

/// `name` made into an environment name: lowercase, other characters as `-`, at most 20
/// characters (`staging` when nothing is left).
fn suggested_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(20);
    let out = out.trim_end_matches('-');
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() && out != "base" => out.to_owned(),
        _ => "staging".to_owned(),
    }
}

/// How to put a kept version back in place of a state that does not parse: the versions are
/// files on the local backend and objects on S3, which the AWS CLI fetches.
fn restore_help(environment: &str, location: &str) -> String {
    let listed = format!("`ecsops state history {environment}` lists the kept versions");
    let restore = format!("restore it with `ecsops state push {environment} state.json --force`");
    if location.starts_with("s3://") {
        format!(
            "{listed} (S3 objects); fetch one with `aws s3 cp S3_URL state.json`, then {restore} (the bucket's versions of `{location}` hold every step of every apply as well)"
        )
    } else {
        format!(
            "{listed} (each a file); restore one with `ecsops state push {environment} FILE --force`"
        )
    }
}

/// `set-image` and `promote` refusals: what is wrong, where, and what to do instead.
fn image_error(e: &ImageError) {
    if let ImageError::WouldNotValidate { invalid, .. } = e {
        diagnostics(&invalid.sources, &invalid.diagnostics);
    }
    anstream::eprintln!("error: {e}");
    let help = match e {
        ImageError::Unknown {
            environment,
            known,
            suggestion,
            ..
        } => {
            let runs = format!("`{environment}` runs {}", known.join(", "));
            match suggestion {
                Some(s) => format!("did you mean `{s}`? {runs}"),
                None => runs,
            }
        }
        ImageError::NotRun {
            name,
            runs_in,
            file,
            ..
        } => format!(
            "`{name}` runs in {}; define it in `{file}` first, or set the image there",
            runs_in.join(", ")
        ),
        ImageError::BadImage { .. } => "write `[registry[:port]/]path[:tag][@sha256:<64 hex>]`, for example `public.ecr.aws/nginx/nginx:1.28-alpine`".to_owned(),
        ImageError::Repeated { .. } => "give each service once".to_owned(),
        ImageError::SameEnvironment(_) => {
            "name two environments: `ecsops promote acceptance production`".to_owned()
        }
        ImageError::WouldNotValidate {
            already: true,
            file,
            ..
        } => format!(
            "fix what the snippets point at (`ecsops validate` shows it without the edit of `{file}`), then run again"
        ),
        ImageError::WouldNotValidate { file, .. } => format!(
            "the snippets show `{file}` as edited; fix what they point at, then run again"
        ),
        ImageError::Edit { file, .. } => format!("set the image in `{file}` by hand"),
        ImageError::Write { .. } => String::new(),
        ImageError::Uncommitted { file } => format!(
            "commit or stash the changes of `{file}` first, or run without `--commit` and commit by hand"
        ),
    };
    if !help.is_empty() {
        anstream::eprintln!("help: {help}");
    }
    if !matches!(e, ImageError::WouldNotValidate { .. }) {
        anstream::eprintln!("nothing was written");
    }
}

/// Every field of a lock, one per line.
pub fn lock_fields(holder: &LockInfo) -> String {
    let mut fields = format!(
        "  lock id:   {}\n  operation: {}\n  who:       {}\n  since:     {}\n  ecsops:    {}\n  commit:    {}\n",
        holder.id,
        holder.operation,
        holder.who,
        holder.when,
        holder.version,
        holder.commit.as_deref().unwrap_or("-")
    );
    if let (Some(account), Some(caller)) = (&holder.account, &holder.caller) {
        let _ = writeln!(fields, "  account:   {account} as {caller}");
    }
    fields
}

/// What waiting for a held lock shows: a countdown on a terminal; elsewhere (CI logs) one line
/// when the wait begins, so that a pause is never silent.
#[derive(Debug, Default)]
pub struct LockWait {
    announced: bool,
}

impl LockWait {
    pub fn tick(&mut self, holder: &LockInfo, remaining: std::time::Duration) {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            anstream::eprint!(
                "\rwaiting for the lock held by {} ({}), {}s left ",
                holder.who,
                holder.operation,
                remaining.as_secs()
            );
        } else if !self.announced {
            self.announced = true;
            anstream::eprintln!(
                "waiting up to {}s for the lock held by {} ({}, since {})",
                remaining.as_secs_f64().ceil(),
                holder.who,
                holder.operation,
                holder.when
            );
        }
    }
}

/// What the S3 state bucket lacks (or what `--fix-bucket` turned on).
pub fn bucket_check(check: &ecsops_core::ops::state::BucketCheck) {
    let f = &check.found;
    let missing: Vec<&str> = [
        (!f.versioning).then_some("versioning (keeps every state version)"),
        (!f.encryption).then_some("default encryption"),
        (!f.public_access_blocked).then_some("public access block"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return;
    }
    if check.fixed {
        anstream::eprintln!("turned on for bucket `{}`: {}", check.bucket, missing.join(", "));
    } else {
        anstream::eprintln!(
            "warning: the state bucket `{}` lacks {}",
            check.bucket,
            missing.join(", ")
        );
        anstream::eprintln!("help: run with `--fix-bucket` to turn them on");
    }
}

/// A `help:` line with the name among `known` that `word` looks like a typo of, if any.
fn did_you_mean(word: &str, known: &[String]) {
    if let Some(meant) =
        ecsops_core::diagnostic::did_you_mean(word, known.iter().map(String::as_str))
    {
        anstream::eprintln!("help: did you mean `{meant}`?");
    }
}

/// `did you mean \`x\`? `, to begin a `help:` line, when a recorded name (an address, an
/// output) is close to `word`; nothing otherwise.
pub fn closest_prefix<'a>(word: &str, names: impl IntoIterator<Item = &'a str> + Clone) -> String {
    ecsops_core::diagnostic::closest_name(word, names)
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default()
}

/// The names a user may pick from, after `lead`; `none` when there are none.
fn known_names(known: &[String], lead: &str, none: &str) -> String {
    if known.is_empty() {
        return none.to_owned();
    }
    let names: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    format!("{lead} {}", names.join(", "))
}
