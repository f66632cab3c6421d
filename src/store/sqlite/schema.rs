//! The embedded store's file: its tables, and what an older file gains when it is opened.

use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// 2: the `holds` table (lock history); 3: the queue of each lock row (`queue`, `nextTicket`);
/// 4: each lock row's count of `acquisitions` (the fencing token counted them until then);
/// 5: the run holding each lock and hold (`holder`, NULL in rows from before: their user), and
/// why a hold was forced (`reason`). Every statement is `IF NOT EXISTS`, so an older file gets
/// what it lacks, and the columns a table gained are added to a file that lacks them.
const SCHEMA_VERSION: i64 = 5;
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
    acquisitions INTEGER NOT NULL DEFAULT 0,
    holder       TEXT
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
    holder       TEXT,
    reason       TEXT,
    PRIMARY KEY (env, hold)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_forget ON holds (forgetAt);
"#;
pub(super) const LOCK_COLUMNS: &str =
    "env, id, user, createdAt, updatedAt, active, uberlock, meta, expiresAt, \
     fencingToken, revision, queue, nextTicket, acquisitions, holder";
/// The columns a table gained after the first schema, with their definitions.
const ADDED_COLUMNS: [(&str, &str, &str); 6] = [
    ("locks", "queue", "TEXT NOT NULL DEFAULT '[]'"),
    ("locks", "nextTicket", "INTEGER NOT NULL DEFAULT 0"),
    ("locks", "acquisitions", "INTEGER NOT NULL DEFAULT 0"),
    ("locks", "holder", "TEXT"),
    ("holds", "holder", "TEXT"),
    ("holds", "reason", "TEXT"),
];
pub(super) const JOB_COLUMNS: &str = "id, user, jobname, version, started, ended, skipped";
pub(super) const HOLD_COLUMNS: &str = r#"env, id, user, meta, uberlock, fencingToken, acquiredAt, expiresAt, endedAt, "end", endedBy, holder, reason"#;

pub(super) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
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
        add_missing_columns(&tx)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// A file made by an older version has tables without the newer columns: `CREATE TABLE IF NOT
/// EXISTS` leaves such a table as it is, so they are added here.
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
        let existing = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !existing.iter().any(|name| name == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
            if (table, column) == ("locks", "acquisitions") {
                // Until then, the fencing token counted acquisitions.
                conn.execute_batch("UPDATE locks SET acquisitions = fencingToken")?;
            }
        }
    }
    Ok(())
}
