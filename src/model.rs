//! The records daplaya stores, and the validation every name passes before it reaches a store.
//! Their fields keep the names of the first spec (the two documents that first defined
//! daplaya's commands and tables), as stored and as `--json` shows them.

use crate::error::{Error, Result};
use serde::Serialize;

mod legible;

pub const MAX_NAME_LEN: usize = 128;
pub const MAX_USER_LEN: usize = 256;
pub const MAX_META_LEN: usize = 1024;
pub const MAX_HOLDER_LEN: usize = 256;

/// The largest stamp a row may carry (epoch ms): 13 digits, the year 2286, as [`hold_key`]
/// writes them.
pub const MAX_STAMP: i64 = 9_999_999_999_999;
/// The largest count or token a row may carry: exact in a JavaScript number (2^53 - 1), so
/// every front door shows it as stored, with room to count on.
pub const MAX_COUNT: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub id: String,
    /// Who holds the lock: a person or a bot, for people and permissions.
    pub user: String,
    pub env: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub active: bool,
    pub uberlock: bool,
    pub meta: String,
    /// `None` for an uberlock, which never expires.
    pub expires_at: Option<i64>,
    /// Grows with every new acquisition of the env, so a deploy target can refuse a stale holder:
    /// the acquisition's stamp, or one more than the previous token if that is more.
    pub fencing_token: u64,
    /// Which run holds it: re-entry (renewal, upgrade) and release are its own. Rows written
    /// before holders existed read as held by their user. After the first spec's fields in `--json`.
    pub holder: String,
    /// How many times the env has been acquired. A lock taken in one write without a read
    /// does not know it: the store counts it in that write (so it is exact only as read back).
    #[serde(skip)]
    pub acquisitions: u64,
    /// Changes on every write; each write is conditional on the revision it read. A waiter's
    /// heartbeat does not change it, so heartbeats never make other writes conflict.
    #[serde(skip)]
    pub revision: u64,
    /// Who waits for the env: as stored, every entry, dead ones too, in no particular order;
    /// as `locks` hands it out, the live waiters in serving order. Left out of `--json` while
    /// empty, so a lock nobody waits for reads as it always did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<Waiter>,
    /// The ticket the next waiter to join gets; grows with every join.
    #[serde(skip)]
    pub next_ticket: u64,
}

/// One request waiting in an env's queue. The same request waits on every env it wants, under
/// the same id, with a ticket of each env.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiter {
    /// UUIDv7 of the waiting request.
    #[serde(skip)]
    pub id: String,
    /// Its place on this env: the env's `next_ticket` when it joined.
    #[serde(skip)]
    pub ticket: u64,
    pub user: String,
    pub meta: String,
    /// When it joined (the store's clock, epoch ms).
    pub joined_at: i64,
    /// When it last polled (the store's clock, epoch ms).
    #[serde(skip)]
    pub seen_at: i64,
    /// How long after its last poll it counts as dead (ms).
    #[serde(skip)]
    pub stale_after: i64,
    /// It gives way to any newer waiter on the same env.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub supersede: bool,
    /// Every env it waits for.
    #[serde(skip)]
    pub envs: Vec<String>,
}

impl Waiter {
    /// Whether the waiter still polls at store time `earliest`.
    pub fn is_live_at(&self, earliest: i64) -> bool {
        self.seen_at.saturating_add(self.stale_after) > earliest
    }
}

impl Lock {
    /// Whether someone holds the env at `now`: active and, unless an uberlock, not expired.
    pub fn is_held_at(&self, now: i64) -> bool {
        self.active && (self.uberlock || self.expires_at.is_some_and(|at| at > now))
    }

    /// Who holds it, for people: see [`holder_label`].
    pub fn holder_label(&self) -> String {
        holder_label(&self.user, &self.holder)
    }
}

/// How a hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HoldEnd {
    /// Its holder released it.
    Released,
    /// Its lease lapsed (whether or not someone took the env afterwards).
    Expired,
    /// An uberlock took the env from it.
    Preempted,
    /// Someone broke it on purpose (`locks release --force --reason`).
    Forced,
}

impl HoldEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldEnd::Released => "released",
            HoldEnd::Expired => "expired",
            HoldEnd::Preempted => "preempted",
            HoldEnd::Forced => "forced",
        }
    }

    pub fn parse(text: &str) -> Option<HoldEnd> {
        [
            HoldEnd::Released,
            HoldEnd::Expired,
            HoldEnd::Preempted,
            HoldEnd::Forced,
        ]
        .into_iter()
        .find(|end| end.as_str() == text)
    }
}

/// One acquisition of an env, from the grant to its end: the lock history's row. A renewal or
/// an upgrade by the holder is the same hold (same lock id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub env: String,
    /// The lock id of the acquisition.
    pub id: String,
    pub user: String,
    pub meta: String,
    pub uberlock: bool,
    pub fencing_token: u64,
    pub acquired_at: i64,
    /// When the lease runs out as last renewed; `None` for an uberlock.
    pub expires_at: Option<i64>,
    /// `None` while held.
    pub ended_at: Option<i64>,
    pub end: Option<HoldEnd>,
    /// Who ended it when not its holder: the uberlock's user (preempted), who forced it.
    pub ended_by: Option<String>,
    /// The run that held it.
    pub holder: String,
    /// Why it was forced.
    pub reason: Option<String>,
}

impl Hold {
    /// The hold a lock row records, not ended.
    pub fn of(lock: &Lock) -> Hold {
        Hold {
            env: lock.env.clone(),
            id: lock.id.clone(),
            user: lock.user.clone(),
            holder: lock.holder.clone(),
            meta: lock.meta.clone(),
            uberlock: lock.uberlock,
            fencing_token: lock.fencing_token,
            acquired_at: lock.created_at,
            expires_at: lock.expires_at,
            ended_at: None,
            end: None,
            ended_by: None,
            reason: None,
        }
    }

