//! Parsing a TOML file into a JSON value plus a [`SiteMap`] that remembers, for every value and
//! key, the file and byte span it came from; and the `extends` deep merge that keeps those
//! origins, so an error in a merged value points at the file and line that set it.
//!
//! Values are addressed by JSON pointer (`/services/web/cpu`), the same addressing JSON Schema
//! validators report, so schema errors map straight back to TOML source.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};
use toml_edit::{Item, Table};

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Site};

/// Where a value (and its key, for table entries) is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub key: Option<Site>,
    pub value: Site,
}

/// JSON pointer → origin, for one manifest (possibly merged from several files).
#[derive(Debug, Clone, Default)]
pub struct SiteMap {
    entries: BTreeMap<String, Origin>,
}

impl SiteMap {
    /// The site of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Option<Site> {
        self.nearest(pointer).map(|o| o.value.clone())
    }

    /// The site of the key naming the value at `pointer` (falls back to the value's site).
    pub fn key(&self, pointer: &str) -> Option<Site> {
        self.nearest(pointer).map(|o| o.key.clone().unwrap_or_else(|| o.value.clone()))
    }

    fn nearest(&self, pointer: &str) -> Option<&Origin> {
        let mut p = pointer;
        loop {
            if let Some(o) = self.entries.get(p) {
                return Some(o);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }

    /// Every pointer with its origin.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Origin)> {
        self.entries.iter().map(|(p, o)| (p.as_str(), o))
    }

    fn insert(&mut self, pointer: String, origin: Origin) {
        self.entries.insert(pointer, origin);
    }

    /// Drops the origins of `pointer` and everything below it.
    fn remove_subtree(&mut self, pointer: &str) {
        let below = format!("{pointer}/");
        self.entries.remove(pointer);
        let doomed: Vec<String> = self
            .entries
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.entries.remove(&k);
        }
    }

    fn absorb_subtree(&mut self, other: &SiteMap, pointer: &str) {
        let below = format!("{pointer}/");
        if let Some(o) = other.entries.get(pointer) {
            self.entries.insert(pointer.to_owned(), o.clone());
        }
        for (k, o) in
            other.entries.range(below.clone()..).take_while(|(k, _)| k.starts_with(&below))
        {
            self.entries.insert(k.clone(), o.clone());
        }
    }
}

/// Appends one key to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
pub fn child_pointer(parent: &str, key: &str) -> String {
    let mut p = String::with_capacity(parent.len() + key.len() + 1);
    p.push_str(parent);
    p.push('/');
    for c in key.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p
}

/// A parsed file: its value tree and where each part of it is written.
#[derive(Debug, Clone)]
pub struct Located {
    pub value: Value,
    pub sites: SiteMap,
}

/// Parses TOML text into a [`Located`] value; a syntax error becomes one diagnostic.
pub fn parse(file: FileId, text: &str) -> Result<Located, Diagnostic> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim();
        // toml_edit says only "duplicate key": name it, and say what TOML allows.
        let key = text
            .get(span.clone())
            .map(|k| k.trim().trim_matches(['[', ']']).trim())
            .filter(|k| !k.is_empty() && message == "duplicate key");
        let d = match key {
            Some(key) => Diagnostic::error(
                "toml-syntax",
                format!("invalid TOML: `{key}` is defined twice"),
            )
            .label("defined again here")
            .help(format!(
                "a key or table is defined once per file: merge this `{key}` into the first one, or remove one of them"
            )),
            None => Diagnostic::error("toml-syntax", format!("invalid TOML: {message}"))
                .label("here")
                .help("fix the TOML syntax; see https://toml.io/en/v1.0.0"),
        };
        d.at(Some(Site { file, span }))
    })?;
    let mut sites = SiteMap::default();
    let whole = Site { file, span: 0..text.len().min(1) };
    sites.insert(String::new(), Origin { key: None, value: whole.clone() });
    let value = table_to_json(doc.as_table(), file, "", &mut sites, &whole)?;
    Ok(Located { value, sites })
}

fn site_or(file: FileId, span: Option<std::ops::Range<usize>>, fallback: &Site) -> Site {
    span.map_or_else(|| fallback.clone(), |span| Site { file, span })
}

fn table_to_json(
    table: &Table,
    file: FileId,
    pointer: &str,
    sites: &mut SiteMap,
    parent: &Site,
) -> Result<Value, Diagnostic> {
    let mut map = Map::new();
    for (name, _) in table {
        let Some((key, item)) = table.get_key_value(name) else {
            continue;
        };
        let child = child_pointer(pointer, name);
        let key_site = site_or(file, key.span(), parent);
        let value_site = site_or(file, item.span(), &key_site);
        sites.insert(
            child.clone(),
            Origin { key: Some(key_site.clone()), value: value_site.clone() },
        );
        let v = item_to_json(item, file, &child, sites, &value_site)?;
        map.insert(name.to_owned(), v);
    }
    Ok(Value::Object(map))
}

fn item_to_json(
    item: &Item,
    file: FileId,
    pointer: &str,
    sites: &mut SiteMap,
    here: &Site,
) -> Result<Value, Diagnostic> {
    match item {
        Item::None => Ok(Value::Null),
        Item::Value(v) => value_to_json(v, file, pointer, sites, here),
        Item::Table(t) => table_to_json(t, file, pointer, sites, here),
        Item::ArrayOfTables(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, t) in a.iter().enumerate() {
                let child = child_pointer(pointer, &i.to_string());
                let site = site_or(file, t.span(), here);
                sites.insert(child.clone(), Origin { key: None, value: site.clone() });
                out.push(table_to_json(t, file, &child, sites, &site)?);
            }
            Ok(Value::Array(out))
        }
    }
}

