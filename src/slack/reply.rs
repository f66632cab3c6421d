//! What daplaya answers in Slack: a JSON message, `in_channel` for changes everyone should see,
//! `ephemeral` (only the caller sees it) for help, refusals, errors and lists. Everything a user
//! or the store supplied is escaped, so a meta of `<!channel>` cannot ping anyone.

use crate::duration::humanize;
use crate::error::Error;
use crate::human_time::{ago, clock, expiry, hold_outcome};
use crate::locks::{Acquired, NotReleased, DEFAULT_TTL};
use crate::model::{Hold, Lock};
use crate::ops::Report;
use serde::Serialize;
use std::time::Duration;

/// The most leases one answer lists; Slack truncates long messages.
pub const MAX_LISTED: usize = 50;

/// How many holds `history <ENV>` shows: the last few, for a glance.
pub const HISTORY_LISTED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    InChannel,
    Ephemeral,
}

/// A slash-command response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub response_type: Visibility,
    pub text: String,
}

impl Reply {
    fn ephemeral(text: String) -> Reply {
        Reply {
            response_type: Visibility::Ephemeral,
            text,
        }
    }

    fn in_channel(text: String) -> Reply {
        Reply {
            response_type: Visibility::InChannel,
            text,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({ "response_type": self.response_type, "text": self.text }).to_string()
    }
}

/// Slack's message escaping: only `&`, `<` and `>` are special.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn bold(text: &str) -> String {
    format!("*{}*", escape(text))
}

/// Who holds a lock: `*alice@acme.io*`, and the run when it is not the user itself.
fn holder(lock: &Lock) -> String {
    if lock.holder == lock.user {
        bold(&lock.user)
    } else {
        format!("{} in run `{}`", bold(&lock.user), escape(&lock.holder))
    }
}

/// `since 5m ago, expires in 15m (meta: ...)`
fn held_details(lock: &Lock, now: i64) -> String {
    format!(
        "since {}, {} (meta: {})",
        ago(now, lock.created_at),
        expiry(lock, now),
        escape(&lock.meta)
    )
}

pub fn help(command: &str, unknown: Option<&str>) -> Reply {
    let cmd = escape(command);
    let mut text = String::new();
    if let Some(word) = unknown {
        text.push_str(&format!("Unknown command `{}`.\n", escape(word)));
    }
    text.push_str(&format!(
        "*daplaya* keeps deploy locks, one holder per environment.\n\
         • `{cmd} lock &lt;ENV&gt; [META...]`: lock ENV for you; the lease lasts {ttl} and the same \
         command renews it. It never waits in line: if someone else holds ENV, you are told who, \
         and how many wait.\n\
         • `{cmd} uberlock &lt;ENV&gt; [META...]`: lock ENV until you release it; refuses everyone \
         else and preempts a normal lock.\n\
         • `{cmd} release &lt;ENV&gt;`: release your lock (or uberlock) on ENV, whichever of your \
         runs (a pipeline, a terminal, Slack) took it.\n\
         • `{cmd} force-release &lt;ENV&gt; &lt;REASON...&gt;`: release ENV whoever holds it; the \
         channel and the history are told who did it and why.\n\
         • `{cmd} leases [&lt;ENV&gt;]`: who holds which env, and who waits in line for it.\n\
         • `{cmd} history &lt;ENV&gt;`: the last {HISTORY_LISTED} holds of ENV and how each ended.\n\
         • `{cmd} help`: this text.",
        ttl = humanize(DEFAULT_TTL)
    ));
    Reply::ephemeral(text)
}

/// Bad input: the one-line error, its hint, and where to find help.
pub fn usage_error(command: &str, error: &Error) -> Reply {
    let mut text = format!(":warning: {}", escape(&error.to_string()));
    if let Some(hint) = error.hint() {
        text.push_str(&format!("\n{}", escape(&hint)));
    }
    text.push_str(&format!("\nSee `{} help`.", escape(command)));
    Reply::ephemeral(text)
}

