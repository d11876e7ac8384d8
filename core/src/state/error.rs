//! Why a state operation failed, with everything the user needs to decide what to do next.

use super::lock::LockInfo;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Someone else holds the environment's lock.
    #[error("the state of `{environment}` is locked by {} since {} ({} of ecsops {})", .holder.who, .holder.when, .holder.operation, .holder.version)]
    LockHeld { environment: String, holder: Box<LockInfo> },
    /// `unlock` with an id that is not the holder's.
    #[error("lock `{given}` does not hold `{environment}`: the holder's lock id is `{held}`")]
    WrongLockId { environment: String, given: String, held: String },
    #[error("`{environment}` is not locked")]
    NotLocked { environment: String },
    /// The store accepted a second `If-None-Match: *` write of an object that exists: it ignores
    /// conditional writes, so two runs could both believe they hold the lock.
    #[error(
        "the state store at `{location}` ignores conditional writes (`If-None-Match`), so it cannot lock `{environment}`; nothing was changed"
    )]
    Unconditional { environment: String, location: String },
    /// The stored state changed since it was read: another writer won.
    #[error(
        "the state of `{environment}` changed since it was read (now serial {current_serial}); nothing was written"
    )]
    Conflict { environment: String, current_serial: u64 },
    /// A document from another state history.
    #[error(
        "the state has lineage `{given}` but `{environment}` has lineage `{stored}`; nothing was written"
    )]
    LineageMismatch { environment: String, given: String, stored: String },
    /// A document of another environment: its resources are that environment's, so an apply of
    /// this one would replace them, and its ownership (environment, lineage) would claim them.
    #[error("the document is the state of `{given}`, not of `{environment}`; nothing was written")]
    WrongEnvironment { environment: String, given: String },
    /// A write that does not move the serial forward.
    #[error(
        "serial {given} is not newer than the stored serial {stored} of `{environment}`; nothing was written"
    )]
    StaleSerial { environment: String, given: u64, stored: u64 },
    /// The stored state does not parse (truncated, hand-edited): the kept versions can
    /// replace it (`state history`, `state push --force`).
    #[error("the state of `{environment}` at `{location}` is not a valid state document: {reason}")]
    Corrupt { environment: String, location: String, reason: String },
    #[error("the lock of `{environment}` at `{location}` is unreadable: {reason}")]
    LockCorrupt { environment: String, location: String, reason: String },
    /// Written by a newer ecsops: reading it could drop what this one does not know.
    #[error(
        "the state of `{environment}` at `{location}` has format version {found}, newer than this ecsops reads (up to {}); upgrade ecsops",
        super::STATE_VERSION
    )]
    TooNew { environment: String, location: String, found: u32 },
    #[error("{operation} `{location}`: {reason}")]
    Io { operation: &'static str, location: String, reason: String },
    #[error(
        "the state bucket `{bucket}` does not exist; create it (versioned) or fix `[state] bucket` / `--state-url`"
    )]
    NoBucket { bucket: String },
    #[error("invalid state URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The request never left: no usable credentials for the state (none found, a profile or
    /// role that fails), not an answer from the bucket.
    #[error("S3 {operation} on `{location}` failed: no usable AWS credentials ({reason})")]
    Credentials { operation: &'static str, location: String, reason: String },
    /// An AWS call failed (code and message as AWS gave them).
    #[error("S3 {operation} on `{location}` failed: {message}")]
    Aws { operation: &'static str, location: String, code: Option<String>, message: String },
}
