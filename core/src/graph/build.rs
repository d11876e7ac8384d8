//! Expands a validated manifest into the desired graph of the reference ECS layout.

use crate::manifest::Manifest;

use super::Graph;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the manifest is incomplete: {0}; run `ecsops validate` for details")]
    Incomplete(&'static str),
}

pub fn build(_manifest: &Manifest, _environment: &str) -> Result<Graph, BuildError> {
    Ok(Graph::default())
}