pub fn locked(command: &str, lock: &Lock, acquired: &Acquired, now: i64) -> Reply {
    let (user, env, meta) = (bold(&lock.user), bold(&lock.env), escape(&lock.meta));
    let release = format!("`{} release {}`", escape(command), escape(&lock.env));
    let text = if lock.uberlock {
        let how = match acquired {
            Acquired::Renewed => format!("{user} still holds the uberlock on {env}"),
            Acquired::Upgraded => {
                format!("{user} uberlocked {env} (ノ≥∇≤)ノ, upgrading their lock")
            }
            Acquired::Preempted { preempted_user } => format!(
                "{user} uberlocked {env} (ノ≥∇≤)ノ, preempting {}",
                bold(preempted_user)
            ),
            Acquired::Acquired => format!("{user} uberlocked {env} (ノ≥∇≤)ノ"),
        };
        format!(":rotating_light: {how} (meta: {meta}). It never expires: {release} ends it.")
    } else {
        let how = match acquired {
            Acquired::Renewed => format!("{user} renewed the lock on {env}"),
            _ => format!("{user} locked {env}"),
        };
        format!(
            ":lock: {how} (meta: {meta}); the lease {}. `{} lock {}` renews it, {release} ends it.",
            expiry(lock, now),
            escape(command),
            escape(&lock.env),
        )
    };
    Reply::in_channel(text)
}

/// Someone else holds the env with a normal lock, or it is free but others wait in line for
/// it (they go first: Slack never joins the line): nothing changed.
pub fn busy(env: &str, holders: &[Lock], waiting: usize, now: i64) -> Reply {
    let in_line = match waiting {
        0 => String::new(),
        n => format!("; {n} waiting in line"),
    };
    Reply::ephemeral(match holders.first() {
        Some(lock) => format!(
            ":no_entry: {} is locked by {} {}{in_line}. Nothing changed: try again when they release it.",
            bold(&lock.env),
            holder(lock),
            held_details(lock, now)
        ),
        None => format!(
            ":no_entry: {} is free, but its line goes first ({waiting} waiting). Nothing changed: \
             try again when the line is empty.",
            bold(env)
        ),
    })
}

/// Someone else holds an uberlock: the contract's message, with the holder's details.
pub fn uberlocked(holder: &Lock, now: i64) -> Reply {
    Reply::ephemeral(format!(
        ":no_entry: {} is uberlocked (ノ≥∇≤)ノ by {} since {} (meta: {}). Nothing changed.",
        escape(&holder.env),
        escape(&holder.user),
        ago(now, holder.created_at),
        escape(&holder.meta)
    ))
}

pub fn released(lock: &Lock, now: i64) -> Reply {
    let what = if lock.uberlock {
        "the uberlock on "
    } else {
        ""
    };
    Reply::in_channel(format!(
        ":unlock: {} released {what}{} (held since {}).",
        bold(&lock.user),
        bold(&lock.env),
        ago(now, lock.created_at)
    ))
}

/// Someone else's lock broken on purpose: said in the channel, with why.
pub fn forced(by: &str, lock: &Lock, reason: &str, now: i64) -> Reply {
    Reply::in_channel(format!(
        ":warning: {} force-released {} from {} (held since {}). Reason: {}",
        bold(by),
        bold(&lock.env),
        holder(lock),
        ago(now, lock.created_at),
        escape(reason)
    ))
}

pub fn not_released(
    command: &str,
    env: &str,
    reason: &NotReleased,
    lock: Option<&Lock>,
    now: i64,
) -> Reply {
    let why = match (reason, lock) {
        (NotReleased::HeldByOther, Some(lock)) => format!(
            "{} is held by {}, not by you, {}. `{} force-release {} &lt;REASON&gt;` breaks it, on the record",
            bold(&lock.env),
            holder(lock),
            held_details(lock, now),
            escape(command),
            escape(&lock.env)
        ),
        _ => format!("{} is not locked", bold(env)),
    };
    Reply::ephemeral(format!("Nothing released: {why}."))
}

/// The member could not be told apart (Slack's Web API failed): nothing was done.
pub fn not_identified(error: &Error) -> Reply {
    Reply::ephemeral(format!(
        ":warning: daplaya could not tell who you are ({}). Nothing changed: try again, or ask \
         whoever runs daplaya to map your Slack member id to your user.",
        escape(&error.to_string())
    ))
}

