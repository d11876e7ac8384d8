//! System container mounts as Docker takes a host bind mount: both paths absolute, each
//! container path mounted once. ECS registers anything, so without this a typo surfaces as a
//! daemon task that never starts on any instance.

use super::{Cx, ptr};

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, sc) in &m.system_containers {
        for (i, mount) in sc.mounts.iter().enumerate() {
            let at = |key: &str| ptr(&["system_containers", name, "mounts", &i.to_string(), key]);
            for (key, path, place) in [
                ("source", &mount.source, "on the host"),
                ("target", &mount.target, "in the container"),
            ] {
                if !path.starts_with('/') {
                    let relative = path.trim_start_matches("./");
                    let example = if relative.is_empty() { "data" } else { relative };
                    cx.at_value(
                        "invalid-mount",
                        &at(key),
                        format!("mount {key} `{path}` is not an absolute path"),
                    )
                    .label("missing leading `/`")
                    .help(format!("write the path {place} from the root, as in `/{example}`"))
                    .emit();
                }
            }
            if sc.mounts[..i].iter().any(|earlier| earlier.target == mount.target) {
                cx.at_value(
                    "invalid-mount",
                    &at("target"),
                    format!("`{}` is mounted twice in `{name}`", mount.target),
                )
                .label("already a mount target")
                .help("mount each container path once")
                .emit();
            }
        }
    }
}
