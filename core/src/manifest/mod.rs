//! Manifests: the typed format ([`types`]), where each value is written ([`sites`]), and loading
//! an environment with its `extends` chain ([`load`]), and where a file may hold a secret
//! ([`sensitive`]).

pub mod load;
pub mod sensitive;
pub mod sites;
pub mod types;

pub use load::{Loaded, load_environment};
pub use types::*;
