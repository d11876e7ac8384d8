//! Renderers: pure functions from a [`crate::plan::Plan`] to text (terminals), Markdown
//! (pull-request comments) and JSON (machines). Colour is a parameter, never detected here.

pub mod json;
pub mod markdown;
pub mod text;
mod value;
