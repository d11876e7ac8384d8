//! Manifests: the typed format ([`types`]) with one view over its two container tables
//! ([`container`]), where each value is written ([`sites`]), and loading an environment with its
//! `extends` chain ([`load`]), where a file may hold a secret ([`sensitive`]), image references
//! ([`image`]) and format-preserving edits of a file ([`edit`]).

pub mod container;
pub mod edit;
pub mod image;
pub mod load;
pub mod sensitive;
pub mod sites;
pub mod types;

pub use container::Container;
pub use load::{Loaded, load_environment};
pub use types::*;
