//! A report as human text, for people at a terminal or reading a CI log. Its JSON document
//! belongs to `ops::report`, shared with every other front door.

use crate::caller::UserSource;
use crate::duration::humanize;
use crate::error::Error;
use crate::human_time::{ago, clock, expiry, hold_outcome};
use crate::jobs::Ended;
use crate::locks::{Acquired, NotReleased, Released, WaitProgress};
use crate::model::{Hold, Job, Lock};
use crate::ops::open::Notice;
use crate::ops::report::{JobList, Report};
use crate::slack::SIGNING_SECRET_VAR;
use std::time::Duration;

/// ANSI styling, applied only when the caller decided colour is wanted.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// `12m ago (14:02:11)`: relative first, local time for looking things up.
fn when(now: i64, at: i64) -> String {
    format!("{} ({})", ago(now, at), clock(now, at))
}

fn lock_line(lock: &Lock, now: i64, style: Style) -> String {
    let kind = if lock.uberlock {
        "uberlocked"
    } else {
        "locked"
    };
    format!(
        "{}  {kind} by {}  since {}  {}  meta: {}  (id {}, token {})",
        style.bold(&lock.env),
        lock.user,
        when(now, lock.created_at),
        expiry(lock, now),
        lock.meta,
        lock.id,
        lock.fencing_token
    )
}

/// A lock and, under it, its line: one waiter a line, in serving order.
fn lock_with_line(lock: &Lock, now: i64, style: Style) -> String {
    let head = if lock.active {
        lock_line(lock, now, style)
    } else {
        // Free, but its waiters also want an env that is held.
        format!(
            "{}  free; its line waits for other envs too",
            style.bold(&lock.env)
        )
    };
    let mut lines = vec![head];
    lines.extend(lock.queue.iter().enumerate().map(|(i, waiter)| {
        let supersede = if waiter.supersede {
            "  (supersede)"
        } else {
            ""
        };
        format!(
            "  {}. {}  waiting since {}  meta: {}{supersede}",
            i + 1,
            waiter.user,
            when(now, waiter.joined_at),
            waiter.meta
        )
    }));
    lines.join("\n")
}

