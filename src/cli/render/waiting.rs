//! What a waiter shows while it waits: the live line at a terminal, the plain line of a CI log,
//! and the notice that it joined the line again after a stall.

use super::Style;
use crate::duration::humanize;
use crate::human_time::{clock, expiry};
use crate::locks::WaitProgress;
use std::time::Duration;

/// `1st`, `2nd`, `3rd`, `4th`, ... `11th`, `12th`, `13th`, ... `21st`.
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `2nd in line, 3 waiting`.
fn place_in_line(progress: &WaitProgress) -> String {
    format!(
        "{} in line, {} waiting",
        ordinal(progress.position),
        progress.waiting
    )
}

/// The live status line of a waiter at a terminal: its place (and, on the poll that joined
/// again after a stall, that it did), then who is in the way and from which run.
pub fn waiting_status(progress: &WaitProgress, now: i64, style: Style) -> String {
    let several = progress.envs.len() > 1;
    let in_the_way = match progress.holders.as_slice() {
        [] => "free, but the waiters ahead go first".to_string(),
        holders => holders
            .iter()
            .map(|holder| {
                format!(
                    "{}held {} by {} (since {}, meta: {}), {}",
                    if several {
                        format!("{} ", holder.env)
                    } else {
                        String::new()
                    },
                    whole_seconds(Duration::from_millis(
                        now.saturating_sub(holder.created_at).max(0) as u64
                    )),
                    holder.holder_label(),
                    clock(now, holder.created_at),
                    holder.meta,
                    expiry(holder, now),
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    let rejoined = if progress.rejoined {
        " (joined again at the back: this process stalled)"
    } else {
        ""
    };
    // The first poll comes before any wait: no `waited 0ms`.
    let waited = match progress.waited < Duration::from_secs(1) {
        true => String::new(),
        false => format!("; waited {}", whole_seconds(progress.waited)),
    };
    format!(
        "Waiting for {}: {}{rejoined}; {in_the_way}{waited}",
        style.bold(&progress.envs.join(", ")),
        place_in_line(progress)
    )
}

/// A time spent, for a line a person reads while waiting: in seconds (`45s`, `1m30s`), never
/// in milliseconds; `<1s` under a second.
fn whole_seconds(span: Duration) -> String {
    match span < Duration::from_secs(1) {
        true => "<1s".into(),
        false => humanize(span),
    }
}

/// What a waiter says once when it finds its place in line gone and joins again at the back.
pub fn rejoined(progress: &WaitProgress) -> String {
    format!(
        "daplaya: lost the place in line for {} (this process stalled); joined again at the back",
        progress.envs.join(", ")
    )
}

/// What a waiter prints in a CI log at each poll: the line of the first spec (`Still locked at
/// env <ENV> by <USER>`, so log searches keep working; `in run <HOLDER>` when the run holding it
/// is not the user), then its place in line. A free env whose line goes first is held `by the
/// queue`.
pub fn still_locked(progress: &WaitProgress) -> String {
    let held = match progress.holders.as_slice() {
        [] => format!(
            "env {} by the queue",
            progress.envs.first().map_or("", String::as_str)
        ),
        holders => holders
            .iter()
            .map(|holder| format!("env {} by {}", holder.env, holder.holder_label()))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!("Still locked at {held} ({})", place_in_line(progress))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{self, Meta};
    use crate::model::Lock;
    use crate::store::StoreTime;

    fn held(env: &str, user: &str) -> Lock {
        let request = locks::LockRequest {
            envs: vec![env.into()],
            user: user.into(),
            holder: user.into(),
            meta: Meta::Given("https://ci/42".into()),
            uberlock: false,
            ttl: Duration::from_secs(600),
            supersede: false,
        };
        match locks::decide_lock(env, None, &request, StoreTime::exact(0)) {
            locks::Decision::Write { write, .. } => write.lock,
            other => panic!("a write, not {other:?}"),
        }
    }

    fn progress(envs: &[&str], holders: Vec<Lock>) -> WaitProgress {
        WaitProgress {
            envs: envs.iter().map(|env| env.to_string()).collect(),
            position: 2,
            waiting: 3,
            holders,
            waited: Duration::from_secs(30),
            rejoined: false,
        }
    }

    #[test]
    fn a_ci_log_line_begins_as_the_first_spec_wrote_it_then_gives_the_place() {
        assert_eq!(
            still_locked(&progress(&["prod"], vec![held("prod", "alice")])),
            "Still locked at env prod by alice (2nd in line, 3 waiting)"
        );
        assert_eq!(
            still_locked(&progress(&["eu", "us"], vec![held("us", "bob")])),
            "Still locked at env us by bob (2nd in line, 3 waiting)"
        );
        assert_eq!(
            still_locked(&progress(&["prod"], vec![])),
            "Still locked at env prod by the queue (2nd in line, 3 waiting)"
        );
    }

    #[test]
    fn the_terminal_line_gives_the_place_then_who_is_in_the_way() {
        let style = Style { color: false };
        let line = waiting_status(
            &progress(&["prod"], vec![held("prod", "alice")]),
            60_000,
            style,
        );
        assert!(
            line.starts_with("Waiting for prod: 2nd in line, 3 waiting; held 1m by alice (since "),
            "{line}"
        );
        assert!(
            line.ends_with("meta: https://ci/42), expires in 9m; waited 30s"),
            "{line}"
        );
        let free = waiting_status(&progress(&["eu", "us"], vec![]), 0, style);
        assert_eq!(
            free,
            "Waiting for eu, us: 2nd in line, 3 waiting; free, but the waiters ahead go first; waited 30s"
        );
    }

    #[test]
    fn a_run_holding_the_env_that_is_not_its_user_is_named() {
        let ci = Lock {
            holder: "github:acme/shop/runs/7/attempts/1".into(),
            ..held("prod", "octocat")
        };
        assert_eq!(
            still_locked(&progress(&["prod"], vec![ci.clone()])),
            "Still locked at env prod by octocat in run github:acme/shop/runs/7/attempts/1 (2nd in line, 3 waiting)"
        );
        let line = waiting_status(&progress(&["prod"], vec![ci]), 0, Style { color: false });
        assert!(
            line.contains("held <1s by octocat in run github:acme/shop/runs/7/attempts/1 (since"),
            "{line}"
        );
        let back = WaitProgress {
            rejoined: true,
            ..progress(&["prod"], vec![])
        };
        assert!(waiting_status(&back, 0, Style { color: false })
            .starts_with("Waiting for prod: 2nd in line, 3 waiting (joined again at the back: this process stalled); "));
    }

    #[test]
    fn a_wait_under_a_second_shows_no_milliseconds() {
        let style = Style { color: false };
        let first = WaitProgress {
            waited: Duration::from_millis(3),
            ..progress(&["prod"], vec![held("prod", "alice")])
        };
        let line = waiting_status(&first, 400, style);
        assert!(line.contains("; held <1s by alice (since "), "{line}");
        assert!(line.ends_with("expires in 10m"), "{line}");
        assert!(!line.contains("ms"), "{line}");
        let later = WaitProgress {
            waited: Duration::from_millis(1_400),
            ..first
        };
        assert!(waiting_status(&later, 400, style).ends_with("; waited 1s"));
    }

    #[test]
    fn places_in_line_read_as_english_ordinals() {
        let read: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            read,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
    }
}