fn value_to_json(
    v: &toml_edit::Value,
    file: FileId,
    pointer: &str,
    sites: &mut SiteMap,
    here: &Site,
) -> Result<Value, Diagnostic> {
    use toml_edit::Value as T;
    Ok(match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::Number((*i.value()).into()),
        T::Float(f) => Number::from_f64(*f.value()).map(Value::Number).ok_or_else(|| {
            Diagnostic::error("toml-value", "`nan` and `inf` are not valid here")
                .at(Some(here.clone()))
                .help("use a finite number")
        })?,
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, elem) in a.iter().enumerate() {
                let child = child_pointer(pointer, &i.to_string());
                let site = site_or(file, elem.span(), here);
                sites.insert(child.clone(), Origin { key: None, value: site.clone() });
                out.push(value_to_json(elem, file, &child, sites, &site)?);
            }
            Value::Array(out)
        }
        T::InlineTable(t) => {
            let mut map = Map::new();
            for (name, _) in t {
                let Some((key, elem)) = t.get_key_value(name) else {
                    continue;
                };
                let child = child_pointer(pointer, name);
                let key_site = site_or(file, key.span(), here);
                let value_site = site_or(file, elem.span(), &key_site);
                sites.insert(
                    child.clone(),
                    Origin { key: Some(key_site), value: value_site.clone() },
                );
                map.insert(name.to_owned(), item_to_json(elem, file, &child, sites, &value_site)?);
            }
            Value::Object(map)
        }
    })
}

/// Deep-merges `child` over `base`: tables merge key by key, anything else in the child wins.
/// Origins follow the values, so merged values still point at the file that set them.
pub fn merge(base: Located, child: Located) -> Located {
    let Located { mut value, mut sites } = base;
    merge_into(&mut value, &mut sites, child.value, &child.sites, "");
    // The root origin is the child's: the environment file is the one the user named.
    sites.absorb_root(&child.sites);
    Located { value, sites }
}

impl SiteMap {
    fn absorb_root(&mut self, other: &SiteMap) {
        if let Some(o) = other.entries.get("") {
            self.entries.insert(String::new(), o.clone());
        }
    }
}

fn merge_into(
    base: &mut Value,
    sites: &mut SiteMap,
    child: Value,
    child_sites: &SiteMap,
    pointer: &str,
) {
    match (base, child) {
        (Value::Object(b), Value::Object(c)) => {
            for (k, v) in c {
                let p = child_pointer(pointer, &k);
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        // Keep the base's key site only if the child does not name the table.
                        if let Some(o) = child_sites.entries.get(&p) {
                            sites.insert(p.clone(), o.clone());
                        }
                        merge_into(existing, sites, v, child_sites, &p);
                    }
                    _ => {
                        sites.remove_subtree(&p);
                        sites.absorb_subtree(child_sites, &p);
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, c) => {
            sites.remove_subtree(pointer);
            sites.absorb_subtree(child_sites, pointer);
            *b = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    fn located(sources: &mut Sources, name: &str, text: &str) -> (FileId, Located) {
        let id = sources.add(name, text.to_owned());
        (id, parse(id, text).expect("valid toml"))
    }

    #[test]
    fn sites_point_at_keys_and_values() {
        let mut s = Sources::default();
        let (id, l) = located(&mut s, "a.toml", "[services.web]\ncpu = 256\n");
        let site = l.sites.value("/services/web/cpu").expect("site");
        assert_eq!(site.file, id);
        assert_eq!(s.get(id).line_col(site.span.start), (2, 7));
        let key = l.sites.key("/services/web/cpu").expect("site");
        assert_eq!(s.get(id).line_col(key.span.start), (2, 1));
        // A pointer below a scalar falls back to the scalar.
        assert_eq!(l.sites.value("/services/web/cpu/x"), Some(site));
    }

    #[test]
    fn merge_keeps_origin_of_each_value() {
        let mut s = Sources::default();
        let (base_id, base) = located(
            &mut s,
            "base.toml",
            "[cluster]\nname = \"x\"\n[network]\nnat = \"single\"\nallow_overlap_with = [\"a\"]\n",
        );
        let (child_id, child) = located(
            &mut s,
            "acc.toml",
            "[network]\ncidr = \"10.0.0.0/16\"\nallow_overlap_with = []\n",
        );
        let m = merge(base, child);
        assert_eq!(m.value["cluster"]["name"], "x");
        assert_eq!(m.value["network"]["nat"], "single");
        assert_eq!(m.value["network"]["cidr"], "10.0.0.0/16");
        assert_eq!(m.value["network"]["allow_overlap_with"], serde_json::json!([]));
        assert_eq!(m.sites.value("/cluster/name").map(|s| s.file), Some(base_id));
        assert_eq!(m.sites.value("/network/cidr").map(|s| s.file), Some(child_id));
        // The replaced array's elements must not keep the base's origins.
        assert_eq!(m.sites.value("/network/allow_overlap_with/0").map(|s| s.file), Some(child_id));
    }

    #[test]
    fn pointer_escapes_slashes() {
        assert_eq!(child_pointer("/a", "b/c~d"), "/a/b~1c~0d");
    }

    #[test]
    fn syntax_error_has_a_site() {
        let mut s = Sources::default();
        let id = s.add("bad.toml", "[a\n".to_owned());
        let err = parse(id, "[a\n").expect_err("invalid");
        assert_eq!(err.code, "toml-syntax");
        assert!(err.site.is_some());
    }
}
