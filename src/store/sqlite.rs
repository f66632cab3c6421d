//! The embedded store: one SQLite file, safe across processes on one machine (WAL, a busy
//! timeout, and every lock decision written inside one `BEGIN IMMEDIATE` transaction).
//! rusqlite blocks, so every call runs on Tokio's blocking pool, never on an async worker.

use super::{JobEnd, Store, StoreTime, Swap, TableStatus};
use crate::error::{Error, Result};
use crate::model::{now_ms, Job, Lock};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const SCHEMA_VERSION: i64 = 1;
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
    revision     INTEGER NOT NULL
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
"#;
const LOCK_COLUMNS: &str =
    "env, id, user, createdAt, updatedAt, active, uberlock, meta, expiresAt, fencingToken, revision";
const JOB_COLUMNS: &str = "id, user, jobname, version, started, ended, skipped";

pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
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
        })
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
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn lock_from_row(row: &Row) -> rusqlite::Result<Lock> {
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

fn select_lock(conn: &Connection, env: &str) -> rusqlite::Result<Option<Lock>> {
    conn.query_row(
        &format!("SELECT {LOCK_COLUMNS} FROM locks WHERE env = ?1"),
        [env],
        lock_from_row,
    )
    .optional()
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
        Ok(["locks", "jobs"]
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

    async fn swap_lock(&self, expected_revision: Option<u64>, next: &Lock) -> Result<Swap> {
        let next = next.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = select_lock(&tx, &next.env)?;
            if current.as_ref().map(|lock| lock.revision) != expected_revision {
                return Ok(Swap::Conflict(current));
            }
            tx.execute(
                &format!("INSERT OR REPLACE INTO locks ({LOCK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    next.env,
                    next.id,
                    next.user,
                    next.created_at,
                    next.updated_at,
                    next.active,
                    next.uberlock,
                    next.meta,
                    next.expires_at,
                    next.fencing_token,
                    next.revision
                ],
            )?;
            tx.commit()?;
            Ok(Swap::Done)
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
