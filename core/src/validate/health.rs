//! Target group health checks as the Elastic Load Balancing API takes them: the path is
//! absolute and at most 1024 characters, and the matcher is HTTP codes an Application Load
//! Balancer accepts (200 to 499), one, a list (`200,202`) or a range (`200-299`).

use super::{Cx, ptr};
use crate::manifest::{HealthCheck, LoadBalancerKind};

const MAX_PATH_LEN: usize = 1024;

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, svc) in &m.services {
        let hc = &svc.health_check;
        let p = ptr(&["services", name, "health_check", "path"]);
        if !hc.path.starts_with('/') {
            let fixed = hc.path.trim().replace(' ', "-");
            cx.at_value(
                "invalid-health-check",
                &p,
                format!("health check path `{}` does not start with `/`", hc.path),
            )
            .label("missing leading `/`")
            .help(format!(
                "write it from the root, `/{fixed}`: the path the load balancer requests on each task"
            ))
            .emit();
        } else if hc.path.chars().count() > MAX_PATH_LEN {
            cx.at_value(
                "invalid-health-check",
                &p,
                format!(
                    "the health check path is {} characters; AWS allows {MAX_PATH_LEN}",
                    hc.path.chars().count()
                ),
            )
            .label("too long")
            .help("point the check at a short path such as `/health`")
            .emit();
        }
        let classic = svc
            .route
            .as_ref()
            .and_then(|r| m.load_balancers.get(&r.load_balancer))
            .is_some_and(|lb| lb.kind == LoadBalancerKind::Classic);
        let matcher_ptr = ptr(&["services", name, "health_check", "matcher"]);
        if let Err(why) = matcher(&hc.matcher) {
            cx.at_value(
                "invalid-health-check",
                &matcher_ptr,
                format!("health check matcher `{}` is invalid: {why}", hc.matcher),
            )
            .label("not HTTP codes")
            .help("write a code from 200 to 499 (`200`), a list (`200,202`) or a range (`200-299`)")
            .emit();
        } else if classic
            // The default reads as unset: only a matcher someone wrote is one they expect to hold.
            && !["200", HealthCheck::default().matcher.as_str()].contains(&hc.matcher.as_str())
        {
            cx.at_value(
                "classic-matcher",
                &matcher_ptr,
                format!("the health check matcher of `{name}` does not apply behind a classic load balancer"),
            )
            .label("ignored: a classic check passes on 200 only")
            .help("remove `matcher` and answer 200 on the health path, or route through an application load balancer (`type = \"application\"`)")
            .warning()
            .emit();
        }
    }
}

/// Whether `text` is HTTP codes an Application Load Balancer accepts as a matcher: codes, or
/// `low-high` ranges, separated by commas; the reason it is not, for the message.
fn matcher(text: &str) -> Result<(), String> {
    let code = |s: &str| -> Result<u16, String> {
        let n: u16 = (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .ok_or_else(|| format!("`{s}` is not a 3-digit HTTP code"))?;
        if (200..=499).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is outside the 200 to 499 an ALB accepts"))
        }
    };
    for item in text.split(',') {
        match item.split_once('-') {
            Some((low, high)) => {
                if code(low)? > code(high)? {
                    return Err(format!("the range `{item}` runs backwards"));
                }
            }
            None => {
                code(item)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matcher;

    #[test]
    fn matchers_are_codes_lists_and_ranges() {
        for ok in ["200", "200-399", "200,202", "200,300-399", "499"] {
            assert_eq!(matcher(ok), Ok(()), "{ok}");
        }
        for bad in ["abc", "", "200,", "199", "500", "200-", "299-200", "20", "200 "] {
            assert!(matcher(bad).is_err(), "{bad}");
        }
    }
}
