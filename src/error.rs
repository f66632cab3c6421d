//! One error type for the whole crate. Each variant knows its exit code and its stable string
//! code; the CLI and the JS bindings map errors through these two methods and nowhere else.

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
    /// `holder` is "the queue" when the env is free but `waiting` others are first.
    #[error("{env} is locked by {holder}{}", waiting_note(*waiting))]
    LockBusy {
        env: String,
        holder: String,
        waiting: usize,
    },
    #[error("{env} is uberlocked (ノ≥∇≤)ノ by {holder}")]
    Uberlocked { env: String, holder: String },
    /// A `--supersede` waiter gave way: `by` names the newer waiter (user and meta).
    #[error("gave way on {env} to a newer waiter: {by}")]
    Superseded { env: String, by: String },
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
    #[error("lost the lock on {env} to {holder}")]
    LeaseLost { env: String, holder: String },
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

/// How many wait in line, after the holder's name; nothing when nobody does.
fn waiting_note(waiting: usize) -> String {
    match waiting {
        0 => String::new(),
        n => format!(" ({n} waiting)"),
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
            Error::LockBusy { .. } => exit::LOCK_BUSY,
            Error::Uberlocked { .. } => exit::UBERLOCKED,
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
            Error::LockBusy { .. } => "LOCK_BUSY",
            Error::Uberlocked { .. } => "UBERLOCKED",
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
