//! Recorded state: the [`document`] format, the [`backend`]s that keep it (local file by
//! default, S3), the [`lock`] record, the [`outputs`] read from it, and what can go wrong
//! ([`error`]).

pub mod backend;
pub mod document;
pub mod error;
pub mod local;
pub mod lock;
pub mod outputs;
pub mod s3;

pub use backend::{Backend, HistoryEntry, Location, Stored, Version, WriteKind};
pub use document::{
    ApplyResult, MAX_SERIAL, Operation, ResourceState, Revision, RolledBackTo, STATE_VERSION, State,
};
pub use error::StateError;
pub use lock::{LockInfo, who};
