//! Semantic validation of a loaded manifest: the rules a JSON Schema cannot express (CIDR
//! containment and overlap, references between sections, AWS naming limits, ...). Every rule
//! pushes diagnostics; none stops the others.

use crate::diagnostic::Diagnostics;
use crate::manifest::Loaded;

/// A sibling environment's network, for the cross-environment CIDR overlap rule.
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub environment: String,
    pub cidr: ipnet::Ipv4Net,
    /// Environments this neighbour allows overlap with.
    pub allow_overlap_with: Vec<String>,
}

/// Checks `loaded` (whose schema check passed) against every semantic rule.
pub fn check(_loaded: &Loaded, _neighbours: &[Neighbour], _diags: &mut Diagnostics) {}
