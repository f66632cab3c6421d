//! The embedded store: one SQLite file, safe across processes on one machine (WAL, a busy
//! timeout, and every lock decision written inside one `BEGIN IMMEDIATE` transaction, with the
//! hold rows of the lock history it records). rusqlite blocks, so every call runs on Tokio's
//! blocking pool, never on an async worker.

mod rows;
mod schema;
mod seen;

use super::{Expect, JobEnd, LockWrite, Store, StoreTime, Swap, SwapAll, TableStatus};
use crate::config::DEFAULT_HISTORY_DAYS;
use crate::error::{Error, Result};
use crate::model::{hold_key, now_ms, Hold, Job, Lock};
use async_trait::async_trait;
use rows::{
    put_lock, queue_to_json, select_holds, select_jobs, select_lock, select_locks, Failure, Outcome,
};
use rusqlite::{params, Connection, TransactionBehavior};
use schema::{open_connection, JOB_COLUMNS};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SqliteStore {
    path: PathBuf,
    /// Where its rows live, for errors about them.
    place: Arc<str>,
    conn: Arc<Mutex<Connection>>,
    history_retention: Duration,
}

impl SqliteStore {
    /// Opens (creating when needed) the file and its schema.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_connection(&opened))
            .await
            .map_err(|e| Error::Store(format!("embedded store task failed: {e}")))?
            .map_err(|e| store_error(&path, e))?;
        Ok(SqliteStore {
            place: format!("the embedded store {}", path.display()).into(),
            path,
            conn: Arc::new(Mutex::new(conn)),
            history_retention: Duration::from_secs(DEFAULT_HISTORY_DAYS * 86_400),
        })
    }

    /// How long a hold stays in the history after it ended (default 90 days).
    pub fn with_history_retention(self, retention: Duration) -> SqliteStore {
        SqliteStore {
            history_retention: retention,
            ..self
        }
    }

    /// Runs `work` on the connection, off the async workers; it is handed where the rows live,
    /// for the errors about them.
    async fn with_conn<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Outcome<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let place = Arc::clone(&self.place);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn, &place)
        })
        .await
        .map_err(|e| Error::Store(format!("embedded store task failed: {e}")))?;
        outcome.map_err(|failure| match failure {
            Failure::Sql(error) => store_error(&self.path, error),
            Failure::Row(error) => error,
        })
    }
}

