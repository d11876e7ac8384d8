//! Resource addresses: `vpc`, `subnet.public[eu-west-1a]`, `service[web]`. An address names a
//! resource across runs; it changes only through an explicit `[[moved]]`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// `kind` or `kind.name`.
    pub fn new(base: &str) -> Self {
        Self(base.to_owned())
    }

    /// `base[key]`.
    pub fn keyed(base: &str, key: &str) -> Self {
        Self(format!("{base}[{key}]"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of `base[key]`, and the base.
    pub fn key(&self) -> Option<(&str, &str)> {
        let open = self.0.find('[')?;
        let key = self.0[open + 1..].strip_suffix(']')?;
        Some((&self.0[..open], key))
    }

    /// Whether the text has the shape of an address: `word(.word)?([key])?` where a key is any
    /// text without brackets.
    pub fn is_well_formed(s: &str) -> bool {
        let (head, key) = match s.find('[') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let word = |w: &str| {
            !w.is_empty()
                && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let head_ok = match head.split_once('.') {
            Some((k, n)) => word(k) && word(n),
            None => word(head),
        };
        let key_ok = key.is_none_or(|k| {
            k.len() > 2 && k.ends_with(']') && !k[1..k.len() - 1].contains(['[', ']'])
        });
        head_ok && key_ok
    }
}

impl From<&str> for Address {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_addresses() {
        for ok in [
            "vpc",
            "subnet.public[eu-west-1a]",
            "listener[default:80]",
            "log_group.host[ecs-agent]",
        ] {
            assert!(Address::is_well_formed(ok), "{ok}");
        }
        for bad in ["", "Vpc", "a.b.c", "x[", "x[]", "x[a]]", "service[web]x"] {
            assert!(!Address::is_well_formed(bad), "{bad}");
        }
    }
}
