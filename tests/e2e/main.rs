//! End-to-end tests of the real `ecsops` binary. One test binary with a module per area, so it
//! links once; `support` holds the harness.

mod diff;
mod support;
mod validate;