pub fn leases(env: Option<&str>, locks: &[Lock], now: i64) -> Reply {
    if locks.is_empty() {
        return Reply::ephemeral(match env {
            Some(env) => format!("{} is not locked.", bold(env)),
            None => "No active locks.".into(),
        });
    }
    let mut lines = vec!["Active locks:".to_string()];
    lines.extend(locks.iter().take(MAX_LISTED).map(|lock| {
        let kind = if lock.uberlock {
            "uberlocked"
        } else {
            "locked"
        };
        if !lock.active {
            // Free, but its waiters also want an env that is held.
            return format!("• {}: free{}", bold(&lock.env), line(lock, now));
        }
        format!(
            "• {}: {kind} by {} {}{}",
            bold(&lock.env),
            holder(lock),
            held_details(lock, now),
            line(lock, now)
        )
    }));
    if locks.len() > MAX_LISTED {
        lines.push(format!(
            "… and {} more (see `daplaya locks list`).",
            locks.len() - MAX_LISTED
        ));
    }
    Reply::ephemeral(lines.join("\n"))
}

/// `; 2 waiting: 1. *bob* since 1m ago (meta: ...), 2. *carol* since 5s ago (meta: CLI;
/// supersede)`: an env's line in serving order, or nothing when nobody waits.
fn line(lock: &Lock, now: i64) -> String {
    if lock.queue.is_empty() {
        return String::new();
    }
    let waiters: Vec<String> = lock
        .queue
        .iter()
        .enumerate()
        .map(|(i, waiter)| {
            format!(
                "{}. {} since {} (meta: {}{})",
                i + 1,
                bold(&waiter.user),
                ago(now, waiter.joined_at),
                escape(&waiter.meta),
                if waiter.supersede { "; supersede" } else { "" }
            )
        })
        .collect();
    format!("; {} waiting: {}", lock.queue.len(), waiters.join(", "))
}

/// The last holds of an env, newest first.
pub fn history(env: &str, holds: &[Hold], now: i64) -> Reply {
    if holds.is_empty() {
        return Reply::ephemeral(format!("{} has no holds in its history.", bold(env)));
    }
    let mut lines = vec![format!("Last holds of {}, newest first:", bold(env))];
    lines.extend(holds.iter().map(|hold| {
        let kind = if hold.uberlock {
            "uberlocked"
        } else {
            "locked"
        };
        format!(
            "• {} {kind} {} ({}): {} (meta: {})",
            bold(&hold.user),
            ago(now, hold.acquired_at),
            clock(now, hold.acquired_at),
            escape(&hold_outcome(hold, now)),
            escape(&hold.meta)
        )
    }));
    Reply::ephemeral(lines.join("\n"))
}

/// A report Slack has no words of its own for: its JSON document, for the asker only.
pub fn document(report: &Report) -> Reply {
    Reply::ephemeral(format!("```{}```", report.to_json()))
}

/// The store failed: the error's one line (never a credential) and its hint.
pub fn store_failed(command: &str, env: Option<&str>, error: &Error) -> Reply {
    let mut text = format!(
        ":warning: The lock store failed: {}",
        escape(&error.to_string())
    );
    if let Some(hint) = error.hint() {
        text.push_str(&format!(" ({})", escape(&hint)));
    }
    text.push_str(&format!(
        ". Check with `{} leases{}`.",
        escape(command),
        env.map(|e| format!(" {}", escape(e))).unwrap_or_default()
    ));
    Reply::ephemeral(text)
}

