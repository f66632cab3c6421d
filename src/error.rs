//! One error type for the whole crate. Each variant knows its exit code and its stable string
//! code; the CLI and the JS bindings map errors through these two methods and nowhere else.

/// Exit codes users can rely on (documented in README.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const LOCK_BUSY: i32 = 3;
    pub const UBERLOCKED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
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
    #[error("{env} is locked by {holder}")]
    LockBusy { env: String, holder: String },
    #[error("{env} is uberlocked (ノ≥∇≤)ノ by {holder}")]
    Uberlocked { env: String, holder: String },
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
    #[error("lost the lock on {env} to {holder}")]
    LeaseLost { env: String, holder: String },
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
            Error::Usage { .. } | Error::Config(_) | Error::Ambiguous(_) => exit::USAGE,
            Error::LockBusy { .. } => exit::LOCK_BUSY,
            Error::Uberlocked { .. } => exit::UBERLOCKED,
            Error::NotFound(_) => exit::NOT_FOUND,
            Error::TableMissing { .. }
            | Error::SchemaMismatch { .. }
            | Error::Store(_)
            | Error::LeaseLost { .. } => exit::FAILURE,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// Stable code carried by JS errors (`error.code`) and `--json` error documents.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage { .. } => "INVALID_ARGUMENT",
            Error::Config(_) => "STORE_NOT_CONFIGURED",
            Error::LockBusy { .. } => "LOCK_BUSY",
            Error::Uberlocked { .. } => "UBERLOCKED",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Ambiguous(_) => "AMBIGUOUS",
            Error::TableMissing { .. } => "TABLE_MISSING",
            Error::SchemaMismatch { .. } => "SCHEMA_MISMATCH",
            Error::Store(_) => "STORE_UNAVAILABLE",
            Error::LeaseLost { .. } => "LEASE_LOST",
            Error::Interrupted => "INTERRUPTED",
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            Error::TableMissing { .. } => Some("run `daplaya init` to create the tables"),
            _ => None,
        }
    }
}
