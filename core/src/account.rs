//! Which AWS account an environment may touch and as whom ecsops reaches it: the credentials a
//! manifest names (`[environment]` and `[state]`: a named profile, or a role assumed on top of
//! the base credentials), the caller STS reports for them, and the guard that refuses another
//! account than `[environment] account_id`. The forms (`validate`), the pure rules and the one ARN
//! parser ([`Arn`]) live here; the STS request and the SDK wiring are `provider::aws::identity`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::{Environment, StateConfig};
use crate::state::lock::user;

/// Who the credentials are, as STS `GetCallerIdentity` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The 12-digit account the credentials act in.
    pub account: String,
    /// The caller's ARN (a user, or `assumed-role/<role>/<session>`).
    pub arn: String,
}

/// How to get credentials, beyond the standard chain (environment, `~/.aws`, SSO, instance
/// role) that every other setting builds on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// A named profile instead of the default one.
    pub profile: Option<String>,
    /// A role assumed with the base credentials (the profile's, else the chain's).
    pub role: Option<AssumeRole>,
}

/// An `sts:AssumeRole` the SDK renews before its session expires.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
    pub duration: Duration,
}

/// The session length when the manifest names none: AWS's default for `AssumeRole`.
pub const DEFAULT_SESSION: Duration = Duration::from_hours(1);
/// The shortest session AWS grants.
pub const MIN_SESSION: Duration = Duration::from_mins(15);
/// The longest a role may allow (its own `MaxSessionDuration` may be lower).
pub const MAX_SESSION: Duration = Duration::from_hours(12);

impl Credentials {
    /// The credentials the environment's resources are reached with.
    pub fn of_environment(env: &Environment, environment: &str) -> Self {
        Self {
            profile: env.profile.clone(),
            role: env.role_arn.as_ref().map(|arn| AssumeRole {
                arn: arn.clone(),
                external_id: env.external_id.clone(),
                session_name: env
                    .session_name
                    .clone()
                    .unwrap_or_else(|| session_name(environment, &user())),
                duration: env
                    .session_duration
                    .as_deref()
                    .and_then(|d| humantime::parse_duration(d).ok())
                    .unwrap_or(DEFAULT_SESSION),
            }),
        }
    }

    /// The state backend's own credentials, when `[state]` names any; else the state is
    /// reached with the environment's.
    pub fn of_state(state: &StateConfig, environment: &str) -> Option<Self> {
        if state.profile.is_none() && state.role_arn.is_none() {
            return None;
        }
        Some(Self {
            profile: state.profile.clone(),
            role: state.role_arn.as_ref().map(|arn| AssumeRole {
                arn: arn.clone(),
                external_id: state.external_id.clone(),
                session_name: session_name(environment, &user()),
                duration: DEFAULT_SESSION,
            }),
        })
    }

    /// Whether the manifest names credentials of its own.
    pub fn is_set(&self) -> bool {
        self.profile.is_some() || self.role.is_some()
    }

    /// How these credentials read in messages.
    pub fn describe(&self) -> String {
        match (&self.role, &self.profile) {
            (Some(r), Some(p)) => format!("role `{}` assumed from profile `{p}`", r.arn),
            (Some(r), None) => format!("role `{}`", r.arn),
            (None, Some(p)) => format!("profile `{p}`"),
            (None, None) => {
                "the shell's credentials (AWS_* variables, the default profile, SSO or an instance role)"
                    .to_owned()
            }
        }
    }
}

/// `ecsops-<env>-<user>`, reduced to what AWS allows in a session name (`[\w+=,.@-]`, at most
/// 64 characters), so CloudTrail says who ran what.
pub fn session_name(environment: &str, user: &str) -> String {
    let name: String = format!("ecsops-{environment}-{user}")
        .chars()
        .map(|c| if session_char(c) { c } else { '-' })
        .take(64)
        .collect();
    name
}

fn session_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Whether AWS accepts `name` as a role session name.
pub fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(session_char)
}

/// Whether `id` is an AWS account id: exactly 12 digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The parts of an ARN, `arn:<partition>:<service>:<region>:<account>:<resource>`: the one
/// parser every rule that reads an ARN goes through, so they agree on what one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// Everything after the account, `:` included (`log-group:<name>:*` stays whole).
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// `value` as an ARN of an AWS partition (`aws`, `aws-cn`, `aws-us-gov`, ...); `None` when
    /// it has not the six parts.
    pub fn parse(value: &'a str) -> Option<Self> {
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        match parts[..] {
            ["arn", partition, service, region, account, resource]
                if partition.starts_with("aws") =>
            {
                Some(Self { partition, service, region, account, resource })
            }
            _ => None,
        }
    }

    /// `value` as an IAM ARN `arn:<partition>:iam::<account>:<resource>` (IAM is global: no
    /// region), or `None` when it is not one. The account is not checked: AWS's own managed
    /// policies say `aws` there.
    pub fn iam(value: &'a str) -> Option<Self> {
        Self::parse(value).filter(|a| a.service == "iam" && a.region.is_empty())
    }
}

