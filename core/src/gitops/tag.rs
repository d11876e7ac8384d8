//! The annotated tag `ecsops/<env>/<serial>` an applied revision gets: its message is a subject,
//! the plan summary and git-trailer lines (`Applied-By: ...`) that `history` reads back, so the
//! record travels with the repository (tags are pushed by the workflow, never by ecsops).
//!
//! Tags are listed newest applied first: by the `Applied-At` their message records, else (a
//! tag ecsops did not write) when the tag was made. Serials only order the applies of one
//! state lineage; a state that was replaced numbers its own, so they say nothing across
//! lineages.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::{Commit, GitError, Repo, git, short};
use crate::state::{MAX_SERIAL, Operation};

/// `ecsops/<env>/<serial>`.
pub fn name(environment: &str, serial: u64) -> String {
    format!("ecsops/{environment}/{serial}")
}

/// What a tag says about the apply it marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub environment: String,
    pub operation: Operation,
    pub serial: u64,
    pub lineage: String,
    /// The plan summary line.
    pub summary: String,
    /// The lock holder, `user@host`.
    pub applied_by: String,
    /// RFC 3339.
    pub applied_at: String,
    pub account: Option<String>,
    /// For a rollback: the tag (when it had one) and commit rolled back to.
    pub rolled_back_to: Option<(Option<String>, String)>,
}

const ENVIRONMENT: &str = "Environment";
const OPERATION: &str = "Operation";
const SERIAL: &str = "Serial";
const LINEAGE: &str = "Lineage";
const APPLIED_BY: &str = "Applied-By";
const APPLIED_AT: &str = "Applied-At";
const ACCOUNT: &str = "Account";
const ROLLBACK_TAG: &str = "Rolled-Back-To-Tag";
const ROLLBACK_COMMIT: &str = "Rolled-Back-To-Commit";

impl Record {
    /// The tag message.
    pub fn message(&self) -> String {
        let what = match &self.rolled_back_to {
            Some((tag, commit)) => format!(
                "rollback to {}",
                tag.as_ref().map_or_else(
                    || short(commit).to_owned(),
                    |t| format!("{t} ({})", short(commit))
                )
            ),
            None => self.operation.as_str().to_owned(),
        };
        let mut trailers = vec![
            (ENVIRONMENT, self.environment.clone()),
            (OPERATION, self.operation.as_str().to_owned()),
            (SERIAL, self.serial.to_string()),
            (LINEAGE, self.lineage.clone()),
            (APPLIED_BY, self.applied_by.clone()),
            (APPLIED_AT, self.applied_at.clone()),
        ];
        if let Some(a) = &self.account {
            trailers.push((ACCOUNT, a.clone()));
        }
        if let Some((tag, commit)) = &self.rolled_back_to {
            if let Some(t) = tag {
                trailers.push((ROLLBACK_TAG, t.clone()));
            }
            trailers.push((ROLLBACK_COMMIT, commit.clone()));
        }
        let trailers = trailers.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}: {v}");
            out
        });
        format!(
            "ecsops {what}: {} serial {}\n\n{}\n\n{trailers}",
            self.environment, self.serial, self.summary
        )
    }

    /// Reads a message [`Record::message`] wrote; `None` for any other tag message.
    pub fn parse(message: &str) -> Option<Self> {
        let trailer = |key: &str| {
            message.lines().find_map(|l| {
                l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")).map(str::to_owned)
            })
        };
        let summary =
            message.lines().find(|l| l.starts_with("Plan: ")).unwrap_or_default().to_owned();
        let rolled_back_to = trailer(ROLLBACK_COMMIT).map(|c| (trailer(ROLLBACK_TAG), c));
        Some(Self {
            environment: trailer(ENVIRONMENT)?,
            operation: Operation::parse(&trailer(OPERATION)?)?,
            serial: trailer(SERIAL)?.parse().ok()?,
            lineage: trailer(LINEAGE)?,
            summary,
            applied_by: trailer(APPLIED_BY).unwrap_or_default(),
            applied_at: trailer(APPLIED_AT).unwrap_or_default(),
            account: trailer(ACCOUNT),
            rolled_back_to,
        })
    }
}

/// An `ecsops/<env>/<serial>` tag found in the repository.
#[derive(Debug, Clone)]
pub struct Applied {
    pub name: String,
    pub serial: u64,
    pub commit: Commit,
    /// `None` for a lightweight tag or one whose message ecsops did not write.
    pub record: Option<Record>,
    /// When the tag was made: its tagger's time, a lightweight tag's commit time.
    pub made_at: SystemTime,
}

impl Applied {
    /// When the apply it marks happened: the recorded `Applied-At`, else when it was tagged.
    pub fn when(&self) -> SystemTime {
        self.record.as_ref().and_then(|r| instant(&r.applied_at)).unwrap_or(self.made_at)
    }
}

