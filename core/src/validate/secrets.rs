//! Secret rules: secrets are references (SSM parameters or Secrets Manager secrets), never
//! values; the names of variables and secrets are ones Docker can set; and the KMS keys that
//! encrypt them are key ARNs of the environment's region, listed where there is something to
//! decrypt. Messages never repeat an offending secret value: it may be a real secret.

use super::{Cx, ptr};
use crate::account::{Arn, is_account_id};
use crate::manifest::Container;
use crate::manifest::sensitive::looks_secret;

fn is_reference(v: &str) -> bool {
    if let Some(path) = v.strip_prefix("ssm:") {
        return path.starts_with('/') && path.len() > 1 && !path.contains(char::is_whitespace);
    }
    Arn::parse(v).is_some_and(|a| {
        let kind = match a.service {
            "ssm" => "parameter/",
            "secretsmanager" => "secret:",
            _ => return false,
        };
        a.resource.starts_with(kind) && !a.region.is_empty() && is_account_id(a.account)
    })
}

/// ECS takes registry credentials only from a whole Secrets Manager secret, by ARN: it reads
/// `username` and `password` itself, so a reference to one key (`…:username::`) is no use.
fn is_secret_arn(v: &str) -> bool {
    is_reference(v) && v.split(':').nth(2) == Some("secretsmanager") && v.split(':').count() == 7
}

pub(super) fn check(cx: &mut Cx<'_>) {
    kms_keys(cx);
    let m = cx.m;
    for c in m.containers() {
        let (section, name) = (c.section, c.name);
        if c.registry_credentials.is_some_and(|a| !is_secret_arn(a)) {
            // A value that is no ARN may be the password itself: masked, never repeated.
            cx.at_value(
                "invalid-registry-credentials",
                &ptr(&[section, name, "registry_credentials"]),
                format!("`registry_credentials` of `{name}` is not a Secrets Manager secret ARN"),
            )
            .label("expected arn:aws:secretsmanager:<region>:<account>:secret:<name>")
            .sensitive()
            .help("store the registry's `username` and `password` in a Secrets Manager secret and write its ARN here")
            .emit();
        } else if c.registry_credentials.is_some_and(|a| a.contains(['*', '?'])) {
            cx.at_value(
                "secret-wildcard",
                &ptr(&[section, name, "registry_credentials"]),
                format!("`registry_credentials` of `{name}` names more than one with a wildcard"),
            )
            .label("`*` or `?` here")
            .help(
                "name one secret: the task execution role is granted every one a wildcard matches",
            )
            .emit();
        }
    }
    for c in m.containers() {
        let (section, name) = (c.section, c.name);
        let secrets =
            c.secrets.iter().map(|(k, v)| (ptr(&[section, name, "secrets", k]), "secret", k, v));
        let log_secrets = c.log_secrets().iter().map(|(k, v)| {
            (ptr(&[section, name, "logging", "secret_options", k]), "log secret option", k, v)
        });
        for (p, what, key, value) in secrets.chain(log_secrets) {
            if !is_reference(value) {
                cx.at_value(
                    "secret-not-reference",
                    &p,
                    format!("{what} `{key}` of `{name}` is not a reference"),
                )
                .label("expected a reference, not a value")
                .sensitive()
                .help("store the value in SSM Parameter Store or Secrets Manager and write `ssm:/path/to/parameter` or the secret's ARN here")
                .emit();
            } else if value.contains(['*', '?']) {
                // ECS reads the one named; the execution role is granted what the reference
                // matches as an IAM resource, where `*` is every parameter or secret.
                cx.at_value(
                    "secret-wildcard",
                    &p,
                    format!("{what} `{key}` of `{name}` names more than one with a wildcard"),
                )
                .label("`*` or `?` here")
                .help("name one parameter or secret: the task execution role is granted every one a wildcard matches")
                .emit();
            }
        }
        for key in c.secrets.keys().filter(|k| c.environment.contains_key(*k)) {
            cx.at_value(
                "secret-and-variable",
                &ptr(&[section, name, "environment", key]),
                format!("`{key}` of `{name}` is both an environment variable and a secret"),
            )
            .label("also in `secrets`")
            .sensitive()
            .help("keep it in `secrets` only")
            .emit();
        }
        log_options(cx, c);
        for (table, key) in (c.environment.keys().map(|k| ("environment", k)))
            .chain(c.secrets.keys().map(|k| ("secrets", k)))
        {
            // Docker takes the container's variables as `NAME=value`: an empty name is refused
            // when the task starts, and a `=` in one moves the rest into the value.
            if key.is_empty() || key.contains(['=', '\0']) {
                cx.at_key(
                    "invalid-variable-name",
                    &ptr(&[section, name, table, key]),
                    if key.is_empty() {
                        format!("a variable of `{name}` has an empty name")
                    } else {
                        format!("`{key}` of `{name}` is not an environment variable name")
                    },
                )
                .label("no name, or `=` in it")
                .help("name the variable with letters, digits and `_`, as in `LOG_LEVEL`")
                .emit();
            }
        }
        for key in c.environment.keys() {
            if looks_secret(key) && !c.secrets.contains_key(key) {
                cx.at_value(
                    "secret-in-environment",
                    &ptr(&[section, name, "environment", key]),
                    format!("`{key}` of `{name}` looks like a secret but is a plain environment variable"),
                )
                .label("plain text in git, state and the task definition")
                .sensitive()
                .help(format!("move it to `secrets`: `{key} = \"ssm:/path/to/parameter\"`"))
                .warning()
                .emit();
            }
        }
    }
}