    pub fn ended(self, end: HoldEnd, at: i64, by: Option<String>) -> Hold {
        Hold {
            ended_at: Some(at),
            end: Some(end),
            ended_by: by,
            ..self
        }
    }

    /// Broken on purpose at `at` by `by`, for `reason`.
    pub fn forced(self, at: i64, by: &str, reason: &str) -> Hold {
        Hold {
            reason: Some(reason.to_string()),
            ..self.ended(HoldEnd::Forced, at, Some(by.to_string()))
        }
    }

    /// The key that sorts an env's holds by acquisition: see [`hold_key`].
    pub fn key(&self) -> String {
        format!("{}#{}", hold_key(self.acquired_at), self.id)
    }

    /// When a store may forget this hold (epoch ms): `retention` after it ended, else after its
    /// lease runs out, else (an uberlock still held) after it was acquired.
    pub fn forget_at(&self, retention: std::time::Duration) -> i64 {
        let last = self
            .ended_at
            .or(self.expires_at)
            .unwrap_or(self.acquired_at);
        last.saturating_add(retention.as_millis() as i64)
    }
}

/// The start of a hold's sort key: its acquisition time as 13 zero-padded digits of epoch
/// milliseconds (until the year 2286), so keys sort as times do and "acquired since T" is a key
/// range.
pub fn hold_key(acquired_at: i64) -> String {
    format!("{:013}", acquired_at.max(0))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub user: String,
    pub jobname: String,
    pub version: String,
    pub started: i64,
    pub ended: Option<i64>,
    pub skipped: bool,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn checked(what: &str, value: &str, max: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::usage(format!("{what} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(Error::usage(format!(
            "{what} is too long ({} characters, at most {max})",
            trimmed.chars().count()
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// Envs are compared case-insensitively: stored trimmed and lowercased, and limited to names a
/// person can tell apart (`legible`).
pub fn env_name(value: &str) -> Result<String> {
    legible::env("env", &checked("env", value, MAX_NAME_LEN)?.to_lowercase())
}

/// Users are compared case-insensitively: stored trimmed and lowercased, with nothing hidden.
pub fn user_name(value: &str) -> Result<String> {
    who("user", value, MAX_USER_LEN)
}

pub fn job_name(value: &str) -> Result<String> {
    checked("jobname", value, MAX_NAME_LEN)
}

pub fn git_version(value: &str) -> Result<String> {
    checked("gitversion", value, MAX_NAME_LEN)
}

pub fn meta(value: &str) -> Result<String> {
    checked("meta", value, MAX_META_LEN)
}

/// Holders are compared case-insensitively and shown, as users are: stored trimmed and
/// lowercased, with nothing hidden.
pub fn holder_name(value: &str) -> Result<String> {
    who("holder", value, MAX_HOLDER_LEN)
}

/// A name that says who (a user, a holder), as people compare them.
fn who(field: &str, value: &str, max_len: usize) -> Result<String> {
    legible::user(field, &checked(field, value, max_len)?.to_lowercase())
}

/// Why a lock was broken: said as a person would, in a meta's room.
pub fn reason(value: &str) -> Result<String> {
    checked("reason", value, MAX_META_LEN)
}

/// Who holds a lock, for people: the user, and the run when it is not the user itself
/// (`octocat in run github:acme/shop/runs/42/attempts/1`).
pub fn holder_label(user: &str, holder: &str) -> String {
    if holder == user {
        user.to_string()
    } else {
        format!("{user} in run {holder}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_lowercased() {
        assert_eq!(env_name("  Production ").unwrap(), "production");
        assert_eq!(user_name("Alice@Example.COM").unwrap(), "alice@example.com");
        assert_eq!(job_name(" Deploy-Prod ").unwrap(), "Deploy-Prod");
    }

    #[test]
    fn empty_long_and_control_names_are_refused() {
        assert!(env_name("   ").is_err());
        assert!(env_name(&"e".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(env_name(&"e".repeat(MAX_NAME_LEN)).is_ok());
        assert!(user_name("a\nb").is_err());
        assert!(meta(&"m".repeat(MAX_META_LEN + 1)).is_err());
    }

    #[test]
    fn holders_are_composed_and_hide_nothing_as_users() {
        assert_eq!(holder_name(" Run-E\u{301} ").unwrap(), "run-\u{e9}");
        let hidden = holder_name("run-1\u{200b}").unwrap_err();
        assert_eq!(hidden.exit_code(), crate::error::exit::USAGE);
        assert!(
            hidden
                .to_string()
                .starts_with(r#"holder "run-1\u{200b}" has an invisible"#),
            "{hidden}"
        );
    }

    #[test]
    fn a_lock_is_held_while_active_and_unexpired_or_uber() {
        let mut lock = Lock {
            id: "x".into(),
            user: "u".into(),
            holder: "u".into(),
            env: "e".into(),
            created_at: 0,
            updated_at: 0,
            active: true,
            uberlock: false,
            meta: "CLI".into(),
            expires_at: Some(100),
            fencing_token: 1,
            acquisitions: 1,
            revision: 1,
            queue: Vec::new(),
            next_ticket: 0,
        };
        assert!(lock.is_held_at(99));
        assert!(!lock.is_held_at(100));
        lock.uberlock = true;
        lock.expires_at = None;
        assert!(lock.is_held_at(i64::MAX));
        lock.active = false;
        assert!(!lock.is_held_at(0));
    }
}
