//! Container image references, `[registry[:port]/]path[:tag][@sha256:<64 hex>]`, checked the way
//! Docker's reference grammar reads them, so that `set-image` refuses a reference ECS would
//! only reject at deploy time (`nginx:::`), and commit messages can say what changed briefly.

use std::fmt;

/// A parsed image reference; the parts borrow from the text given to [`ImageRef::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// `registry.example.com:5000`, when the first path part names a host.
    pub registry: Option<&'a str>,
    /// `nginx/nginx`.
    pub path: &'a str,
    pub tag: Option<&'a str>,
    /// `sha256:<64 hex>`.
    pub digest: Option<&'a str>,
}

/// Why a text is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImageRefError(String);

impl<'a> ImageRef<'a> {
    pub fn parse(text: &'a str) -> Result<Self, ImageRefError> {
        let bad = |why: String| Err(ImageRefError(why));
        if text.is_empty() {
            return bad("the reference is empty".to_owned());
        }
        if text.len() > 255 + 128 + 72 {
            return bad("the reference is too long".to_owned());
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(d) = digest {
            let hex = d.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return bad(format!(
                    "the digest `{d}` is not `sha256:` followed by 64 lowercase hex digits"
                ));
            }
        }
        // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return bad(format!(
                "the tag `{t}` is not 1 to 128 letters, digits, `_`, `.` or `-` (not starting with `.` or `-`)"
            ));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first), path)
            }
            _ => (None, name),
        };
        if let Some(r) = registry
            && !valid_registry(r)
        {
            return bad(format!("the registry `{r}` is not a host name with an optional `:port`"));
        }
        if path.is_empty() {
            return bad("the repository path is empty".to_owned());
        }
        if let Some(part) = path.split('/').find(|p| !valid_path_part(p)) {
            return bad(format!(
                "the repository path part `{part}` is not lowercase letters and digits separated by `.`, `_`, `__` or `-`"
            ));
        }
        Ok(Self { registry, path, tag, digest })
    }

    /// Registry and path: what stays the same when only the version moves.
    pub fn repository(&self) -> String {
        match self.registry {
            Some(r) => format!("{r}/{}", self.path),
            None => self.path.to_owned(),
        }
    }

    /// The last path part (`nginx` of `public.ecr.aws/nginx/nginx`).
    pub fn short_name(&self) -> &'a str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// Tag and digest as written after the name (`1.27-alpine`, `@sha256:0123456789ab`, the
    /// digest abbreviated as git abbreviates commits).
    pub fn version(&self) -> String {
        let mut out = self.tag.unwrap_or_default().to_owned();
        if let Some(d) = self.digest {
            out.push('@');
            out.push_str(d.get(..7 + 12).unwrap_or(d));
        }
        if out.is_empty() {
            out.push_str("latest");
        }
        out
    }
}

impl fmt::Display for ImageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(t) = self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `old → new` as briefly as it stays clear: `nginx:1.27-alpine → 1.28-alpine` when only the
/// version moves, both references in full when the repository changes too.
pub fn describe_change(old: &str, new: &str) -> String {
    match (ImageRef::parse(old), ImageRef::parse(new)) {
        (Ok(o), Ok(n)) if o.repository() == n.repository() => {
            format!("{}:{} → {}", o.short_name(), o.version(), n.version())
        }
        _ => format!("{old} → {new}"),
    }
}

fn valid_tag(t: &str) -> bool {
    let mut bytes = t.bytes();
    t.len() <= 128
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_path_part(p: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = p.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: one `.`, one or two `_`, or any run of `-`, always between alphanumerics.
    let mut run = String::new();
    for &b in bytes {
        if alnum(b) {
            if !(run.is_empty()
                || run == "."
                || run == "_"
                || run == "__"
                || run.bytes().all(|c| c == b'-'))
            {
                return false;
            }
            run.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            run.push(char::from(b));
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        let r = ImageRef::parse("public.ecr.aws/nginx/nginx:1.28-alpine").expect("valid");
        assert_eq!(r.registry, Some("public.ecr.aws"));
        assert_eq!(r.path, "nginx/nginx");
        assert_eq!(r.tag, Some("1.28-alpine"));
        assert_eq!(r.digest, None);
        let r = ImageRef::parse("nginx").expect("valid");
        assert_eq!((r.registry, r.path, r.tag), (None, "nginx", None));
        let r = ImageRef::parse("localhost:5000/team/app_x__y.z-w:v1.0").expect("valid");
        assert_eq!(r.registry, Some("localhost:5000"));
        assert_eq!(r.path, "team/app_x__y.z-w");
        assert_eq!(r.tag, Some("v1.0"));
        let digest = format!("sha256:{}", "ab".repeat(32));
        let text = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:2.4@{digest}");
        let r = ImageRef::parse(&text).expect("valid");
        assert_eq!(r.digest, Some(digest.as_str()));
        assert_eq!(r.to_string(), text);
        // Docker Hub's two-part names: `library` is a path, not a registry.
        assert_eq!(ImageRef::parse("library/httpd:2.4").expect("valid").registry, None);
    }

    #[test]
    fn refuses_malformed_references_saying_which_part() {
        for (text, part) in [
            ("nginx:::", "tag"),
            ("nginx:", "tag"),
            ("", "empty"),
            ("Nginx:1", "path part `Nginx`"),
            ("nginx:1@sha256:abc", "digest"),
            ("nginx@md5:0123", "digest"),
            ("reg.io:port/nginx", "registry"),
            ("reg.io/", "empty"),
            ("a//b", "path part ``"),
            ("a/-b", "path part `-b`"),
            ("a/b..c", "path part `b..c`"),
            ("a/b___c", "path part `b___c`"),
            ("nginx:-x", "tag"),
            ("nginx latest", "path part"),
        ] {
            let err = ImageRef::parse(text).expect_err(text).to_string();
            assert!(err.contains(part), "{text}: {err}");
        }
    }

    #[test]
    fn changes_read_briefly_when_only_the_version_moves() {
        assert_eq!(
            describe_change(
                "public.ecr.aws/nginx/nginx:1.27-alpine",
                "public.ecr.aws/nginx/nginx:1.28-alpine"
            ),
            "nginx:1.27-alpine → 1.28-alpine"
        );
        assert_eq!(describe_change("nginx:1", "httpd:2"), "nginx:1 → httpd:2");
        let d = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            describe_change("app:1", &format!("app:1@{d}")),
            "app:1 → 1@sha256:000000000000"
        );
    }
}
