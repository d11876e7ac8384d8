//! What the tests of the JSON renderers share: the field names a document serializes and the
//! ones its documentation's tables list (rows starting with `` | `field` ``), so that a test can
//! keep the two in step.

use std::collections::BTreeSet;

use serde_json::Value;

/// Every object key in `v`, not looking inside the values of `user_data` keys (values the user
/// chose, whose keys are not fields of the format).
pub fn field_names(v: &Value, user_data: &[&str], out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                if !user_data.contains(&k.as_str()) {
                    field_names(v, user_data, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| field_names(i, user_data, out)),
        _ => {}
    }
}

/// The text of `docs/<name>`.
pub fn documentation(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name),
    )
    .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

/// The field names the tables of `text` list.
pub fn table_fields(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}
