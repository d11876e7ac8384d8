//! Semantic validation of a loaded manifest: the rules a JSON Schema cannot express (account
//! ids and roles to assume, CIDR containment and overlap, references between sections, AWS
//! naming limits, capacity, secret references, task roles, image references, listener rule
//! conditions and health checks as AWS takes them, ARNs of the environment's partition, keys
//! required only once `extends` is merged).
//! Every rule pushes diagnostics at the exact key or value concerned; none stops the others,
//! and none panics on user input.

mod accounts;
mod capacity;
mod conditions;
mod health;
mod images;
mod logs;
mod mounts;
mod moves;
mod names;
mod network;
mod partitions;
mod references;
mod required;
mod secrets;
mod task_roles;
mod user_data;

pub use capacity::is_arm64;
pub use logs::account;
pub use names::environment_name_ok;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::manifest::sites::child_pointer;
use crate::manifest::{Loaded, Manifest};
use crate::partition::Partition;

/// A sibling environment: its network, for the cross-environment CIDR overlap rule, and where
/// its log groups are, for the log group collision rule.
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub environment: String,
    pub cidr: ipnet::Ipv4Net,
    /// Environments this neighbour allows overlap with.
    pub allow_overlap_with: Vec<String>,
    /// The prefix of its log group names (`[logging] prefix`, else its default).
    pub log_prefix: String,
    pub region: Option<String>,
    /// The account its credentials reach, as far as its manifest says ([`account`]).
    pub account: Option<String>,
}

/// Checks `loaded` against every semantic rule: the whole manifest when its schema check
/// passed, else what is left without the offending values (nothing is said about the tables
/// that held them: the schema errors already did).
pub fn check(loaded: &Loaded, neighbours: &[Neighbour], diags: &mut Diagnostics) {
    let (manifest, pruned): (&Manifest, &[String]) = match (&loaded.manifest, &loaded.partial) {
        (Some(m), _) => (m, &[]),
        (None, Some((m, pruned))) => (m, pruned),
        (None, None) => return,
    };
    let mut cx = Cx { loaded, m: manifest, pruned, diags };
    // An empty file fails every rule that needs a key; one error says what it lacks.
    if loaded.value.as_object().is_some_and(serde_json::Map::is_empty) {
        cx.at_key(
            "empty-manifest",
            "",
            format!("environment `{}` sets nothing", loaded.environment),
        )
        .label("empty")
        .help("start it with `extends = \"base.toml\"` to take the settings a base file shares, or set `[environment]` (`region`, `availability_zones`) and `[network]` (`cidr`) itself; `ecsops init DIR` writes a complete workspace to copy from")
        .emit();
        return;
    }
    required::check(&mut cx);
    images::check(&mut cx);
    accounts::check(&mut cx);
    names::check(&mut cx);
    network::check(&mut cx, neighbours);
    references::check(&mut cx);
    conditions::check(&mut cx);
    health::check(&mut cx);
    mounts::check(&mut cx);
    capacity::check(&mut cx);
    user_data::check(&mut cx);
    logs::check(&mut cx, neighbours);
    secrets::check(&mut cx);
    task_roles::check(&mut cx);
    partitions::check(&mut cx);
}

/// Checks `loaded`'s `[[moved]]` against the addresses its graph `declared`: a rule of its
/// own, run once the manifest is valid and its graph built.
pub fn check_moves(
    loaded: &Loaded,
    declared: &std::collections::BTreeSet<crate::graph::Address>,
    diags: &mut Diagnostics,
) {
    let Some(manifest) = &loaded.manifest else {
        return;
    };
    let mut cx = Cx { loaded, m: manifest, pruned: &[], diags };
    moves::check(&mut cx, declared);
}

