//! Recorded state: the [`document`] format. Backends (local file, S3) and locking live beside it.

pub mod document;

pub use document::{ResourceState, Revision, STATE_VERSION, State};
