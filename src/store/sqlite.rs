//! The embedded store: one SQLite file, safe across processes on one machine (WAL, a busy
//! timeout, and every lock decision written inside one `BEGIN IMMEDIATE` transaction, with the
//! hold rows of the lock history it records). rusqlite blocks, so every call runs on Tokio's
//! blocking pool, never on an async worker.

use super::{Expect, JobEnd, LockWrite, Store, StoreTime, Swap, SwapAll, TableStatus};
use crate::config::DEFAULT_HISTORY_DAYS;
use crate::error::{Error, Result};
use crate::model::{hold_key, now_ms, Hold, HoldEnd, Job, Lock, Waiter};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod seen;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// 2: the `holds` table (lock history); 3: the queue of each lock row (`queue`, `nextTicket`);
/// 4: each lock row's count of `acquisitions` (the fencing token counted them until then).
/// Every statement is `IF NOT EXISTS`, so an older file gets what it lacks, and the columns a
/// lock row gained are added to a file that lacks them.
const SCHEMA_VERSION: i64 = 4;
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS locks (
    env          TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    user         TEXT NOT NULL,
    createdAt    INTEGER NOT NULL,
    updatedAt    INTEGER NOT NULL,
    active       INTEGER NOT NULL,
    uberlock     INTEGER NOT NULL,
    meta         TEXT NOT NULL,
    expiresAt    INTEGER,
    fencingToken INTEGER NOT NULL,
    revision     INTEGER NOT NULL,
    queue        TEXT NOT NULL DEFAULT '[]',
    nextTicket   INTEGER NOT NULL DEFAULT 0,
    acquisitions INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS locks_active ON locks (env) WHERE active = 1;
CREATE TABLE IF NOT EXISTS jobs (
    id      TEXT PRIMARY KEY,
    user    TEXT NOT NULL,
    jobname TEXT NOT NULL,
    version TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended   INTEGER,
    skipped INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_version ON jobs (version, started DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_jobname ON jobs (jobname, started DESC, id DESC);
CREATE TABLE IF NOT EXISTS holds (
    env          TEXT NOT NULL,
    hold         TEXT NOT NULL,
    id           TEXT NOT NULL,
    user         TEXT NOT NULL,
    meta         TEXT NOT NULL,
    uberlock     INTEGER NOT NULL,
    fencingToken INTEGER NOT NULL,
    acquiredAt   INTEGER NOT NULL,
    expiresAt    INTEGER,
    endedAt      INTEGER,
    "end"        TEXT,
    endedBy      TEXT,
    forgetAt     INTEGER NOT NULL,
    PRIMARY KEY (env, hold)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_forget ON holds (forgetAt);
"#;
const LOCK_COLUMNS: &str =
    "env, id, user, createdAt, updatedAt, active, uberlock, meta, expiresAt, \
     fencingToken, revision, queue, nextTicket, acquisitions";
/// The columns a lock row gained after the first schema, with their definitions.
const ADDED_LOCK_COLUMNS: [(&str, &str); 3] = [
    ("queue", "TEXT NOT NULL DEFAULT '[]'"),
    ("nextTicket", "INTEGER NOT NULL DEFAULT 0"),
    ("acquisitions", "INTEGER NOT NULL DEFAULT 0"),
];
const JOB_COLUMNS: &str = "id, user, jobname, version, started, ended, skipped";
const HOLD_COLUMNS: &str = r#"env, id, user, meta, uberlock, fencingToken, acquiredAt, expiresAt, endedAt, "end", endedBy"#;

pub struct SqliteStore {
    path: PathBuf,
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

    async fn with_conn<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|e| Error::Store(format!("embedded store task failed: {e}")))?;
        outcome.map_err(|e| store_error(&self.path, e))
    }
}

fn store_error(path: &Path, error: rusqlite::Error) -> Error {
    Error::Store(format!("embedded store {}: {error}", path.display()))
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            rusqlite::Error::InvalidPath(format!("cannot create {}: {e}", dir.display()).into())
        })?;
    }
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        // Switching to WAL needs the database to itself; the busy timeout covers racing openers.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        add_missing_lock_columns(&tx)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// A file made before the queue has a `locks` table without its columns: `CREATE TABLE IF NOT
/// EXISTS` leaves such a table as it is, so they are added here.
fn add_missing_lock_columns(conn: &Connection) -> rusqlite::Result<()> {
    let existing = conn
        .prepare("SELECT name FROM pragma_table_info('locks')")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (column, definition) in ADDED_LOCK_COLUMNS {
        if !existing.iter().any(|name| name == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE locks ADD COLUMN {column} {definition}"
            ))?;
            if column == "acquisitions" {
                // Until then, the fencing token counted acquisitions.
                conn.execute_batch("UPDATE locks SET acquisitions = fencingToken")?;
            }
        }
    }
    Ok(())
}