/// The account of an IAM role ARN `arn:<partition>:iam::<account>:role/<path/>name`, or `None`
/// when `arn` is not one.
pub fn role_account(arn: &str) -> Option<&str> {
    let arn = Arn::iam(arn)?;
    let name = arn.resource.strip_prefix("role/")?.rsplit('/').next()?;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    (is_account_id(arn.account) && name_ok).then_some(arn.account)
}

/// Why the environment's credentials may not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccountError {
    /// The credentials act in another account than `[environment] account_id`.
    #[error(
        "`{environment}` is bound to account {expected}, but the credentials act in account {} as `{}`; nothing was locked, read or changed",
        caller.account,
        caller.arn
    )]
    WrongAccount {
        environment: String,
        expected: String,
        caller: Caller,
        /// What the credentials came from ([`Credentials::describe`]).
        credentials: String,
    },
    /// The state records resources of another account than the credentials act in: planning
    /// would find none of them and create everything again in the wrong account.
    #[error(
        "the state of `{environment}` records resources of account {recorded}, but the credentials act in account {} as `{}`; nothing was changed",
        caller.account,
        caller.arn
    )]
    RecordedElsewhere { environment: String, recorded: String, caller: Caller, credentials: String },
    /// STS could not say who the credentials are (none found, a role that cannot be assumed,
    /// a profile that does not exist).
    #[error("cannot tell which AWS account `{environment}` would use ({credentials}): {reason}")]
    Unknown { environment: String, credentials: String, reason: String },
    /// STS did not answer at all: the connection failed or timed out.
    #[error("cannot reach AWS to check the account of `{environment}` ({}): {reason}", .endpoint.as_deref().map_or("STS".to_owned(), |e| format!("endpoint {e}")))]
    Unreachable {
        environment: String,
        /// The endpoint URL the configuration names (`AWS_ENDPOINT_URL`), if any.
        endpoint: Option<String>,
        reason: String,
    },
}

impl AccountError {
    /// The next step.
    pub fn help(&self) -> String {
        match self {
            Self::WrongAccount { environment, expected, credentials, .. } => format!(
                "these came from {credentials}; use credentials of account {expected}: set `[environment] role_arn` to a role in {expected} (or `profile` to a profile of it), or export that account's credentials, then run the command again. If `{environment}` really moved to another account, change `account_id`"
            ),
            Self::RecordedElsewhere { environment, recorded, credentials, .. } => format!(
                "these came from {credentials}; use credentials of account {recorded}, and set `[environment] account_id = \"{recorded}\"` so `{environment}` is checked before anything is read"
            ),
            Self::Unreachable { environment, endpoint, .. } => {
                let check = match endpoint {
                    Some(e) => format!(
                        "that {e} (`AWS_ENDPOINT_URL` or the profile's `endpoint_url`) is right and serving"
                    ),
                    None => "the network, a proxy (`HTTPS_PROXY`) and the region".to_owned(),
                };
                format!(
                    "check {check}, then run the command again; `ecsops diff {environment} --offline` plans without AWS"
                )
            }
            Self::Unknown { environment, .. } => format!(
                "check the base credentials (`aws sts get-caller-identity`, `aws sso login`, AWS_PROFILE), the profile name, and that the role's trust policy lets them assume it (with the `external_id` it asks for); `ecsops diff {environment} --offline` plans without AWS"
            ),
        }
    }
}

/// Where the account an environment must be in comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `[environment] account_id`.
    Manifest,
    /// The ARNs of the resources its state records ([`State::account`]): the guard of
    /// environments that name no `account_id`.
    ///
    /// [`State::account`]: crate::state::State::account
    State,
}

