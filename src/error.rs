//! One error type for the whole crate. Each variant knows its exit code and its stable string
//! code; the CLI and the JS bindings map errors through these two methods and nowhere else.
//! A refusal of a lock carries what the reader needs to act on it (who holds the env, until
//! when, why, who waits): its message says it, and its fields (`ops::report::error_fields`)
//! give it to programs.

use crate::duration::humanize;
use crate::human_time::{clock, until};
use crate::model::{now_ms, Lock, Waiter};
use std::fmt;
use std::time::Duration;

/// Exit codes users can rely on (documented in docs/cli.md, Exit codes).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const LOCK_BUSY: i32 = 3;
    pub const UBERLOCKED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    /// A `--supersede` waiter gave way to a newer waiter.
    pub const SUPERSEDED: i32 = 6;
    /// A release by the lock's user from another run than the one holding it.
    pub const HELD_BY_OTHER_RUN: i32 = 7;
    /// `locks run`: the command exists but could not be executed (as `env` and shells use it).
    pub const CANNOT_EXECUTE: i32 = 126;
    /// `locks run`: no such command (as `env` and shells use it).
    pub const COMMAND_NOT_FOUND: i32 = 127;
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("{0}")]
    Config(String),
    /// Someone else holds the env, or others are first in its line: the request did not wait,
    /// or gave up waiting.
    #[error("{0}")]
    LockBusy(Box<Busy>),
    /// Someone else's uberlock (as listed) is on the env.
    #[error("{} is uberlocked (ノ≥∇≤)ノ by {}{}", .0.env, .0.holder_label(), meta_note(&.0.meta))]
    Uberlocked(Box<Lock>),
    /// A `--supersede` waiter gave way to `by`, a newer waiter.
    #[error("gave way on {env} to a newer waiter: {} ({})", by.user, by.meta)]
    Superseded { env: String, by: Box<Waiter> },
    /// The user releasing holds the env, but from another run (`holder`): nothing changed.
    #[error("{env} is held by another run of {user}: {holder}")]
    HeldByOtherRun {
        env: String,
        user: String,
        holder: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("table {table} does not exist")]
    TableMissing { table: String },
    #[error("table {table} exists with another key schema: {detail}")]
    SchemaMismatch { table: String, detail: String },
    #[error("{0}")]
    Store(String),
    /// A row read from the store holds a value no write of daplaya makes: it is refused
    /// whole, naming the env and the value, rather than decided on.
    #[error("the {row} of env {env} in {place} is invalid: {detail}")]
    InvalidRow {
        row: &'static str,
        env: String,
        place: String,
        detail: String,
    },
    #[error("lost the lock on {env} to {to}")]
    LeaseLost { env: String, to: LostTo },
    /// No renewal succeeded before the lease ran out; `source` is the last failure.
    #[error("could not renew the lock on {env} before its lease ran out ({source})")]
    LeaseExpired {
        env: String,
        #[source]
        source: std::sync::Arc<Error>,
    },
    #[error("cannot run {program}: command not found")]
    CommandNotFound {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {program}: {}", not_executable(source))]
    CannotExecute {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed after it started listening.
    #[error("{context}: {source}")]
    Server {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a lock request went without an env: what was in its way when it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub env: String,
    /// The other user's lock on the env, as listed; `None` when the env is free but others
    /// in its line go first.
    pub holder: Option<Lock>,
    /// The env's line in serving order, without the request itself.
    pub queue: Vec<Waiter>,
    /// How long the request waited before it gave up; `None` when it did not wait.
    pub waited: Option<Duration>,
}

impl Busy {
    /// `prod is locked by alice until 14:22:05, in 19m (meta: https://ci/42); 2 waiting in
    /// line`, or after a wait `gave up waiting for prod after 30s: locked by alice ...`.
    fn message(&self, now: i64) -> String {
        let head = match self.waited {
            Some(waited) => format!(
                "gave up waiting for {} after {}: ",
                self.env,
                humanize(waited)
            ),
            None => format!("{} is ", self.env),
        };
        let waiting = match self.queue.len() {
            0 => String::new(),
            n => format!("{n} waiting in line"),
        };
        let Some(holder) = &self.holder else {
            return format!("{head}free, but {waiting} go first");
        };
        let until = match holder.expires_at {
            Some(at) => format!("until {}, {}", clock(now, at), until(now, at)),
            None => "with no expiry".into(),
        };
        let line = match waiting.is_empty() {
            true => String::new(),
            false => format!("; {waiting}"),
        };
        format!(
            "{head}locked by {} {until}{}{line}",
            holder.holder_label(),
            meta_note(&holder.meta)
        )
    }
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(now_ms()))
    }
}

/// Where a lock held by this process went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostTo {
    /// Someone else's lock (as read) holds the env now.
    Holder(Box<Lock>),
    /// Its hold was released (by an uberlock's holder, or a release from elsewhere).
    Released,
    /// The env's row is gone.
    Gone,
}

impl fmt::Display for LostTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostTo::Holder(lock) => f.write_str(&lock.holder_label()),
            LostTo::Released => f.write_str("nobody (it was released)"),
            LostTo::Gone => f.write_str("nobody (its row is gone)"),
        }
    }
}