/// An RFC 3339 time as ecsops records it (`Applied-At`, a state revision's `applied_at`).
pub fn instant(rfc3339: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(rfc3339).ok()
}

/// A git time (seconds since the epoch) as a [`SystemTime`].
fn git_time(time: git2::Time) -> SystemTime {
    let seconds = Duration::from_secs(time.seconds().unsigned_abs());
    if time.seconds() < 0 {
        SystemTime::UNIX_EPOCH - seconds
    } else {
        SystemTime::UNIX_EPOCH + seconds
    }
}

impl Repo {
    pub fn tag_exists(&self, name: &str) -> bool {
        self.git.find_reference(&format!("refs/tags/{name}")).is_ok()
    }

    /// Makes the annotated tag `name` on `commit`. The tagger is the repository's configured
    /// identity, else `ecsops <user@host>` (CI runners configure none). Never moves a tag.
    pub fn create_tag(&self, name: &str, commit: &str, message: &str) -> Result<(), GitError> {
        let what = format!("create tag `{name}`");
        let target = self.git.revparse_single(commit).map_err(git(what.clone()))?;
        let tagger = self.identity().map_err(git(what.clone()))?;
        self.git.tag(name, &target, &tagger, message, false).map_err(git(what))?;
        Ok(())
    }

    /// The name and serial of every `ecsops/<environment>/<serial>` tag, in no order. A tag
    /// naming a serial above [`MAX_SERIAL`] is not one ecsops made: the next apply's serial
    /// must not move past it.
    fn serials(&self, environment: &str) -> Result<Vec<(String, u64)>, GitError> {
        let prefix = format!("ecsops/{environment}/");
        let names = self.git.tag_names(Some(&format!("{prefix}*"))).map_err(git("list tags"))?;
        Ok(names
            .iter()
            .flatten()
            .flatten()
            .filter_map(|name| {
                let serial = name.strip_prefix(&prefix)?.parse::<u64>().ok()?;
                (serial <= MAX_SERIAL).then(|| (name.to_owned(), serial))
            })
            .collect())
    }

    /// The highest serial an `ecsops/<environment>/<serial>` tag names, whichever state
    /// lineage (or person) made it; 0 without any. An apply's tagged serial is above it.
    pub fn highest_serial(&self, environment: &str) -> Result<u64, GitError> {
        Ok(self.serials(environment)?.into_iter().map(|(_, serial)| serial).max().unwrap_or(0))
    }

    /// Every `ecsops/<environment>/<serial>` tag, newest applied first (the higher serial first
    /// for the same second).
    pub fn tags(&self, environment: &str) -> Result<Vec<Applied>, GitError> {
        let mut tags = Vec::new();
        for (name, serial) in self.serials(environment)? {
            let reference = self
                .git
                .find_reference(&format!("refs/tags/{name}"))
                .map_err(git(format!("read tag `{name}`")))?;
            let annotated = reference.peel_to_tag().ok();
            let record =
                annotated.as_ref().and_then(|t| t.message().ok().flatten().and_then(Record::parse));
            let commit = reference
                .peel_to_commit()
                .map_err(git(format!("read the commit of tag `{name}`")))?;
            let made_at = git_time(
                annotated
                    .as_ref()
                    .and_then(git2::Tag::tagger)
                    .map_or_else(|| commit.time(), |t| t.when()),
            );
            tags.push(Applied { name, serial, commit: Commit::of(&commit), record, made_at });
        }
        tags.sort_by_key(|t| std::cmp::Reverse((t.when(), t.serial)));
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rolled_back_to: Option<(Option<String>, String)>) -> Record {
        Record {
            environment: "acceptance".to_owned(),
            operation: if rolled_back_to.is_some() {
                Operation::Rollback
            } else {
                Operation::Apply
            },
            serial: 14,
            lineage: "5b0c".to_owned(),
            summary: "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.".to_owned(),
            applied_by: "ci@runner".to_owned(),
            applied_at: "2026-12-01T14:00:00Z".to_owned(),
            account: Some("123456789012".to_owned()),
            rolled_back_to,
        }
    }

    #[test]
    fn messages_read_back() {
        for r in [
            record(None),
            record(Some((Some("ecsops/acceptance/3".to_owned()), "0123456789abcdef".to_owned()))),
            record(Some((None, "0123456789abcdef".to_owned()))),
        ] {
            assert_eq!(Record::parse(&r.message()), Some(r.clone()), "{}", r.message());
        }
    }

    #[test]
    fn the_subject_says_what_happened() {
        let m =
            record(Some((Some("ecsops/acceptance/3".to_owned()), "0123456789abcdef".to_owned())))
                .message();
        assert_eq!(
            m.lines().next(),
            Some("ecsops rollback to ecsops/acceptance/3 (0123456): acceptance serial 14")
        );
        assert!(m.contains("\n\nPlan: 1 to create"), "{m}");
        assert_eq!(Record::parse("a tag someone else made"), None);
    }
}