/// Refuses `caller` when it acts in another account than `expected` (from `bound`).
pub fn check(
    environment: &str,
    expected: Option<&str>,
    bound: Bound,
    caller: &Caller,
    credentials: &Credentials,
) -> Result<(), AccountError> {
    let Some(expected) = expected.filter(|e| *e != caller.account) else {
        return Ok(());
    };
    let (environment, expected, caller, credentials) =
        (environment.to_owned(), expected.to_owned(), caller.clone(), credentials.describe());
    Err(match bound {
        Bound::Manifest => {
            AccountError::WrongAccount { environment, expected, caller, credentials }
        }
        Bound::State => {
            AccountError::RecordedElsewhere { environment, recorded: expected, caller, credentials }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_their_five_parts() {
        assert_eq!(
            Arn::parse("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab"),
            Some(Arn {
                partition: "aws",
                service: "kms",
                region: "eu-west-1",
                account: "123456789012",
                resource: "key/1234abcd-12ab",
            })
        );
        let role = Arn::iam("arn:aws-cn:iam::123456789012:role/ci/deployer").expect("an IAM ARN");
        assert_eq!(
            (role.partition, role.account, role.resource),
            ("aws-cn", "123456789012", "role/ci/deployer")
        );
        let log_group = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/web:*";
        assert_eq!(Arn::parse(log_group).map(|a| a.resource), Some("log-group:/ecs/web:*"));
        // IAM is global: an ARN with a region is not IAM's, even when it says `iam`.
        assert!(Arn::parse("arn:aws:iam:eu-west-1:123456789012:role/web").is_some());
        assert_eq!(Arn::iam("arn:aws:iam:eu-west-1:123456789012:role/web"), None);
        assert_eq!(Arn::iam("arn:aws:kms:eu-west-1:123456789012:key/1"), None);
        for bad in [
            "arn:gcp:kms:eu-west-1:123456789012:key/1",
            "arn:aws:kms:eu-west-1:123456789012",
            "urn:aws:kms:eu-west-1:123456789012:key/1",
            "",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
            assert_eq!(Arn::iam(bad), None, "{bad}");
        }
    }

    #[test]
    fn role_arns_name_their_account() {
        assert_eq!(role_account("arn:aws:iam::222222222222:role/deployer"), Some("222222222222"));
        assert_eq!(
            role_account("arn:aws-us-gov:iam::222222222222:role/ci/deployer"),
            Some("222222222222")
        );
        for bad in [
            "arn:aws:iam::22222222222:role/deployer",
            "arn:aws:iam::222222222222:user/deployer",
            "arn:aws:sts::222222222222:role/deployer",
            "arn:aws:iam:eu-west-1:222222222222:role/deployer",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:iam::222222222222:role/with space",
            "deployer",
            "",
        ] {
            assert_eq!(role_account(bad), None, "{bad}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("1234567890"));
        assert!(!is_account_id("12345678901a"));
        assert!(!is_account_id("1234567890123"));
    }

    #[test]
    fn session_names_keep_to_what_aws_allows() {
        assert_eq!(session_name("production", "ana"), "ecsops-production-ana");
        assert_eq!(session_name("acc", "Dr Who/x"), "ecsops-acc-Dr-Who-x");
        let long = session_name("acc", &"u".repeat(100));
        assert_eq!(long.len(), 64);
        assert!(is_session_name(&long));
        assert!(!is_session_name("a"));
        assert!(!is_session_name("has space"));
    }

    #[test]
    fn the_guard_refuses_only_another_account() {
        let caller = Caller {
            account: "123456789012".to_owned(),
            arn: "arn:aws:sts::123456789012:assumed-role/ci/x".to_owned(),
        };
        let creds = Credentials::default();
        let manifest = |expected| check("acc", expected, Bound::Manifest, &caller, &creds);
        assert!(manifest(None).is_ok());
        assert!(manifest(Some("123456789012")).is_ok());
        let err = manifest(Some("111111111111")).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("111111111111") && text.contains("123456789012"), "{text}");
        assert!(text.contains("assumed-role/ci/x"), "{text}");
        assert!(err.help().contains("role_arn"), "{}", err.help());
        let recorded = |expected| check("acc", expected, Bound::State, &caller, &creds);
        assert!(recorded(Some("123456789012")).is_ok());
        let err = recorded(Some("222222222222")).expect_err("refused");
        assert!(err.to_string().contains("records resources of account 222222222222"));
        assert!(err.help().contains("account_id = \"222222222222\""), "{}", err.help());
    }

    #[test]
    fn environment_credentials_default_the_session() {
        let env = Environment {
            role_arn: Some("arn:aws:iam::222222222222:role/deployer".to_owned()),
            session_duration: Some("30m".to_owned()),
            ..Environment::default()
        };
        let creds = Credentials::of_environment(&env, "acc");
        let role = creds.role.expect("a role");
        assert!(role.session_name.starts_with("ecsops-acc-"));
        assert_eq!(role.duration, Duration::from_mins(30));
        assert_eq!(
            Credentials::of_environment(&Environment::default(), "acc"),
            Credentials::default()
        );
        assert_eq!(Credentials::of_state(&StateConfig::default(), "acc"), None);
    }
}
