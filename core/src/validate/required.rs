//! Keys the schema leaves optional so that each file of an `extends` chain stands alone in an
//! editor, but which the merged manifest must have: a service's or system container's `image`,
//! and the S3 state backend's `bucket`. Reported as the schema reports a missing key
//! (`missing-key`, at the table's name), so the message does not depend on which of the two
//! checks it.

use super::{Cx, ptr};
use crate::manifest::types::StateBackendKind;
use crate::schema::missing_key;

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for c in m.containers() {
        let table = ptr(&[c.section, c.name]);
        let pointer = ptr(&[c.section, c.name, "image"]);
        // An image the schema refused (a number, say) was taken out: it is not missing.
        if c.image.is_some() || cx.pruned.contains(&pointer) {
            continue;
        }
        cx.diags.push(missing_key("image", &table, &cx.loaded.sites));
    }
    let state = &m.state;
    let bucket = state.bucket.as_deref().is_some_and(|b| !b.is_empty());
    let refused = cx.pruned.iter().any(|p| p == "/state/bucket");
    if state.backend == StateBackendKind::S3 && !bucket && !refused {
        cx.diags.push(missing_key("bucket", "/state", &cx.loaded.sites));
    }
}