/// The store did not answer in time: the change may or may not have happened.
pub fn timed_out(command: &str, env: Option<&str>, deadline: Duration) -> Reply {
    Reply::ephemeral(format!(
        ":hourglass: The lock store did not answer within {:.1} s, so whether this took effect \
         is unknown. Check with `{} leases{}`.",
        deadline.as_secs_f64(),
        escape(command),
        env.map(|e| format!(" {}", escape(e))).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(user: &str, meta: &str, uberlock: bool) -> Lock {
        Lock {
            id: "id".into(),
            user: user.into(),
            holder: user.into(),
            env: "prod".into(),
            created_at: 0,
            updated_at: 0,
            active: true,
            uberlock,
            meta: meta.into(),
            expires_at: (!uberlock).then_some(20 * 60_000),
            fencing_token: 1,
            acquisitions: 1,
            revision: 1,
            queue: vec![],
            next_ticket: 0,
        }
    }

    fn waiter(user: &str, meta: &str, supersede: bool, joined_at: i64) -> crate::model::Waiter {
        crate::model::Waiter {
            id: user.into(),
            ticket: 0,
            user: user.into(),
            meta: meta.into(),
            joined_at,
            seen_at: joined_at,
            stale_after: 2_000,
            supersede,
            envs: vec!["prod".into()],
        }
    }

    #[test]
    fn replies_serialise_as_slack_expects() {
        let reply = help("/daplaya", None);
        let json: serde_json::Value = serde_json::from_str(&reply.to_json()).unwrap();
        assert_eq!(json["response_type"], "ephemeral");
        assert!(json["text"]
            .as_str()
            .unwrap()
            .contains("/daplaya lock &lt;ENV&gt;"));
        let changed = locked("/daplaya", &lock("bob", "x", false), &Acquired::Acquired, 0);
        assert!(changed
            .to_json()
            .contains(r#""response_type":"in_channel""#));
    }

    #[test]
    fn user_text_is_escaped() {
        let reply = busy(
            "prod",
            &[lock("<!channel>", "a & <b>", false)],
            0,
            5 * 60_000,
        );
        assert!(!reply.text.contains("<!channel>"), "{}", reply.text);
        assert!(reply.text.contains("&lt;!channel&gt;"));
        assert!(reply.text.contains("a &amp; &lt;b&gt;"));
        assert!(reply.text.contains("since 5m ago"), "{}", reply.text);
        assert!(reply.text.contains("expires in 15m"), "{}", reply.text);
    }

    #[test]
    fn a_busy_env_says_how_many_wait_and_a_free_one_with_a_line_says_they_go_first() {
        let holder = lock("alice", "https://ci/1", false);
        let busy_with_line = busy("prod", std::slice::from_ref(&holder), 2, 60_000);
        assert!(
            busy_with_line
                .text
                .contains("(meta: https://ci/1); 2 waiting in line. Nothing changed"),
            "{}",
            busy_with_line.text
        );
        let free = busy("prod", &[], 3, 0);
        assert_eq!(
            free.text,
            ":no_entry: *prod* is free, but its line goes first (3 waiting). Nothing changed: try again when the line is empty."
        );
    }

    #[test]
    fn leases_show_each_line_in_serving_order() {
        let mut held = lock("alice", "m", false);
        held.queue = vec![
            waiter("bob", "https://ci/2", false, 0),
            waiter("<carol>", "CLI", true, 30_000),
        ];
        let reply = leases(Some("prod"), &[held], 60_000);
        assert!(
            reply.text.ends_with(
                "; 2 waiting: 1. *bob* since 1m ago (meta: https://ci/2), 2. *&lt;carol&gt;* since 30s ago (meta: CLI; supersede)"
            ),
            "{}",
            reply.text
        );
    }

    #[test]
    fn refusals_name_the_holder_and_meta() {
        let holder = lock("alice", "https://ci/1", true);
        let reply = uberlocked(&holder, 60_000);
        assert_eq!(reply.response_type, Visibility::Ephemeral);
        assert_eq!(
            reply.text,
            ":no_entry: prod is uberlocked (ノ≥∇≤)ノ by alice since 1m ago (meta: https://ci/1). Nothing changed."
        );
    }

    #[test]
    fn long_lists_are_capped() {
        let many: Vec<Lock> = (0..MAX_LISTED + 3).map(|_| lock("a", "m", false)).collect();
        let reply = leases(None, &many, 0);
        assert_eq!(reply.text.lines().count(), MAX_LISTED + 2);
        assert!(reply
            .text
            .ends_with("… and 3 more (see `daplaya locks list`)."));
    }
}
