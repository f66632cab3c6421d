//! Times for people, shared by every front door that shows them (the CLI, Slack): how long ago
//! or from now, when a lease expires, and the local wall-clock time.

use crate::duration::humanize;
use crate::model::{Hold, HoldEnd, Lock};
use std::time::Duration;

/// How long ago (or from now) an epoch-millisecond time is, for people: `just now` within a
/// second before `now`, `in <1s` within one after (a lease that lasts, however little, is
/// never "just now").
pub fn ago(now: i64, at: i64) -> String {
    let span = Duration::from_millis(now.abs_diff(at));
    if at <= now && span < Duration::from_secs(1) {
        "just now".into()
    } else if at <= now {
        format!("{} ago", humanize(span))
    } else if span < Duration::from_millis(500) {
        // humanize rounds to the second from 500 ms up: a 1s lease just taken is `in 1s`.
        "in <1s".into()
    } else {
        format!("in {}", humanize(span.max(Duration::from_secs(1))))
    }
}

/// `expires in 19m`, `expired 3s ago`, or `never expires`.
pub fn expiry(lock: &Lock, now: i64) -> String {
    match lock.expires_at {
        None => "never expires".into(),
        Some(at) if at <= now => format!("expired {}", ago(now, at)),
        Some(at) => format!("expires {}", ago(now, at)),
    }
}

/// How a hold went, as of `now`: `held now, expires in 5m`, `released 1h ago after 58m`,
/// `lease expired 2h ago`, `preempted by bob 3d ago`.
pub fn hold_outcome(hold: &Hold, now: i64) -> String {
    let Some(ended_at) = hold.ended_at else {
        return match hold.expires_at {
            None => "held now (uberlock: never expires)".into(),
            Some(at) => format!("held now, expires {}", ago(now, at)),
        };
    };
    let held_for = humanize(Duration::from_millis(
        ended_at.saturating_sub(hold.acquired_at).max(0) as u64,
    ));
    match (hold.end, hold.ended_by.as_deref()) {
        (Some(HoldEnd::Expired), _) => {
            format!("lease expired {} after {held_for}", ago(now, ended_at))
        }
        (Some(HoldEnd::Preempted), Some(by)) => {
            format!("preempted by {by} {} after {held_for}", ago(now, ended_at))
        }
        (Some(HoldEnd::Preempted), None) => {
            format!("preempted {} after {held_for}", ago(now, ended_at))
        }
        (Some(HoldEnd::Forced), by) => {
            let reason = hold.reason.as_deref().unwrap_or("no reason given");
            format!(
                "forced by {} {} after {held_for} (reason: {reason})",
                by.unwrap_or("someone"),
                ago(now, ended_at)
            )
        }
        (Some(HoldEnd::Released) | None, _) => {
            format!("released {} after {held_for}", ago(now, ended_at))
        }
    }
}

/// Local wall-clock time of an epoch-millisecond instant: `14:02:11` today, else `Nov 21 14:02`.
pub fn clock(now: i64, at: i64) -> String {
    use chrono::{Local, TimeZone};
    let (Some(at), Some(now)) = (
        Local.timestamp_millis_opt(at).single(),
        Local.timestamp_millis_opt(now).single(),
    ) else {
        return at.to_string();
    };
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%b %d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_that_lasts_is_never_just_now() {
        assert_eq!(ago(10_000, 10_950), "in 1s");
        assert_eq!(ago(10_000, 10_499), "in <1s");
        assert_eq!(ago(10_000, 11_200), "in 1s");
        assert_eq!(ago(10_000, 9_400), "just now");
        assert_eq!(ago(10_000, 10_000), "just now");
        assert_eq!(ago(10_000, 7_000), "3s ago");
        assert_eq!(ago(0, 20 * 60_000 - 40), "in 20m");
    }
}
