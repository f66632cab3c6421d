//! Where locks and jobs live. Rules never live here: a store offers a compare-and-swap on one
//! lock row (with the history rows that change records), an env's history newest first, and a
//! handful of keyed job queries; the rules in `locks` / `jobs` decide.

use crate::error::Result;
use crate::model::{Hold, Job, Lock};
use async_trait::async_trait;

pub use clock::StoreTime;
pub use seen::SeenRequests;

pub mod clock;
pub mod dynamo;
pub mod open;
pub mod seen;
pub mod sqlite;
pub mod valid;

/// What a conditional write found.
// A write's answer, matched at once and never kept: boxing the row would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// Someone wrote first; this is the row as it is now (`None`: no row at all).
    Conflict(Option<Lock>),
}

/// What an all-or-none write of several lock rows found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapAll {
    Done,
    /// Some row was written by someone else first (or is missing, or exists when `None` was
    /// expected): nothing was written; read the rows again.
    Conflict,
}

/// What a conditional write of a lock row expects the row to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No row yet.
    Absent,
    /// The row as read, at this revision.
    Revision(u64),
    /// Whatever row there is, unread, as long as a fresh acquisition stamped `stamp` may take
    /// it: no row, or a released one with nobody in line whose revision, fencing token and
    /// last write all come before the stamp (so the new row's revision and token, the stamp,
    /// still grow).
    FreeBefore(i64),
    /// Unread: the row as a copy kept on this machine says it is, a claim rather than a fact.
    /// The write lands only if the row is that copy in every attribute the write was decided
    /// on: its revision, held, and the holder's attributes ([`holder_attributes_match`]).
    Claimed(Box<Lock>),
}

impl Expect {
    /// What a write decided on `row`, as read, expects.
    pub fn read(row: Option<&Lock>) -> Expect {
        row.map_or(Expect::Absent, |row| Expect::Revision(row.revision))
    }

    /// Whether the row as it is now (`None`: no row) is what the write expects.
    pub fn admits(&self, row: Option<&Lock>) -> bool {
        match (self, row) {
            (Expect::Absent, row) => row.is_none(),
            (Expect::Revision(revision), row) => row.is_some_and(|row| row.revision == *revision),
            (Expect::FreeBefore(_), None) => true,
            (Expect::FreeBefore(stamp), Some(row)) => {
                !row.active
                    && row.queue.is_empty()
                    && row.revision < (*stamp).max(0) as u64
                    && row.fencing_token < (*stamp).max(0) as u64
                    && row.updated_at < *stamp
            }
            (Expect::Claimed(copy), row) => row.is_some_and(|row| {
                row.revision == copy.revision && row.active && holder_attributes_match(row, copy)
            }),
        }
    }
}

/// Whether two versions of an env's row agree on everything about its holder: the
/// acquisition (id, user, holder, acquired at, fencing token) and its state (last written,
/// uberlock, meta, lease).
pub fn holder_attributes_match(row: &Lock, other: &Lock) -> bool {
    row.env == other.env
        && row.id == other.id
        && row.user == other.user
        && row.holder == other.holder
        && row.created_at == other.created_at
        && row.updated_at == other.updated_at
        && row.uberlock == other.uberlock
        && row.meta == other.meta
        && row.expires_at == other.expires_at
        && row.fencing_token == other.fencing_token
}

/// One change of an env's lock row and the hold rows it records (the new or renewed hold, and
/// the one it ended): written together, atomically, or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWrite {
    pub lock: Lock,
    pub holds: Vec<Hold>,
    /// The write changes the holder only: the store keeps the row's line as it stands (its
    /// waiters and the heartbeats they wrote since the writer's copy), whatever `lock.queue`
    /// says. Joining or leaving changes the revision, so the revision the write expects
    /// guarantees the same waiters. This lets a holder renew or release from the copy it
    /// last wrote, in one request, without putting back its waiters' old heartbeats.
    pub keeps_queue: bool,
    /// The key ([`Hold::key`]) of a hold row of the env this write deletes: the same
    /// acquisition as a one-write lock first stamped it from a client clock found off (the
    /// write stamps it again, and `holds` has it anew).
    pub restamped: Option<String>,
}

impl LockWrite {
    /// A write of the whole row, its line included, that records `holds`.
    pub fn new(lock: Lock, holds: Vec<Hold>) -> LockWrite {
        LockWrite {
            lock,
            holds,
            keeps_queue: false,
            restamped: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Done,
    AlreadyEnded(Job),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableStatus {
    pub name: String,
    pub created: bool,
}

#[async_trait]
pub trait Store: SeenRequests + Send + Sync {
    /// Where this store keeps its data, for messages (never a credential).
    fn describe(&self) -> String;

    /// The store's clock now: every lease is stamped and judged on it (see `clock`).
    fn now(&self) -> StoreTime;

    /// Whether [`Store::now`] is the store's clock yet, rather than this machine's (a remote
    /// store learns its clock from its first response).
    fn knows_clock(&self) -> bool {
        true
    }

    /// Creates whatever the store needs; safe to run again.
    async fn init(&self) -> Result<Vec<TableStatus>>;

    /// The lock row of an env, read so that it reflects every completed write.
    async fn load_lock(&self, env: &str) -> Result<Option<Lock>>;

    /// Writes the lock row and its hold rows only if the env's row is as `expected`; the hold
    /// rows are written whole. A conflict returns the row as it is.
    async fn swap_lock(&self, expected: Expect, write: &LockWrite) -> Result<Swap>;

    /// The lock rows of several envs, in the order given, read together so that each reflects
    /// every completed write.
    async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>>;

    /// Writes every lock row (and its hold rows) only if each env's row is as expected: all of
    /// them, or none.
    async fn swap_locks(&self, writes: &[(Expect, LockWrite)]) -> Result<SwapAll>;

    /// A waiter's heartbeat: sets `seenAt` of its entry on every env in `envs` to `seen_at`
    /// without changing the rows' revisions, so it never makes anyone's write conflict.
    /// `false` (and nothing written) when its entry is gone from any of them.
    async fn touch_waiter(&self, envs: &[String], waiter: &str, seen_at: i64) -> Result<bool>;

    /// An env's holds, newest first: at most `limit`, acquired at or after `since` when given,
    /// read so that it reflects every completed write.
    async fn holds(&self, env: &str, since: Option<i64>, limit: usize) -> Result<Vec<Hold>>;

    /// Every row marked active, expired ones included (the caller knows the time).
    async fn active_locks(&self) -> Result<Vec<Lock>>;

    /// Every row not marked active with anyone in its queue, dead waiters included: the envs
    /// nobody holds that someone waits for (because they want another env too).
    async fn waited_locks(&self) -> Result<Vec<Lock>>;

    /// Rows released at or after `since` (by `updatedAt`), newest first: the envs someone held
    /// recently. Read from an index bounded by time, never by scanning the table.
    async fn released_locks(&self, since: i64) -> Result<Vec<Lock>>;

    async fn insert_job(&self, job: &Job) -> Result<()>;

    /// Jobs of a version, newest first, read so that it reflects every completed write.
    async fn jobs_for_version(&self, version: &str) -> Result<Vec<Job>>;

    /// Sets `ended` and `skipped` unless the job has ended already.
    async fn end_job(&self, job: &Job, ended: i64, skipped: bool) -> Result<JobEnd>;

    /// Jobs of a jobname started at or after `since`, newest first.
    async fn recent_jobs(&self, jobname: &str, since: i64) -> Result<Vec<Job>>;
}
