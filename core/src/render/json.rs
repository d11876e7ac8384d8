//! Plan as JSON for machines.

use crate::plan::Plan;

/// Renders `plan` as pretty JSON in the versioned plan format.
pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}
