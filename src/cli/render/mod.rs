//! A report as human text, for people at a terminal or reading a CI log. Its JSON document
//! belongs to `ops::report`, shared with every other front door.

use crate::caller::UserSource;
use crate::duration::humanize;
use crate::error::Error;
use crate::human_time::{ago, clock, expiry, hold_outcome};
use crate::jobs::Ended;
use crate::locks::{Acquired, NotReleased, Released};
use crate::model::{Hold, Job, Lock};
use crate::ops::open::Notice;
use crate::ops::report::{JobList, Report};
use crate::slack::SIGNING_SECRET_VAR;

mod waiting;
pub use waiting::{rejoined, still_locked, waiting_status};

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
        lock.holder_label(),
        when(now, lock.created_at),
        expiry(lock, now),
        lock.meta,
        lock.id,
        lock.fencing_token
    )
}

/// A lock and, under it, its line: one waiter a line, in serving order.
fn lock_with_line(lock: &Lock, now: i64, style: Style) -> String {
    let first_wants_more = lock
        .queue
        .first()
        .is_some_and(|first| first.envs.iter().any(|env| env != &lock.env));
    let head = match (lock.active, first_wants_more) {
        (true, _) => lock_line(lock, now, style),
        // Free, but the first in line also wants an env that is held.
        (false, true) => format!(
            "{}  free; its line waits for other envs too",
            style.bold(&lock.env)
        ),
        // Just released: the first in line takes it when it next polls.
        (false, false) => format!(
            "{}  free; the first in line takes it at its next poll",
            style.bold(&lock.env)
        ),
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
                crate::run::fencing_tokens(locks)
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
        Released::Forced(lock) => format!(
            "{} {} (held by {} since {})",
            style.yellow("Forced the release of"),
            style.bold(&lock.env),
            lock.holder_label(),
            ago(now, lock.created_at)
        ),
        Released::Nothing(reason, lock) => {
            let why = match (reason, lock) {
                (NotReleased::HeldByOther, Some(lock)) => {
                    format!(
                        "{} is held by {}, not by you",
                        lock.env,
                        lock.holder_label()
                    )
                }
                (_, Some(lock)) => format!("{} is not locked", lock.env),
                (_, None) => "that env is not locked".into(),
            };
            format!("{}: {why}", style.yellow("Nothing released"))
        }
    }
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

/// One line (and a hint line when one helps) for an error. Giving way to a newer waiter
/// (`--supersede`) is what the caller asked for, not an error: it says so in yellow.
pub fn human_error(error: &Error, style: Style) -> String {
    let label = match error {
        Error::Superseded { .. } => style.yellow("Superseded:"),
        _ => style.red("error:"),
    };
    let mut text = format!("{label} {error}");
    if let Some(hint) = error.hint() {
        text.push_str(&format!("\n  hint: {hint}"));
    }
    text
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
            let (user, holder) = locks
                .first()
                .map_or(("", ""), |lock| (lock.user.as_str(), lock.holder.as_str()));
            format!(
                "{} could not release the uberlock on {} ({error}); it never expires: run daplaya locks release{envs} --user {user} --holder '{holder}' --uberlock",
                style.red("error:"),
                envs_of(locks),
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