/// A log driver's options: one that looks like a credential belongs in `secret_options`, and
/// an option is set once, plainly or from a secret.
fn log_options(cx: &mut Cx<'_>, c: Container<'_>) {
    let (Some(logging), section, name) = (c.logging, c.section, c.name) else {
        return;
    };
    for key in logging.options.keys() {
        let p = ptr(&[section, name, "logging", "options", key]);
        if logging.secret_options.contains_key(key) {
            cx.at_value(
                "secret-and-option",
                &p,
                format!("log option `{key}` of `{name}` is set both plainly and from a secret"),
            )
            .label("also in `secret_options`")
            .sensitive()
            .help("keep it in `secret_options` only")
            .emit();
        } else if looks_secret(key) {
            cx.at_value(
                "secret-in-log-options",
                &p,
                format!("log option `{key}` of `{name}` looks like a secret but is plain text"),
            )
            .label("plain text in git, state and the task definition")
            .sensitive()
            .help(format!(
                "move it to `secret_options`: `{key} = \"ssm:/path/to/parameter\"`, which ECS reads when the container starts"
            ))
            .warning()
            .emit();
        }
    }
}

/// `secrets_kms_keys`: IAM grants `kms:Decrypt` on a key's ARN (an alias does not match it),
/// the key must be in the region the secrets are read in, and a container with no secrets, no
/// log secret options and no registry credentials has nothing for it to decrypt.
fn kms_keys(cx: &mut Cx<'_>) {
    let m = cx.m;
    for c in m.containers().filter(|c| !c.secrets_kms_keys.is_empty()) {
        let name = c.name;
        if c.references().next().is_none() {
            cx.at_key(
                "kms-keys-without-secrets",
                &ptr(&[c.section, name, "secrets_kms_keys"]),
                format!("`secrets_kms_keys` of `{name}` is set without `secrets` or `registry_credentials`"),
            )
            .label("ignored: nothing to decrypt")
            .help("add the secrets these keys encrypt, or remove `secrets_kms_keys`")
            .warning()
            .emit();
        }
        for (i, key) in c.secrets_kms_keys.iter().enumerate() {
            let p = ptr(&[c.section, name, "secrets_kms_keys", &i.to_string()]);
            let arn = Arn::parse(key);
            let key_arn = arn.as_ref().filter(|a| {
                a.service == "kms"
                    && a.resource.strip_prefix("key/").is_some_and(|id| {
                        !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
            });
            let Some(key_arn) = key_arn else {
                let alias = key.starts_with("alias/")
                    || arn.is_some_and(|a| a.service == "kms" && a.resource.starts_with("alias/"));
                cx.at_value(
                    "invalid-kms-key",
                    &p,
                    format!("`{key}` of `{name}` is not a KMS key ARN"),
                )
                .label("expected arn:aws:kms:<region>:<account>:key/<id>")
                .help(if alias {
                    "IAM matches `kms:Decrypt` on the key's ARN, not on an alias: write the ARN of the key the alias points to (`aws kms describe-key --key-id <alias>` shows it)"
                } else {
                    "write the key's ARN as `aws kms describe-key` shows it"
                })
                .emit();
                continue;
            };
            // A secret named by its ARN may live in another region, under a key of that region.
            let of_a_secret =
                c.references().any(|r| Arn::parse(r).is_some_and(|a| a.region == key_arn.region));
            if of_a_secret {
                continue;
            }
            let subject = format!("KMS key `{key}` of `{name}`");
            let what = (subject.as_str(), key_arn.region, "the environment");
            if let Some(message) = cx.other_region(what) {
                cx.at_value("kms-key-region", &p, message)
                    .label(format!("no secret of `{name}` is in this region"))
                    .help("SSM and Secrets Manager encrypt with keys of their own region, and tasks read `ssm:` parameters in the environment's region: name the key in the secret's region")
                    .emit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for ok in [
            "ssm:/app/db/password",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
        ] {
            assert!(is_reference(ok), "{ok}");
        }
        for bad in [
            "hunter2",
            "ssm:relative",
            "ssm:/",
            "arn:aws:s3:::bucket/key",
            "arn:aws:ssm:eu-west-1:12:parameter/x",
        ] {
            assert!(!is_reference(bad), "{bad}");
        }
        assert!(is_secret_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf"));
        let key = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf:username::";
        assert!(is_reference(key));
        assert!(!is_secret_arn(key));
        assert!(!is_secret_arn("ssm:/registry/password"));
        assert!(!is_secret_arn("arn:aws:ssm:eu-west-1:123456789012:parameter/registry"));
    }
}