/// What every rule needs: the manifest, where its values are written, and the output list.
struct Cx<'a> {
    loaded: &'a Loaded,
    m: &'a Manifest,
    /// Values the schema check took out: no rule speaks about them or what holds them.
    pruned: &'a [String],
    diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    /// An error at the value at `pointer`.
    fn at_value(&mut self, code: &'static str, pointer: &str, message: String) -> Pending<'_> {
        let site = self.loaded.sites.value(pointer);
        self.pending(pointer, Diagnostic::error(code, message).at(site))
    }

    /// An error at the key naming the value at `pointer`.
    fn at_key(&mut self, code: &'static str, pointer: &str, message: String) -> Pending<'_> {
        let site = self.loaded.sites.key(pointer);
        self.pending(pointer, Diagnostic::error(code, message).at(site))
    }

    fn pending(&mut self, pointer: &str, d: Diagnostic) -> Pending<'_> {
        // A rule about the table that held a pruned value may only be reacting to its absence
        // (a route "without" a port the schema refused): stay silent on that whole table.
        let related = |p: &String| {
            let within = |inner: &str, outer: &str| {
                inner == outer || inner.starts_with(&format!("{outer}/"))
            };
            let table = p.rsplit_once('/').map_or("", |(parent, _)| parent);
            (!table.is_empty() && within(pointer, table)) || within(p, pointer)
        };
        Pending { silent: self.pruned.iter().any(related), diags: self.diags, d }
    }

    /// How specific the file that writes `pointer` is: its place in the `extends` chain (the
    /// environment's own file ranks highest).
    fn file_rank(&self, pointer: &str) -> usize {
        self.loaded
            .sites
            .value(pointer)
            .and_then(|site| self.loaded.chain.iter().position(|f| *f == site.file))
            .unwrap_or(0)
    }

    fn environment(&self) -> &str {
        &self.loaded.environment
    }

    /// What to say when `found` (the region in an ARN) is not the environment's: resources of
    /// other regions are out of reach of the services that use them (a load balancer's
    /// certificate, the secrets a task reads). The message says `subject` is in `found`,
    /// `user` in the environment's region. `None` too when the manifest sets no region (its
    /// own rule says so) or `found` is in another partition (`partitions` says so).
    fn other_region(&self, (subject, found, user): (&str, &str, &str)) -> Option<String> {
        let region = self.m.environment.region.as_deref()?;
        let same_partition = Partition::of(region) == Partition::of(found);
        (!region.is_empty() && region != found && same_partition)
            .then(|| format!("{subject} is in `{found}`, {user} in `{region}`"))
    }

    /// The name of the base file that writes `pointer`, when the environment's own file does
    /// not (the value is inherited through `extends`).
    fn inherited_from(&self, pointer: &str) -> Option<String> {
        let site = self.loaded.sites.value(pointer)?;
        if site.file == self.loaded.file {
            return None;
        }
        let at = self.loaded.chain.iter().position(|f| *f == site.file)?;
        let path = self.loaded.paths.get(at)?;
        Some(path.file_name()?.to_string_lossy().into_owned())
    }
}

/// A diagnostic being built; pushed when dropped by [`Pending::emit`].
struct Pending<'d> {
    diags: &'d mut Diagnostics,
    d: Diagnostic,
    /// About a value the schema check already reported.
    silent: bool,
}

impl Pending<'_> {
    fn label(mut self, label: impl Into<String>) -> Self {
        self.d = self.d.label(label);
        self
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.d = self.d.help(help);
        self
    }

    /// The value at the site may be a secret; renderers mask it.
    fn sensitive(mut self) -> Self {
        self.d = self.d.sensitive();
        self
    }

    fn warning(mut self) -> Self {
        self.d.severity = crate::diagnostic::Severity::Warning;
        self
    }

    fn emit(self) {
        if !self.silent {
            self.diags.push(self.d);
        }
    }
}

/// JSON pointer from path segments: `ptr(&["services", "web", "cpu"])`.
fn ptr(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |p, s| child_pointer(&p, s))
}

/// "did you mean" help for a name that should be one of `known`, or the list of known names.
fn suggest<'k>(name: &str, what: &str, known: impl IntoIterator<Item = &'k String>) -> String {
    let known: Vec<&str> = known.into_iter().map(String::as_str).collect();
    if let Some(s) = did_you_mean(name, known.iter().copied()) {
        return format!("did you mean `{s}`?");
    }
    if known.is_empty() {
        format!("no {what} is defined; add one or remove this reference")
    } else {
        format!(
            "defined {what}s: {}",
            known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )
    }
}
