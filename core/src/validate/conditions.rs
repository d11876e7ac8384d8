//! Listener rule conditions as AWS reads them: a route's path patterns and host names, each
//! checked against the characters and length the Elastic Load Balancing API accepts, and the
//! rule as a whole against its limits (values and wildcards per rule). AWS refuses all of these,
//! but only when the apply creates the rule, halfway through.

use super::{Cx, ptr};
use crate::manifest::Route;

/// The most characters AWS takes in one path pattern or host condition value.
const MAX_VALUE_LEN: usize = 128;
/// Condition values (paths and hosts together) AWS takes in one rule.
const MAX_VALUES_PER_RULE: usize = 5;
/// Wildcard characters (`*`, `?`) AWS takes in one rule, over all its values.
const MAX_WILDCARDS_PER_RULE: usize = 5;

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, svc) in &m.services {
        let Some(route) = &svc.route else { continue };
        let route_ptr = ptr(&["services", name, "route"]);
        for (i, path) in route.paths.iter().enumerate() {
            path_pattern(cx, &format!("{route_ptr}/paths/{i}"), path);
        }
        for (i, host) in route.hosts.iter().enumerate() {
            host_name(cx, &format!("{route_ptr}/hosts/{i}"), host);
        }
        limits(cx, &route_ptr, route);
    }
}

