//! The manifest JSON Schema: generated from [`crate::manifest::Manifest`] (draft-07, which Taplo
//! and other editors understand), written into a workspace as `schemas/manifest.schema.json` by
//! `ecsops schema --write` (this repository's copy included), and used to check merged
//! manifests so every schema problem of a file is reported in one run, each at the TOML key or
//! value it concerns. Its `$id` names the ecsops version, so a workspace's copy says which
//! release wrote it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::manifest::sensitive;
use crate::manifest::sites::SiteMap;
use crate::manifest::types::Manifest;

/// Path of a workspace's copy of the schema, relative to its root.
pub const SCHEMA_PATH: &str = "schemas/manifest.schema.json";

/// The schema's `$id`, naming this ecsops version. A URN: it identifies the schema without
/// promising a download location.
pub fn id() -> String {
    format!("urn:ecsops:manifest-schema:{}", env!("CARGO_PKG_VERSION"))
}

/// The schema as a JSON value.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft07()
            .with_transform(schemars::transform::RecursiveTransform(integer_range))
            .into_generator();
        let schema = generator.into_root_schema_for::<Manifest>();
        let Ok(Value::Object(generated)) = serde_json::to_value(schema) else {
            return Value::Null;
        };
        // `$id` right after `$schema`, where readers of the file look for it.
        let mut ordered = serde_json::Map::new();
        for (key, value) in generated {
            let is_schema = key == "$schema";
            ordered.insert(key, value);
            if is_schema {
                ordered.insert("$id".to_owned(), Value::from(id()));
            }
        }
        Value::Object(ordered)
    })
}

/// Gives an unsigned integer schema the upper bound of its Rust type, which schemars states only
/// as a `format`: a number too large is then a schema error at its key (in editors too), not a
/// failure to read the manifest as a whole.
fn integer_range(schema: &mut schemars::Schema) {
    let max = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => u64::from(u8::MAX),
        Some("uint16") => u64::from(u16::MAX),
        Some("uint32") => u64::from(u32::MAX),
        _ => return,
    };
    if schema.get("maximum").is_none() {
        schema.insert("maximum".to_owned(), Value::from(max));
    }
}

/// The `$id` of a schema file's text, when it has one (which ecsops wrote it).
pub fn id_of(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("$id")?.as_str().map(str::to_owned)
}

/// The schema file's text (pretty JSON with a trailing newline).
pub fn generate() -> String {
    let mut text = serde_json::to_string_pretty(schema()).unwrap_or_default();
    text.push('\n');
    text
}

fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR.get_or_init(|| jsonschema::draft7::new(schema()).ok()).as_ref()
}

/// Checks a merged manifest against the schema; pushes one diagnostic per problem and returns
/// the JSON pointers of the offending values (unknown keys, wrong types, missing keys), so the
/// rest can still be checked by the semantic rules in the same run.
pub fn check(value: &Value, sites: &SiteMap, diags: &mut Diagnostics) -> Result<(), Vec<String>> {
    let Some(validator) = validator() else {
        diags.push(Diagnostic::error(
            "schema-internal",
            "the built-in manifest schema does not compile; this is a bug in ecsops",
        ));
        return Err(vec![String::new()]);
    };
    let mut offending = Vec::new();
    for error in validator.iter_errors(value) {
        report(&error, sites, diags, &mut offending);
    }
    if offending.is_empty() { Ok(()) } else { Err(offending) }
}

