//! Image references: every service's and system container's `image` reads as a container image
//! reference, by the very check `set-image` applies ([`ImageRef::parse`]), so a reference ECS
//! would only refuse when it starts a task (`UPPER/Case Image`) is refused here, with the same
//! reason, whether it was written by hand or by `set-image`.

use super::{Cx, ptr};
use crate::manifest::image::ImageRef;

pub(super) fn check(cx: &mut Cx<'_>) {
    for c in cx.m.containers() {
        // A missing image is `required`'s to report.
        let Some(image) = c.image else { continue };
        if let Err(reason) = ImageRef::parse(image) {
            cx.at_value(
                "invalid-image",
                &ptr(&[c.section, c.name, "image"]),
                format!("`{image}` is not an image reference: {reason}"),
            )
            .label("invalid image reference")
            .help(
                "write `[registry/]repository[:tag][@sha256:digest]` with a lowercase repository, \
                 for example `public.ecr.aws/nginx/nginx:1.27-alpine`",
            )
            .emit();
        }
    }
}