/// The envs of some locks, as a list for people: `eu, us`.
fn envs_of(locks: &[Lock]) -> String {
    locks
        .iter()
        .map(|lock| lock.env.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn hold_line(hold: &Hold, now: i64) -> String {
    let kind = if hold.uberlock { "uberlock" } else { "lock" };
    format!(
        "{}  {}  {kind}  {}  meta: {}  (id {}, token {})",
        when(now, hold.acquired_at),
        hold.user,
        hold_outcome(hold, now),
        hold.meta,
        hold.id,
        hold.fencing_token
    )
}

fn job_line(job: &Job, now: i64) -> String {
    let state = match (job.ended, job.skipped) {
        (Some(at), true) => format!("skipped {}", ago(now, at)),
        (Some(at), false) => format!("ended {}", ago(now, at)),
        (None, _) => "running".into(),
    };
    format!(
        "{}  {} at {}  by {}  started {}  {state}",
        job.id,
        job.jobname,
        job.version,
        job.user,
        when(now, job.started)
    )
}

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

/// The live status line of a waiter at a terminal: its place, then who is in the way.
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
                    humanize(Duration::from_millis(
                        now.saturating_sub(holder.created_at).max(0) as u64
                    )),
                    holder.user,
                    clock(now, holder.created_at),
                    holder.meta,
                    expiry(holder, now),
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    format!(
        "Waiting for {}: {}; {in_the_way}; waited {}",
        style.bold(&progress.envs.join(", ")),
        place_in_line(progress),
        humanize(progress.waited)
    )
}

/// What a waiter says once when it finds its place in line gone and joins again at the back.
pub fn rejoined(progress: &WaitProgress) -> String {
    format!(
        "daplaya: lost the place in line for {} (this process stalled); joined again at the back",
        progress.envs.join(", ")
    )
}

fn locked_line(lock: &Lock, acquired: &Acquired, now: i64, style: Style) -> String {
    let what = if lock.uberlock {
        "Uberlocked"
    } else {
        "Locked"
    };
    let head = match acquired {
        Acquired::Acquired => format!(
            "{} {} for {}",
            style.green(what),
            style.bold(&lock.env),
            lock.user
        ),
        Acquired::Renewed => format!(
            "{} {} for {} (renewed)",
            style.green(what),
            style.bold(&lock.env),
            lock.user
        ),
        Acquired::Upgraded => format!(
            "{} {} for {} (upgraded from a normal lock)",
            style.green(what),
            style.bold(&lock.env),
            lock.user
        ),
        Acquired::Preempted { preempted_user } => format!(
            "{} {} for {}, preempting {preempted_user}",
            style.green(what),
            style.bold(&lock.env),
            lock.user
        ),
    };
    format!(
        "{head}; {}, lock id {}, fencing token {}",
        expiry(lock, now),
        lock.id,
        lock.fencing_token
    )
}

pub fn human(report: &Report, now: i64, style: Style) -> String {
    match report {
        Report::Init { store, tables } => {
            let mut lines = vec![format!("Store: {store}")];
            lines.extend(tables.iter().map(|t| {
                let state = if t.created { "created" } else { "ready" };
                format!("  {}: {state}", t.name)
            }));
            lines.join("\n")
        }
        Report::Locks { env, locks } if locks.is_empty() => match env {
            Some(env) => format!("{env} is not locked"),
            None => "No active locks".into(),
        },
        Report::Locks { locks, .. } => locks
            .iter()
            .map(|lock| lock_with_line(lock, now, style))
            .collect::<Vec<_>>()
            .join("\n"),
        Report::History { env, holds } if holds.is_empty() => {
            format!("{env} has no holds in its history")
        }
        Report::History { env, holds } => {
            let mut lines = vec![format!(
                "{}: {} newest first",
                style.bold(env),
                match holds.len() {
                    1 => "1 hold,".to_string(),
                    n => format!("{n} holds,"),
                }
            )];
            lines.extend(
                holds
                    .iter()
                    .map(|hold| format!("  {}", hold_line(hold, now))),
            );
            lines.join("\n")
        }
        Report::Locked { locks, .. } => locks
            .iter()
            .map(|(lock, acquired)| locked_line(lock, acquired, now, style))
            .collect::<Vec<_>>()
            .join("\n"),
        Report::Busy { holders, waiting } => {
            let mut lines: Vec<String> = holders
                .iter()
                .map(|holder| {
                    format!(
                        "{}: {}",
                        style.yellow("Busy"),
                        lock_line(holder, now, style)
                    )
                })
                .collect();
            if *waiting > 0 || lines.is_empty() {
                lines.push(format!("{waiting} waiting in line"));
            }
            lines.join("\n")
        }
        Report::Released { released, .. } => released
            .iter()
            .map(|released| released_line(released, now, style))
            .collect::<Vec<_>>()
            .join("\n"),
        Report::Ran {
            exit_code, locks, ..
        } => match locks.as_slice() {
            [lock] => format!(
                "The command exited with {exit_code} under the lock on {} (fencing token {})",
                lock.env, lock.fencing_token
            ),
            locks => format!(
                "The command exited with {exit_code} under the locks on {} (fencing tokens {})",
                envs_of(locks),
                fencing_tokens(locks)
            ),
        },
        Report::JobStarted(job) => job.id.clone(),
        Report::Job(job) => job_line(job, now),
        Report::JobEnded(Ended { job, changed: true }) => {
            let how = if job.skipped { "skipped" } else { "ended" };
            format!("Job {} ({} at {}) {how}", job.id, job.jobname, job.version)
        }
        Report::JobEnded(Ended {
            job,
            changed: false,
        }) => format!(
            "{}: job {} ({} at {}) had ended already",
            style.yellow("Nothing changed"),
            job.id,
            job.jobname,
            job.version
        ),
        Report::Jobs {
            jobname,
            list,
            window,
            jobs,
        } if jobs.is_empty() => {
            let kind = match list {
                JobList::Active => "active",
                JobList::Skipped => "skipped",
            };
            format!("No {kind} {jobname} jobs in the last {}", humanize(*window))
        }
        Report::Jobs { jobs, .. } => jobs
            .iter()
            .map(|job| job_line(job, now))
            .collect::<Vec<_>>()
            .join("\n"),
        Report::Serving(serving) => format!(
            "daplaya: serving {} ({}; store: {}); stop with Ctrl-C",
            serving.page_url,
            match &serving.slack_url {
                Some(url) => format!("Slack commands at {url}"),
                None => format!("no Slack commands: {SIGNING_SECRET_VAR} is not set"),
            },
            serving.store
        ),
    }
}

fn released_line(released: &Released, now: i64, style: Style) -> String {
    match released {
        Released::Released(lock) => format!(
            "{} {} (held by {} since {})",
            style.green("Released"),
            style.bold(&lock.env),
            lock.user,
            ago(now, lock.created_at)
        ),
        Released::Nothing(reason, lock) => {
            let why = match (reason, lock) {
                (NotReleased::HeldByOther, Some(lock)) => {
                    format!("{} is held by {}, not by you", lock.env, lock.user)
                }
                (_, Some(lock)) => format!("{} is not locked", lock.env),
                (_, None) => "that env is not locked".into(),
            };
            format!("{}: {why}", style.yellow("Nothing released"))
        }
    }
}

/// `eu=5,us=7`: each env's fencing token, in order (as `DAPLAYA_FENCING_TOKENS` has them).
pub fn fencing_tokens(locks: &[Lock]) -> String {
    crate::run::fencing_tokens(locks)
}

/// The one stderr line naming the user a command runs as, when the caller did not give it.
pub fn defaulted_user(user: &str, source: UserSource) -> String {
    format!("daplaya: user {user} (from {})", source.name())
}

/// What the user should know about the store that was chosen for them.
pub fn notice(notice: &Notice) -> String {
    match notice {
        Notice::EmbeddedStore { path } => format!(
            "daplaya: using the embedded store at {} (set DAPLAYA_STORE or AWS settings to share locks)",
            path.display()
        ),
    }
}

/// One line (and a hint line when one helps) for an error.
pub fn human_error(error: &Error, style: Style) -> String {
    let mut text = format!("{} {error}", style.red("error:"));
    if let Some(hint) = error.hint() {
        text.push_str(&format!("\n  hint: {hint}"));
    }
    text
}

/// What a waiter prints in a CI log at each poll: the line the seeds wrote (`Still locked at
/// env <ENV> by <USER>`, so log searches keep working), then its place in line. A free env
/// whose line goes first is held `by the queue`.
pub fn still_locked(progress: &WaitProgress) -> String {
    let held = match progress.holders.as_slice() {
        [] => format!(
            "env {} by the queue",
            progress.envs.first().map_or("", String::as_str)
        ),
        holders => holders
            .iter()
            .map(|holder| format!("env {} by {}", holder.env, holder.user))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!("Still locked at {held} ({})", place_in_line(progress))
}

/// The stderr line for a step of `locks run` (its stdout belongs to the command).
pub fn run_event(event: &crate::run::Event<'_>, now: i64, style: Style) -> String {
    use crate::run::Event;
    match event {
        Event::Waiting(progress) => still_locked(progress),
        Event::Locked(locks) => human(
            &Report::Locked {
                locks: locks.to_vec(),
                listed: false,
            },
            now,
            style,
        ),
        Event::RenewalFailed {
            locks,
            error,
            lease_left,
        } => format!(
            "{} could not renew the lock on {} ({error}); retrying while the lease lasts ({} left)",
            style.yellow("warning:"),
            envs_of(locks),
            humanize(*lease_left)
        ),
        Event::Lost {
            error,
            stopping: true,
        } => format!("{} {error}; stopping the command", style.red("error:")),
        Event::Lost {
            error,
            stopping: false,
        } => format!("{} {error} while the command ran", style.red("error:")),
        Event::Killed { after } => format!(
            "{} the command was still running {} after SIGTERM; sent SIGKILL",
            style.red("error:"),
            humanize(*after)
        ),
        Event::Released(locks) => locks
            .iter()
            .map(|lock| released_line(&Released::Released(lock.clone()), now, style))
            .collect::<Vec<_>>()
            .join("\n"),
        Event::ReleaseFailed { locks, error } if locks.iter().any(|lock| lock.uberlock) => {
            let envs: String = locks
                .iter()
                .map(|lock| format!(" --env {}", lock.env))
                .collect();
            format!(
                "{} could not release the uberlock on {} ({error}); it never expires: run daplaya locks release{envs} --user {} --uberlock",
                style.red("error:"),
                envs_of(locks),
                locks.first().map_or("", |lock| lock.user.as_str())
            )
        }
        Event::ReleaseFailed { locks, error } => format!(
            "{} could not release the lock on {} ({error}); its lease {}",
            style.red("error:"),
            envs_of(locks),
            locks
                .first()
                .map_or_else(String::new, |lock| expiry(lock, now))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{self, Meta};
    use crate::store::StoreTime;

    fn held(env: &str, user: &str) -> Lock {
        let request = locks::LockRequest {
            envs: vec![env.into()],
            user: user.into(),
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
    fn a_ci_log_line_begins_as_the_seeds_wrote_it_then_gives_the_place() {
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
