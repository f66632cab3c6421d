//! Where locks and jobs live. Rules never live here: a store offers a compare-and-swap on one
//! lock row (with the history rows that change records), an env's history newest first, and a
//! handful of keyed job queries; the rules in `locks` / `jobs` decide.

use crate::error::Result;
use crate::model::{Hold, Job, Lock};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

pub use clock::StoreTime;

pub mod clock;
pub mod dynamo;
pub mod sqlite;

/// What a conditional write found.
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
pub trait Store: Send + Sync {
    /// Where this store keeps its data, for messages (never a credential).
    fn describe(&self) -> String;

    /// The store's clock now: every lease is stamped and judged on it (see `clock`).
    fn now(&self) -> StoreTime;

    /// Creates whatever the store needs; safe to run again.
    async fn init(&self) -> Result<Vec<TableStatus>>;

    /// The lock row of an env, read so that it reflects every completed write.
    async fn load_lock(&self, env: &str) -> Result<Option<Lock>>;

    /// Writes the lock row and its hold rows only if the env's row still has
    /// `expected_revision` (`None`: no row yet); the hold rows are written whole.
    async fn swap_lock(&self, expected_revision: Option<u64>, write: &LockWrite) -> Result<Swap>;

    /// The lock rows of several envs, in the order given, read together so that each reflects
    /// every completed write.
    async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>>;

    /// Writes every lock row (and its hold rows) only if each env's row still has its expected
    /// revision (`None`: no row yet): all of them, or none.
    async fn swap_locks(&self, writes: &[(Option<u64>, LockWrite)]) -> Result<SwapAll>;

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

/// Opens the chosen store (creating the embedded file when needed).
pub async fn open(choice: &crate::config::StoreChoice) -> Result<Box<dyn Store>> {
    use crate::config::StoreChoice;
    Ok(match choice {
        StoreChoice::Sqlite {
            path,
            history_retention,
            ..
        } => Box::new(
            sqlite::SqliteStore::open(path)
                .await?
                .with_history_retention(*history_retention),
        ),
        StoreChoice::Dynamo(settings) => Box::new(dynamo::DynamoStore::connect(settings).await?),
    })
}

/// Like [`open`], but a DynamoDB store is kept for the life of the process and handed to later
/// calls with the same settings and the same `AWS_*` environment. For callers on one long-lived
/// runtime (the Node addon's): each JS API call would otherwise build a client and open a new
/// connection (on real DynamoDB a TLS handshake, and a credentials lookup) for a request or two.
pub async fn open_shared(choice: &crate::config::StoreChoice) -> Result<Arc<dyn Store>> {
    use crate::config::StoreChoice;
    let StoreChoice::Dynamo(settings) = choice else {
        return Ok(Arc::from(open(choice).await?));
    };
    let key = (
        settings.clone(),
        std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .collect::<Vec<_>>(),
    );
    let cached = |stores: &Vec<(SharedKey, Arc<dyn Store>)>| {
        stores
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, store)| store.clone())
    };
    if let Some(store) = cached(&SHARED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(store);
    }
    let store: Arc<dyn Store> = Arc::new(dynamo::DynamoStore::connect(settings).await?);
    let mut stores = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = cached(&stores) {
        return Ok(store);
    }
    if stores.len() >= SHARED_LIMIT {
        stores.remove(0);
    }
    stores.push((key, store.clone()));
    Ok(store)
}

type SharedKey = (crate::config::DynamoSettings, Vec<(String, String)>);
const SHARED_LIMIT: usize = 8;
static SHARED: Mutex<Vec<(SharedKey, Arc<dyn Store>)>> = Mutex::new(Vec::new());