/// One schema error as diagnostics, its offending pointers added to `offending`.
fn report(
    error: &jsonschema::ValidationError<'_>,
    sites: &SiteMap,
    diags: &mut Diagnostics,
    offending: &mut Vec<String>,
) {
    // An optional table is `anyOf: [T, null]`, and TOML has no null: the errors under `T` are
    // the ones to show, at their own keys, not "not valid under any of the schemas".
    if let ValidationErrorKind::AnyOf { context } = error.kind()
        && let Some(errors) = non_null(context)
    {
        for inner in errors {
            report(inner, sites, diags, offending);
        }
        return;
    }
    let pointer = error.instance_path().to_string();
    let place = toml_path(&pointer);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(&pointer);
            for key in unexpected {
                let key_pointer = crate::manifest::sites::child_pointer(&pointer, key);
                offending.push(key_pointer.clone());
                let within = if place.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in `{place}`")
                };
                let mut d =
                    Diagnostic::error("unknown-key", format!("unknown key `{key}` {within}"))
                        .at(sites.key(&key_pointer))
                        .label("unknown key");
                d = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None if !allowed.is_empty() => {
                        d.help(format!("allowed keys: {}", quote_list(&allowed)))
                    }
                    None => d,
                };
                diags.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            offending.push(crate::manifest::sites::child_pointer(&pointer, name));
            diags.push(missing_key(name, &pointer, sites));
        }
        ValidationErrorKind::Type { kind } => {
            offending.push(pointer.clone());
            let expected = match kind {
                TypeKind::Single(t) => type_name(&t.to_string()),
                // An optional value is `[T, null]`; TOML has no null, so "absent or" misleads.
                TypeKind::Multiple(ts) => ts
                    .into_iter()
                    .filter(|t| *t != jsonschema::JsonType::Null)
                    .map(|t| type_name(&t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            diags.push(
                Diagnostic::error(
                    "wrong-type",
                    format!(
                        "`{place}` must be {expected}, found {}",
                        describe(error.instance(), secret(&pointer))
                    ),
                )
                .at(sites.value(&pointer))
                .label(format!("expected {expected}")),
            );
        }
        ValidationErrorKind::Enum { options } => {
            offending.push(pointer.clone());
            let names: Vec<String> = options
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let found = error.instance().as_str().unwrap_or_default().to_owned();
            let mut d = Diagnostic::error(
                "invalid-value",
                format!("`{place}` must be one of {}", quote_list(&names)),
            )
            .at(sites.value(&pointer))
            .label("not an allowed value");
            if let Some(s) = did_you_mean(&found, names.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        }
        _ => {
            offending.push(pointer.clone());
            diags.push(
                Diagnostic::error("invalid-value", format!("`{place}`: {error}"))
                    .at(sites.value(&pointer))
                    .label("invalid value"),
            );
        }
    }
}

/// The errors of the one `anyOf` alternative that is not `null`, when there is exactly one.
fn non_null<'e>(
    alternatives: &'e [Vec<jsonschema::ValidationError<'static>>],
) -> Option<&'e [jsonschema::ValidationError<'static>]> {
    let expects_null = |errors: &[jsonschema::ValidationError<'_>]| {
        matches!(
            errors,
            [e] if matches!(e.kind(), ValidationErrorKind::Type { kind: TypeKind::Single(jsonschema::JsonType::Null) })
        )
    };
    match alternatives.iter().filter(|errors| !expects_null(errors)).collect::<Vec<_>>()[..] {
        [only] => Some(only),
        _ => None,
    }
}

/// A required `key` absent from the table at `pointer`, reported at the table's key. Shared with
/// the keys validation requires after `extends` merges, so both read the same.
pub fn missing_key(key: &str, pointer: &str, sites: &SiteMap) -> Diagnostic {
    let place = toml_path(pointer);
    let table = if place.is_empty() {
        "the manifest".to_owned()
    } else if place.ends_with(']') {
        // An entry of an array of tables: `[moved[0]]` is no TOML header anyone writes.
        format!("`{place}`")
    } else {
        format!("`[{place}]`")
    };
    Diagnostic::error("missing-key", format!("missing key `{key}` in {table}"))
        .at(sites.key(pointer))
        .label(format!("`{key}` is required here"))
        .help(format!("add `{key} = ...` to {table}"))
}

