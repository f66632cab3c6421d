//! Times for people, shared by every front door that shows them (the CLI, Slack): how long ago
//! or from now, when a lease expires, and the local wall-clock time.

use crate::duration::humanize;
use crate::model::{Hold, HoldEnd, Lock};
use std::time::Duration;

/// How long ago (or from now) an epoch-millisecond time is, for people. A stamp on the store's
/// clock may be a moment ahead of this machine's: within a second either way it is `just now`.
pub fn ago(now: i64, at: i64) -> String {
    let span = Duration::from_millis(now.abs_diff(at));
    if span < Duration::from_secs(1) {
        "just now".into()
    } else if at <= now {
        format!("{} ago", humanize(span))
    } else {
        format!("in {}", humanize(span))
    }
}

/// `expires in 19m`, `expired 3s ago`, or `never expires`. A lease that lasts, however little,
/// never `expires just now`: a 1s lease just taken `expires in 1s`, under half a second `in <1s`.
pub fn expiry(lock: &Lock, now: i64) -> String {
    match lock.expires_at {
        None => "never expires".into(),
        Some(at) if at <= now => format!("expired {}", ago(now, at)),
        Some(at) => format!("expires {}", until(now, at)),
    }
}

/// How far ahead `at` is (`at` > `now`): humanize rounds to the second from 500 ms up, and
/// says `<1s` below.
pub fn until(now: i64, at: i64) -> String {
    let span = Duration::from_millis(now.abs_diff(at));
    match span < Duration::from_millis(500) {
        true => "in <1s".into(),
        false => format!("in {}", humanize(span.max(Duration::from_secs(1)))),
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
        let expiring = |at| {
            let lock = Lock {
                id: "id".into(),
                user: "alice".into(),
                env: "prod".into(),
                created_at: 9_000,
                updated_at: 9_000,
                active: true,
                uberlock: false,
                meta: "CLI".into(),
                expires_at: Some(at),
                fencing_token: 1,
                holder: "alice".into(),
                acquisitions: 1,
                revision: 1,
                queue: vec![],
                next_ticket: 0,
            };
            expiry(&lock, 10_000)
        };
        assert_eq!(expiring(10_950), "expires in 1s");
        assert_eq!(expiring(10_499), "expires in <1s");
        assert_eq!(expiring(11_200), "expires in 1s");
        assert_eq!(expiring(10_000), "expired just now");
        assert_eq!(expiring(7_000), "expired 3s ago");
        // A stamp a moment ahead of this machine's clock is still just now.
        assert_eq!(ago(10_000, 10_400), "just now");
        assert_eq!(ago(10_000, 9_400), "just now");
    }
}