/// A waiter as the `queue` column stores it (a JSON array).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredWaiter {
    id: String,
    ticket: u64,
    user: String,
    meta: String,
    joined_at: i64,
    seen_at: i64,
    stale_after: i64,
    supersede: bool,
    envs: Vec<String>,
}

impl From<&Waiter> for StoredWaiter {
    fn from(waiter: &Waiter) -> Self {
        StoredWaiter {
            id: waiter.id.clone(),
            ticket: waiter.ticket,
            user: waiter.user.clone(),
            meta: waiter.meta.clone(),
            joined_at: waiter.joined_at,
            seen_at: waiter.seen_at,
            stale_after: waiter.stale_after,
            supersede: waiter.supersede,
            envs: waiter.envs.clone(),
        }
    }
}

impl From<StoredWaiter> for Waiter {
    fn from(stored: StoredWaiter) -> Self {
        Waiter {
            id: stored.id,
            ticket: stored.ticket,
            user: stored.user,
            meta: stored.meta,
            joined_at: stored.joined_at,
            seen_at: stored.seen_at,
            stale_after: stored.stale_after,
            supersede: stored.supersede,
            envs: stored.envs,
        }
    }
}

fn queue_to_json(queue: &[Waiter]) -> String {
    let stored: Vec<StoredWaiter> = queue.iter().map(StoredWaiter::from).collect();
    serde_json::to_string(&stored).expect("a queue always serialises")
}

fn queue_from_json(column: usize, json: &str) -> rusqlite::Result<Vec<Waiter>> {
    let stored: Vec<StoredWaiter> = serde_json::from_str(json).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("malformed queue: {error}").into(),
        )
    })?;
    Ok(stored.into_iter().map(Waiter::from).collect())
}

fn lock_from_row(row: &Row) -> rusqlite::Result<Lock> {
    let queue: String = row.get(11)?;
    Ok(Lock {
        env: row.get(0)?,
        id: row.get(1)?,
        user: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
        active: row.get(5)?,
        uberlock: row.get(6)?,
        meta: row.get(7)?,
        expires_at: row.get(8)?,
        fencing_token: row.get(9)?,
        revision: row.get(10)?,
        queue: queue_from_json(11, &queue)?,
        next_ticket: row.get(12)?,
        acquisitions: row.get(13)?,
    })
}

fn job_from_row(row: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        user: row.get(1)?,
        jobname: row.get(2)?,
        version: row.get(3)?,
        started: row.get(4)?,
        ended: row.get(5)?,
        skipped: row.get(6)?,
    })
}

fn hold_from_row(row: &Row) -> rusqlite::Result<Hold> {
    let end: Option<String> = row.get(9)?;
    Ok(Hold {
        env: row.get(0)?,
        id: row.get(1)?,
        user: row.get(2)?,
        meta: row.get(3)?,
        uberlock: row.get(4)?,
        fencing_token: row.get(5)?,
        acquired_at: row.get(6)?,
        expires_at: row.get(7)?,
        ended_at: row.get(8)?,
        end: end
            .map(|text| {
                HoldEnd::parse(&text).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        9,
                        rusqlite::types::Type::Text,
                        format!("unknown end of a hold: {text}").into(),
                    )
                })
            })
            .transpose()?,
        ended_by: row.get(10)?,
    })
}