fn quote_list(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn type_name(json_type: &str) -> String {
    match json_type {
        "object" => "a table".to_owned(),
        "array" => "an array".to_owned(),
        "string" => "a string".to_owned(),
        "integer" => "an integer".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "a boolean (`true` or `false`)".to_owned(),
        "null" => "absent".to_owned(),
        other => other.to_owned(),
    }
}

/// What was found instead, named by its type alone where it is a `secret` value.
fn describe(v: &Value, secret: bool) -> String {
    match v {
        Value::Null => "nothing".to_owned(),
        Value::Bool(_) if secret => "a boolean".to_owned(),
        Value::Number(_) if secret => "a number".to_owned(),
        Value::String(_) if secret => "a string".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) if s.len() <= 40 => format!("string \"{s}\""),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

/// Whether the value at JSON `pointer` is a secret value (see [`sensitive`]).
fn secret(pointer: &str) -> bool {
    sensitive::is_secret(&segments(pointer).collect::<Vec<_>>())
}

/// The keys and indexes of a JSON pointer, unescaped.
fn segments(pointer: &str) -> impl Iterator<Item = String> {
    pointer.split('/').skip(1).map(|seg| seg.replace("~1", "/").replace("~0", "~"))
}

/// Turns `/services/web/listeners/0/port` into `services.web.listeners[0].port`.
pub fn toml_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in segments(pointer) {
        if seg.parse::<usize>().is_ok() {
            let _ = write!(out, "[{seg}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            let bare = !seg.is_empty()
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                out.push_str(&seg);
            } else {
                let _ = write!(out, "\"{seg}\"");
            }
        }
    }
    out
}

/// The keys the schema allows in the table at `pointer` (for "did you mean").
fn allowed_keys(pointer: &str) -> Vec<String> {
    let root = schema();
    let mut node = resolve(root, root);
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        let next = node
            .get("properties")
            .and_then(|p| p.get(&seg))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| node.get("items").filter(|_| seg.parse::<usize>().is_ok()));
        match next {
            Some(n) => node = resolve(root, n),
            None => return Vec::new(),
        }
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Follows `$ref`, the `anyOf: [T, null]` that optional tables become and the `allOf: [T]` that
/// tables with a default become.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..8 {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p)) else {
                return node;
            };
            node = target;
        } else if let Some([only]) = node.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
        {
            node = only;
        } else if let Some(alts) = node.get("anyOf").and_then(Value::as_array) {
            match alts.iter().find(|a| a.get("type") != Some(&Value::from("null"))) {
                Some(a) => node = a,
                None => return node,
            }
        } else {
            return node;
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_paths_read_like_toml() {
        assert_eq!(toml_path("/services/web/cpu"), "services.web.cpu");
        assert_eq!(
            toml_path("/load_balancers/default/listeners/0/port"),
            "load_balancers.default.listeners[0].port"
        );
        assert_eq!(toml_path("/environment/tags/a~1b"), "environment.tags.\"a/b\"");
    }

    #[test]
    fn the_id_names_this_version_and_is_read_back() {
        let text = generate();
        assert_eq!(
            id_of(&text).as_deref(),
            Some(concat!("urn:ecsops:manifest-schema:", env!("CARGO_PKG_VERSION")))
        );
        assert!(validator().is_some(), "the schema with its `$id` compiles");
        assert_eq!(id_of("{}"), None);
        assert_eq!(id_of("not json"), None);
    }

    #[test]
    fn allowed_keys_follow_maps_and_refs() {
        let keys = allowed_keys("/services/web");
        assert!(keys.contains(&"image".to_owned()), "{keys:?}");
        let keys = allowed_keys("/load_balancers/x/listeners/0");
        assert!(keys.contains(&"certificate".to_owned()), "{keys:?}");
        let keys = allowed_keys("");
        assert!(keys.contains(&"services".to_owned()), "{keys:?}");
    }

    #[test]
    fn allowed_keys_follow_tables_with_defaults() {
        let keys = allowed_keys("/services/web/health_check");
        assert!(keys.contains(&"path".to_owned()), "{keys:?}");
        let keys = allowed_keys("/instance_groups/default/root_volume");
        assert!(keys.contains(&"size".to_owned()), "{keys:?}");
    }
}

#[cfg(test)]
mod freshness {
    /// This repository is a workspace too: its copy of the schema must be what `ecsops schema`
    /// prints, so editors opening the examples see the schema of this source.
    #[test]
    fn the_repository_copy_is_fresh() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(super::SCHEMA_PATH);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == super::generate(),
            "{} is stale; run `cargo run -q -- schema --write` and commit it",
            super::SCHEMA_PATH
        );
    }
}