/// The characters of `value` that `allowed` refuses, each once, in order.
fn refused(value: &str, allowed: impl Fn(char) -> bool) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in value.chars() {
        if !allowed(c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// `` `ü`, ` ` `` for a message (a space is named, not shown as a blank).
fn listed(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| match c {
            ' ' => "a space".to_owned(),
            '`' => "a backtick".to_owned(),
            c if c.is_control() => format!("U+{:04X}", u32::from(*c)),
            c => format!("`{c}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `value` with every run of characters `allowed` refuses replaced by one `*`.
fn wildcarded(value: &str, allowed: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if allowed(c) {
            out.push(c);
        } else if !out.ends_with('*') {
            out.push('*');
        }
    }
    out
}

/// Path pattern characters: letters, digits, `_ - . $ / ~ " ' @ : +`, `&` (which the API also
/// takes written `&amp;`) and the wildcards `*` and `?`.
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?".contains(c)
}

fn path_pattern(cx: &mut Cx<'_>, pointer: &str, path: &str) {
    if !path.starts_with('/') {
        cx.at_value(
            "invalid-path",
            pointer,
            format!("path pattern `{path}` does not start with `/`"),
        )
        .label("missing leading `/`")
        .help(format!("did you mean `/{path}`?"))
        .emit();
    }
    let bad = refused(&path.replace("&amp;", "&"), path_char);
    if !bad.is_empty() {
        let fixed = wildcarded(&path.replace("&amp;", "&"), path_char);
        cx.at_value(
            "invalid-path",
            pointer,
            format!(
                "path pattern `{path}` has {}, which AWS does not allow in a path pattern",
                listed(&bad)
            ),
        )
        .label("character AWS refuses")
        .help(format!(
            "path patterns take letters, digits, `_ - . $ / ~ \" ' @ : + &` and the wildcards \
             `*` (any characters) and `?` (one character); match the others with a wildcard, \
             as in `{fixed}`"
        ))
        .emit();
    }
    too_long(cx, pointer, "path pattern", path);
}

/// Host condition characters: letters, digits, `-`, `_`, `.` and the wildcards `*` and `?`.
fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.*?".contains(c)
}

fn host_name(cx: &mut Cx<'_>, pointer: &str, host: &str) {
    let bad = refused(host, host_char);
    if bad.is_empty() {
        // AWS: at least one `.`, and only letters (or digits) after the last one; wildcards
        // there are left to AWS rather than risk a false alarm.
        let top = host.rsplit_once('.').map(|(_, top)| top);
        let top_ok = top.is_some_and(|t| {
            !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "*?".contains(c))
        });
        if !top_ok {
            cx.at_value(
                "invalid-host",
                pointer,
                format!("host `{host}` is not a domain name with a top-level part"),
            )
            .label("AWS wants a `.` followed by letters")
            .help("write the full name, as in `api.example.com` or `*.example.com`")
            .emit();
        }
    } else {
        let help = if host.contains("://") || host.contains('/') {
            "a host condition is a name only: no scheme, port or path, as in `api.example.com`"
        } else if bad == [':'] {
            "a host condition matches the name without the port: remove `:` and the port"
        } else {
            "host names take letters, digits, `-`, `_`, `.` and the wildcards `*` and `?`; \
             an internationalized name is written in its ASCII (`xn--`) form"
        };
        cx.at_value(
            "invalid-host",
            pointer,
            format!(
                "host `{host}` has {}, which AWS does not allow in a host condition",
                listed(&bad)
            ),
        )
        .label("character AWS refuses")
        .help(help)
        .emit();
    }
    too_long(cx, pointer, "host condition", host);
}

fn too_long(cx: &mut Cx<'_>, pointer: &str, what: &str, value: &str) {
    let len = value.chars().count();
    if len > MAX_VALUE_LEN {
        cx.at_value(
            "condition-too-long",
            pointer,
            format!("this {what} is {len} characters; AWS allows {MAX_VALUE_LEN}"),
        )
        .label("too long")
        .help("shorten it; a wildcard (`*`) can stand for a long part")
        .emit();
    }
}

/// AWS counts a rule's paths and hosts together against one limit, and their wildcards
/// against another; each is reported at the value that goes over.
fn limits(cx: &mut Cx<'_>, route_ptr: &str, route: &Route) {
    let values: Vec<(String, &String)> = (route.paths.iter().enumerate())
        .map(|(i, p)| (format!("{route_ptr}/paths/{i}"), p))
        .chain((route.hosts.iter().enumerate()).map(|(i, h)| (format!("{route_ptr}/hosts/{i}"), h)))
        .collect();
    if let Some((pointer, _)) = values.get(MAX_VALUES_PER_RULE) {
        cx.at_value(
            "too-many-conditions",
            pointer,
            format!(
                "this route has {} path and host values; AWS allows {MAX_VALUES_PER_RULE} in one rule",
                values.len()
            ),
        )
        .label(format!("value {} of the rule", MAX_VALUES_PER_RULE + 1))
        .help("cover several paths with one wildcard pattern (`/api/*`), or split the route across services")
        .emit();
    }
    let wildcards = |v: &str| v.chars().filter(|c| matches!(c, '*' | '?')).count();
    let total: usize = values.iter().map(|(_, v)| wildcards(v)).sum();
    let mut seen = 0;
    let over = values.iter().find(|(_, v)| {
        seen += wildcards(v);
        seen > MAX_WILDCARDS_PER_RULE
    });
    if let Some((pointer, _)) = over {
        cx.at_value(
            "too-many-wildcards",
            pointer,
            format!(
                "this route's paths and hosts use {total} wildcards; AWS allows {MAX_WILDCARDS_PER_RULE} in one rule"
            ),
        )
        .label(format!("wildcard {} of the rule is here", MAX_WILDCARDS_PER_RULE + 1))
        .help("use fewer `*` and `?`: one broader pattern can replace several")
        .emit();
    }
}

#[cfg(test)]
mod tests {
    use super::{host_char, path_char, refused, wildcarded};

    #[test]
    fn path_characters_are_awss() {
        assert!(refused("/api/v1.2/$x~y\"'@:+&*?_-", path_char).is_empty());
        assert_eq!(refused("/ü/a b/ü", path_char), vec!['ü', ' ']);
        assert_eq!(refused("/a;b%20", path_char), vec![';', '%']);
        assert_eq!(wildcarded("/a b/ü/c", path_char), "/a*b/*/c");
    }

    #[test]
    fn host_characters_are_awss() {
        assert!(refused("*.api-1_x.example.com?", host_char).is_empty());
        assert_eq!(refused("exa mple.com:80", host_char), vec![' ', ':']);
    }
}
