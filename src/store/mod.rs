//! Where locks and jobs live. Rules never live here: a store offers a compare-and-swap on one
//! lock row and a handful of keyed job queries, and the rules in `locks` / `jobs` decide.

use crate::error::Result;
use crate::model::{Job, Lock};
use async_trait::async_trait;

pub mod dynamo;
pub mod sqlite;

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// Someone wrote first; this is the row as it is now (`None`: no row at all).
    Conflict(Option<Lock>),
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

    /// Creates whatever the store needs; safe to run again.
    async fn init(&self) -> Result<Vec<TableStatus>>;

    /// The lock row of an env, read so that it reflects every completed write.
    async fn load_lock(&self, env: &str) -> Result<Option<Lock>>;

    /// Writes `next` only if the env's row still has `expected_revision` (`None`: no row yet).
    async fn swap_lock(&self, expected_revision: Option<u64>, next: &Lock) -> Result<Swap>;

    /// Every row marked active, expired ones included (the caller knows the time).
    async fn active_locks(&self) -> Result<Vec<Lock>>;

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
        StoreChoice::Sqlite { path, .. } => Box::new(sqlite::SqliteStore::open(path).await?),
        StoreChoice::Dynamo(settings) => Box::new(dynamo::DynamoStore::connect(settings).await?),
    })
}