/// Writes a hold row whole, and forgets the holds past the retention.
fn put_hold(conn: &Connection, hold: &Hold, retention: Duration) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO holds (hold, forgetAt, {HOLD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?
    .execute(params![
        hold.key(),
        hold.forget_at(retention),
        hold.env,
        hold.id,
        hold.user,
        hold.meta,
        hold.uberlock,
        hold.fencing_token,
        hold.acquired_at,
        hold.expires_at,
        hold.ended_at,
        hold.end.map(HoldEnd::as_str),
        hold.ended_by,
    ])?;
    Ok(())
}

fn select_lock(conn: &Connection, env: &str) -> rusqlite::Result<Option<Lock>> {
    conn.query_row(
        &format!("SELECT {LOCK_COLUMNS} FROM locks WHERE env = ?1"),
        [env],
        lock_from_row,
    )
    .optional()
}

/// Writes a lock row whole with its hold rows, and forgets the holds past the retention.
/// `current` is the row as it is (its revision the one the write expects): a waiter's
/// heartbeat since the writer read it keeps the revision, and is kept too.
fn put_lock(
    conn: &Connection,
    write: &LockWrite,
    current: Option<&Lock>,
    expected: Expect,
    retention: Duration,
) -> rusqlite::Result<()> {
    // A holder's write keeps the count; a lock written unread is counted here, as on DynamoDB.
    let acquisitions = match (current, expected) {
        (Some(row), _) if write.keeps_queue => row.acquisitions,
        (row, Expect::FreeBefore(_)) => row.map_or(0, |row| row.acquisitions) + 1,
        _ => write.lock.acquisitions,
    };
    let (queue, next_ticket) = match current {
        Some(row) if write.keeps_queue => (row.queue.clone(), row.next_ticket),
        _ => {
            let mut queue = write.lock.queue.clone();
            for waiter in &mut queue {
                if let Some(now) =
                    current.and_then(|row| row.queue.iter().find(|w| w.id == waiter.id))
                {
                    waiter.seen_at = waiter.seen_at.max(now.seen_at);
                }
            }
            (queue, write.lock.next_ticket)
        }
    };
    let lock = &write.lock;
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO locks ({LOCK_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    ))?
    .execute(params![
        lock.env,
        lock.id,
        lock.user,
        lock.created_at,
        lock.updated_at,
        lock.active,
        lock.uberlock,
        lock.meta,
        lock.expires_at,
        lock.fencing_token,
        lock.revision,
        queue_to_json(&queue),
        next_ticket,
        acquisitions,
    ])?;
    if let Some(hold) = &write.restamped {
        conn.prepare_cached("DELETE FROM holds WHERE env = ?1 AND hold = ?2")?
            .execute(params![write.lock.env, hold])?;
    }
    for hold in &write.holds {
        put_hold(conn, hold, retention)?;
    }
    conn.prepare_cached("DELETE FROM holds WHERE forgetAt < ?1")?
        .execute([now_ms()])?;
    Ok(())
}

fn select_jobs(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Job>> {
    let sql =
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {filter} ORDER BY started DESC, id DESC");
    let mut statement = conn.prepare_cached(&sql)?;
    let jobs = statement.query_map(args, job_from_row)?.collect();
    jobs
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
        self.with_conn(move |conn| select_lock(conn, &env)).await
    }

    async fn swap_lock(&self, expected: Expect, write: &LockWrite) -> Result<Swap> {
        let write = write.clone();
        let retention = self.history_retention;
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = select_lock(&tx, &write.lock.env)?;
            if !expected.admits(current.as_ref()) {
                return Ok(Swap::Conflict(current));
            }
            put_lock(&tx, &write, current.as_ref(), expected, retention)?;
            tx.commit()?;
            Ok(Swap::Done)
        })
        .await
    }

    async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>> {
        let envs = envs.to_vec();
        self.with_conn(move |conn| {
            // One read transaction: the rows as of one moment.
            let tx = conn.transaction()?;
            let locks = envs
                .iter()
                .map(|env| select_lock(&tx, env))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(locks)
        })
        .await
    }

    async fn swap_locks(&self, writes: &[(Expect, LockWrite)]) -> Result<SwapAll> {
        let writes = writes.to_vec();
        let retention = self.history_retention;
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut rows = Vec::with_capacity(writes.len());
            for (expected, write) in &writes {
                let current = select_lock(&tx, &write.lock.env)?;
                if !expected.admits(current.as_ref()) {
                    return Ok(SwapAll::Conflict);
                }
                rows.push(current);
            }
            for ((expected, write), current) in writes.iter().zip(&rows) {
                put_lock(&tx, write, current.as_ref(), *expected, retention)?;
            }
            tx.commit()?;
            Ok(SwapAll::Done)
        })
        .await
    }

    async fn touch_waiter(&self, envs: &[String], waiter: &str, seen_at: i64) -> Result<bool> {
        let envs = envs.to_vec();
        let waiter = waiter.to_string();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for env in &envs {
                let Some(mut lock) = select_lock(&tx, env)? else {
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
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {HOLD_COLUMNS} FROM holds WHERE env = ?1 AND hold >= ?2 ORDER BY hold DESC LIMIT ?3"
            ))?;
            let holds = statement
                .query_map(params![env, from, limit as i64], hold_from_row)?
                .collect();
            holds
        })
        .await
    }

    async fn active_locks(&self) -> Result<Vec<Lock>> {
        self.with_conn(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {LOCK_COLUMNS} FROM locks WHERE active = 1"
            ))?;
            let locks = statement.query_map([], lock_from_row)?.collect();
            locks
        })
        .await
    }

    async fn waited_locks(&self) -> Result<Vec<Lock>> {
        self.with_conn(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {LOCK_COLUMNS} FROM locks WHERE active = 0 AND queue != '[]'"
            ))?;
            let locks = statement.query_map([], lock_from_row)?.collect();
            locks
        })
        .await
    }

    async fn released_locks(&self, since: i64) -> Result<Vec<Lock>> {
        // One row per env: the table stays small enough that this needs no index of its own.
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {LOCK_COLUMNS} FROM locks WHERE active = 0 AND updatedAt >= ?1 \
                 ORDER BY updatedAt DESC, env"
            ))?;
            let locks = statement.query_map([since], lock_from_row)?.collect();
            locks
        })
        .await
    }

    async fn insert_job(&self, job: &Job) -> Result<()> {
        let job = job.clone();
        self.with_conn(move |conn| {
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
        self.with_conn(move |conn| select_jobs(conn, "version = ?1", [version]))
            .await
    }

    async fn end_job(&self, job: &Job, ended: i64, skipped: bool) -> Result<JobEnd> {
        let id = job.id.clone();
        self.with_conn(move |conn| {
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
        self.with_conn(move |conn| {
            select_jobs(
                conn,
                "jobname = ?1 AND started >= ?2",
                params![jobname, since],
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(env: &str, created_at: i64, revision: u64) -> Lock {
        Lock {
            id: uuid::Uuid::now_v7().to_string(),
            user: "alice".into(),
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
        let write = LockWrite {
            lock: waited.clone(),
            holds: Vec::new(),
            keeps_queue: false,
            restamped: None,
        };
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
            let write = LockWrite {
                lock: lock.clone(),
                holds: vec![hold],
                keeps_queue: false,
                restamped: None,
            };
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