fn store_error(path: &Path, error: rusqlite::Error) -> Error {
    Error::Store(format!("embedded store {}: {error}", path.display()))
}

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    /// This machine's wall clock: the file, and everyone who locks through it, live on it.
    fn now(&self) -> StoreTime {
        StoreTime::exact(now_ms())
    }

    async fn init(&self) -> Result<Vec<TableStatus>> {
        // `open` created the schema; init only reports it.
        Ok(["locks", "jobs", "holds"]
            .into_iter()
            .map(|name| TableStatus {
                name: format!("{} ({name})", self.describe()),
                created: false,
            })
            .collect())
    }

    async fn load_lock(&self, env: &str) -> Result<Option<Lock>> {
        let env = env.to_string();
        self.with_conn(move |conn, place| select_lock(conn, &env, place))
            .await
    }

    async fn swap_lock(&self, expected: Expect, write: &LockWrite) -> Result<Swap> {
        let write = write.clone();
        let retention = self.history_retention;
        self.with_conn(move |conn, place| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = select_lock(&tx, &write.lock.env, place)?;
            if !expected.admits(current.as_ref()) {
                return Ok(Swap::Conflict(current));
            }
            put_lock(&tx, &write, current.as_ref(), &expected, retention)?;
            tx.commit()?;
            Ok(Swap::Done)
        })
        .await
    }

    async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>> {
        let envs = envs.to_vec();
        self.with_conn(move |conn, place| {
            // One read transaction: the rows as of one moment.
            let tx = conn.transaction()?;
            let locks = envs
                .iter()
                .map(|env| select_lock(&tx, env, place))
                .collect::<Outcome<Vec<_>>>()?;
            tx.commit()?;
            Ok(locks)
        })
        .await
    }

    async fn swap_locks(&self, writes: &[(Expect, LockWrite)]) -> Result<SwapAll> {
        let writes = writes.to_vec();
        let retention = self.history_retention;
        self.with_conn(move |conn, place| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut rows = Vec::with_capacity(writes.len());
            for (expected, write) in &writes {
                let current = select_lock(&tx, &write.lock.env, place)?;
                if !expected.admits(current.as_ref()) {
                    return Ok(SwapAll::Conflict);
                }
                rows.push(current);
            }
            for ((expected, write), current) in writes.iter().zip(&rows) {
                put_lock(&tx, write, current.as_ref(), expected, retention)?;
            }
            tx.commit()?;
            Ok(SwapAll::Done)
        })
        .await
    }

    async fn touch_waiter(&self, envs: &[String], waiter: &str, seen_at: i64) -> Result<bool> {
        let envs = envs.to_vec();
        let waiter = waiter.to_string();
        self.with_conn(move |conn, place| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for env in &envs {
                let Some(mut lock) = select_lock(&tx, env, place)? else {
                    return Ok(false);
                };
                let Some(entry) = lock.queue.iter_mut().find(|entry| entry.id == waiter) else {
                    return Ok(false);
                };
                entry.seen_at = seen_at;
                tx.prepare_cached("UPDATE locks SET queue = ?2 WHERE env = ?1")?
                    .execute(params![env, queue_to_json(&lock.queue)])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn holds(&self, env: &str, since: Option<i64>, limit: usize) -> Result<Vec<Hold>> {
        let env = env.to_string();
        let from = hold_key(since.unwrap_or(0));
        self.with_conn(move |conn, place| select_holds(conn, &env, &from, limit, place))
            .await
    }

    async fn active_locks(&self) -> Result<Vec<Lock>> {
        self.with_conn(|conn, place| select_locks(conn, "active = 1", [], place))
            .await
    }

    async fn waited_locks(&self) -> Result<Vec<Lock>> {
        self.with_conn(|conn, place| select_locks(conn, "active = 0 AND queue != '[]'", [], place))
            .await
    }

    async fn released_locks(&self, since: i64) -> Result<Vec<Lock>> {
        // One row per env: the table stays small enough that this needs no index of its own.
        self.with_conn(move |conn, place| {
            let filter = "active = 0 AND updatedAt >= ?1 ORDER BY updatedAt DESC, env";
            select_locks(conn, filter, [since], place)
        })
        .await
    }

    async fn insert_job(&self, job: &Job) -> Result<()> {
        let job = job.clone();
        self.with_conn(move |conn, _| {
            conn.execute(
                &format!("INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    job.id,
                    job.user,
                    job.jobname,
                    job.version,
                    job.started,
                    job.ended,
                    job.skipped
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn jobs_for_version(&self, version: &str) -> Result<Vec<Job>> {
        let version = version.to_string();
        self.with_conn(move |conn, _| Ok(select_jobs(conn, "version = ?1", [version])?))
            .await
    }

    async fn end_job(&self, job: &Job, ended: i64, skipped: bool) -> Result<JobEnd> {
        let id = job.id.clone();
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE jobs SET ended = ?2, skipped = ?3 WHERE id = ?1 AND ended IS NULL",
                params![id, ended, skipped],
            )?;
            let outcome = if changed == 1 {
                Some(JobEnd::Done)
            } else {
                select_jobs(&tx, "id = ?1", [&id])?
                    .into_iter()
                    .next()
                    .map(JobEnd::AlreadyEnded)
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await?
        .ok_or_else(|| Error::NotFound(format!("job {} no longer exists", job.id)))
    }

    async fn recent_jobs(&self, jobname: &str, since: i64) -> Result<Vec<Job>> {
        let jobname = jobname.to_string();
        self.with_conn(move |conn, _| {
            let filter = "jobname = ?1 AND started >= ?2";
            Ok(select_jobs(conn, filter, params![jobname, since])?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HoldEnd, Waiter};

    fn lock(env: &str, created_at: i64, revision: u64) -> Lock {
        Lock {
            id: uuid::Uuid::now_v7().to_string(),
            user: "alice".into(),
            holder: "alice".into(),
            env: env.into(),
            created_at,
            updated_at: created_at,
            active: true,
            uberlock: false,
            meta: "CLI".into(),
            expires_at: Some(created_at + 60_000),
            fencing_token: revision,
            acquisitions: revision,
            revision,
            queue: Vec::new(),
            next_ticket: 0,
        }
    }

    #[tokio::test]
    async fn a_file_from_before_the_queue_gains_its_columns_and_keeps_its_locks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks.db");
        let held = lock("production", 1_000, 4);
        {
            // The lock table as schema version 2 made it, with a lock in it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE locks (env TEXT PRIMARY KEY, id TEXT NOT NULL, user TEXT NOT NULL, \
                 createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL, active INTEGER NOT NULL, \
                 uberlock INTEGER NOT NULL, meta TEXT NOT NULL, expiresAt INTEGER, \
                 fencingToken INTEGER NOT NULL, revision INTEGER NOT NULL); \
                 PRAGMA user_version = 2;",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO locks VALUES (?1, ?2, 'alice', 1000, 1000, 1, 0, 'CLI', 61000, 4, 4)",
                params![held.env, held.id],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(
            store.load_lock("production").await.unwrap(),
            Some(held.clone())
        );
        let waited = Lock {
            queue: vec![Waiter {
                id: "w".into(),
                ticket: 0,
                user: "bob".into(),
                meta: "CLI".into(),
                joined_at: 2_000,
                seen_at: 2_000,
                stale_after: 15_000,
                supersede: false,
                envs: vec!["production".into()],
            }],
            next_ticket: 1,
            revision: 5,
            ..held
        };
        let write = LockWrite::new(waited.clone(), Vec::new());
        assert_eq!(
            store.swap_lock(Expect::Revision(4), &write).await.unwrap(),
            Swap::Done
        );
        drop(store);
        // Opening it again finds the columns there.
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.load_lock("production").await.unwrap(), Some(waited));
    }

    #[tokio::test]
    async fn holds_past_the_retention_are_pruned_on_the_next_write() {
        const DAY: i64 = 86_400_000;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("locks.db"))
            .await
            .unwrap()
            .with_history_retention(Duration::from_millis(DAY as u64));
        let now = now_ms();
        let old = lock("production", now - 3 * DAY, 1);
        let released = Hold::of(&old).ended(HoldEnd::Released, now - 2 * DAY, None);
        let recent = lock("staging", now - DAY / 2, 1);
        for (lock, hold) in [(&old, released), (&recent, Hold::of(&recent))] {
            let write = LockWrite::new(lock.clone(), vec![hold]);
            assert_eq!(
                store.swap_lock(Expect::Absent, &write).await.unwrap(),
                Swap::Done
            );
        }
        assert!(store
            .holds("production", None, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.holds("staging", None, 10).await.unwrap().len(), 1);
    }
}