/// ` (meta: INC-42)` after a holder's name: why it holds the env; nothing without a meta.
fn meta_note(meta: &str) -> String {
    match meta.is_empty() {
        true => String::new(),
        false => format!(" (meta: {meta})"),
    }
}

/// Why a command that exists could not be executed, in words.
fn not_executable(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (is it an executable file?)".into()
        }
        _ => error.to_string(),
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } | Error::Config(_) | Error::Ambiguous(_) | Error::Listen { .. } => {
                exit::USAGE
            }
            Error::LockBusy(_) => exit::LOCK_BUSY,
            Error::Uberlocked(_) => exit::UBERLOCKED,
            Error::NotFound(_) => exit::NOT_FOUND,
            Error::Superseded { .. } => exit::SUPERSEDED,
            Error::HeldByOtherRun { .. } => exit::HELD_BY_OTHER_RUN,
            Error::TableMissing { .. }
            | Error::SchemaMismatch { .. }
            | Error::Store(_)
            | Error::InvalidRow { .. }
            | Error::LeaseLost { .. }
            | Error::LeaseExpired { .. }
            | Error::Server { .. } => exit::FAILURE,
            Error::CommandNotFound { .. } => exit::COMMAND_NOT_FOUND,
            Error::CannotExecute { .. } => exit::CANNOT_EXECUTE,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// Stable code carried by JS errors (`error.code`) and `--json` error documents.
    pub fn code(&self) -> &'static str {
        match self {
            // A busy port or a bad address: choose another, as with any bad input.
            Error::Usage { .. } | Error::Listen { .. } => "INVALID_ARGUMENT",
            Error::Config(_) => "STORE_NOT_CONFIGURED",
            Error::LockBusy(_) => "LOCK_BUSY",
            Error::Uberlocked(_) => "UBERLOCKED",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Superseded { .. } => "SUPERSEDED",
            Error::HeldByOtherRun { .. } => "HELD_BY_OTHER_RUN",
            Error::Ambiguous(_) => "AMBIGUOUS",
            Error::TableMissing { .. } => "TABLE_MISSING",
            Error::SchemaMismatch { .. } => "SCHEMA_MISMATCH",
            // The store did not answer in time to keep the lease.
            Error::Store(_) | Error::LeaseExpired { .. } => "STORE_UNAVAILABLE",
            Error::LeaseLost { .. } => "LEASE_LOST",
            Error::InvalidRow { .. } => "INVALID_ROW",
            Error::CommandNotFound { .. } => "COMMAND_NOT_FOUND",
            Error::CannotExecute { .. } => "CANNOT_EXECUTE",
            Error::Server { .. } => "SERVER_FAILED",
            Error::Interrupted => "INTERRUPTED",
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::HeldByOtherRun { env, holder, .. } => Some(format!(
                "release it from that run (or give --holder {holder}); to break it: daplaya locks release --env {env} --force --reason <WHY>"
            )),
            Error::TableMissing { .. } => Some("run `daplaya init` to create the tables".into()),
            Error::InvalidRow { .. } => {
                Some("nothing was written; correct or delete that row in the store".into())
            }
            Error::Listen { .. } => {
                Some("choose another --host or --port (--port 0 picks a free one)".into())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(meta: &str) -> Lock {
        Lock {
            id: "id".into(),
            user: "alice".into(),
            holder: "alice".into(),
            env: "prod".into(),
            created_at: 0,
            updated_at: 0,
            active: true,
            uberlock: false,
            meta: meta.into(),
            expires_at: Some(20 * 60_000),
            fencing_token: 1,
            acquisitions: 1,
            revision: 1,
            queue: vec![],
            next_ticket: 0,
        }
    }

    fn waiter(user: &str) -> Waiter {
        Waiter {
            id: user.into(),
            ticket: 0,
            user: user.into(),
            meta: "CLI".into(),
            joined_at: 0,
            seen_at: 0,
            stale_after: 1,
            supersede: false,
            envs: vec!["prod".into()],
        }
    }

    #[test]
    fn a_refusal_says_who_until_when_why_and_who_waits() {
        let busy = Busy {
            env: "prod".into(),
            holder: Some(holder("https://ci/42")),
            queue: vec![waiter("bob"), waiter("carol")],
            waited: None,
        };
        let said = busy.message(60_000);
        assert!(said.starts_with("prod is locked by alice until "), "{said}");
        assert!(
            said.ends_with(", in 19m (meta: https://ci/42); 2 waiting in line"),
            "{said}"
        );
        let gave_up = Busy {
            waited: Some(Duration::from_secs(30)),
            queue: vec![],
            holder: Some(holder("")),
            ..busy.clone()
        };
        let said = gave_up.message(60_000);
        assert!(
            said.starts_with("gave up waiting for prod after 30s: locked by alice until "),
            "{said}"
        );
        assert!(said.ends_with(", in 19m"), "{said}");
        let queued = Busy {
            holder: None,
            ..busy
        };
        assert_eq!(
            queued.message(60_000),
            "prod is free, but 2 waiting in line go first"
        );
    }

    #[test]
    fn an_uberlock_refusal_gives_its_meta() {
        let mut uber = holder("INC-42: payments down");
        uber.uberlock = true;
        assert_eq!(
            Error::Uberlocked(Box::new(uber)).to_string(),
            "prod is uberlocked (ノ≥∇≤)ノ by alice (meta: INC-42: payments down)"
        );
    }
}
