//! Plan as Markdown for pull-request comments.

use crate::plan::Plan;

/// Renders `plan` as CommonMark with `<details>` sections.
pub fn render(plan: &Plan) -> String {
    format!("{}\n", plan.summary.line())
}
