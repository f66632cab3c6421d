//! Lock, hold and job rows as the file holds them: read (every number checked, see
//! `store::valid`) and written. A file is shared by every process of the machine and can be
//! edited by hand, so a reader takes nothing for granted.

use super::schema::{HOLD_COLUMNS, JOB_COLUMNS, LOCK_COLUMNS};
use crate::error::Error;
use crate::model::{now_ms, Hold, HoldEnd, Job, Lock, Waiter};
use crate::store::valid;
use crate::store::{Expect, LockWrite};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, Params, Row};
use std::time::Duration;

/// What a statement on the file fails with: SQLite itself, or a row no daplaya write makes.
#[derive(Debug)]
pub(super) enum Failure {
    Sql(rusqlite::Error),
    Row(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Failure::Sql(error)
    }
}

pub(super) type Outcome<T> = Result<T, Failure>;

/// A waiter as the `queue` column stores it (a JSON array). Numbers are read wide, so that one
/// out of range is told as such.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredWaiter {
    id: String,
    ticket: i128,
    user: String,
    meta: String,
    joined_at: i128,
    seen_at: i128,
    stale_after: i128,
    supersede: bool,
    envs: Vec<String>,
}

impl From<&Waiter> for StoredWaiter {
    fn from(waiter: &Waiter) -> Self {
        StoredWaiter {
            id: waiter.id.clone(),
            ticket: waiter.ticket.into(),
            user: waiter.user.clone(),
            meta: waiter.meta.clone(),
            joined_at: waiter.joined_at.into(),
            seen_at: waiter.seen_at.into(),
            stale_after: waiter.stale_after.into(),
            supersede: waiter.supersede,
            envs: waiter.envs.clone(),
        }
    }
}

impl StoredWaiter {
    fn checked(self, row: &valid::Row) -> Result<Waiter, Error> {
        Ok(Waiter {
            id: self.id,
            ticket: row.count("queue ticket", self.ticket)?,
            user: self.user,
            meta: self.meta,
            joined_at: row.stamp("queue joinedAt", self.joined_at)?,
            seen_at: row.stamp("queue seenAt", self.seen_at)?,
            stale_after: row.stamp("queue staleAfter", self.stale_after)?,
            supersede: self.supersede,
            envs: self.envs,
        })
    }
}

pub(super) fn queue_to_json(queue: &[Waiter]) -> String {
    let stored: Vec<StoredWaiter> = queue.iter().map(StoredWaiter::from).collect();
    serde_json::to_string(&stored).expect("a queue always serialises")
}

fn queue_from_json(json: &str, row: &valid::Row) -> Result<Vec<Waiter>, Error> {
    let stored: Vec<StoredWaiter> = serde_json::from_str(json)
        .map_err(|error| row.invalid(format!("its queue is not a list of waiters ({error})")))?;
    stored
        .into_iter()
        .map(|waiter| waiter.checked(row))
        .collect()
}

/// An integer column as the file holds it (`None`: NULL), or an error naming it.
fn integer(row: &Row, index: usize, name: &str, check: &valid::Row) -> Outcome<Option<i128>> {
    match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(value) => Ok(Some(value.into())),
        _ => Err(Failure::Row(
            check.invalid(format!("{name} is not an integer")),
        )),
    }
}

/// A row found invalid, as a failure of the statement that read it.
fn checked<T>(result: Result<T, Error>) -> Outcome<T> {
    result.map_err(Failure::Row)
}

fn required(value: Option<i128>, name: &str, check: &valid::Row) -> Outcome<i128> {
    value.ok_or_else(|| Failure::Row(check.invalid(format!("{name} is missing"))))
}

/// A lock row of `LOCK_COLUMNS`, checked; a row from before holders reads as held by its user.
fn lock_from_row(row: &Row, place: &str) -> Outcome<Lock> {
    let env: String = row.get(0)?;
    let check = valid::Row::lock(&env, place);
    let number = |index, name| required(integer(row, index, name, &check)?, name, &check);
    let user: String = row.get(2)?;
    let queue: String = row.get(11)?;
    let stamp = |index, name| checked(check.stamp(name, number(index, name)?));
    let count = |index, name| checked(check.count(name, number(index, name)?));
    let expires_at = integer(row, 8, "expiresAt", &check)?;
    Ok(Lock {
        id: row.get(1)?,
        holder: row
            .get::<_, Option<String>>(14)?
            .unwrap_or_else(|| user.clone()),
        user,
        created_at: stamp(3, "createdAt")?,
        updated_at: stamp(4, "updatedAt")?,
        active: row.get(5)?,
        uberlock: row.get(6)?,
        meta: row.get(7)?,
        expires_at: checked(check.optional_stamp("expiresAt", expires_at))?,
        fencing_token: count(9, "fencingToken")?,
        revision: count(10, "revision")?,
        queue: checked(queue_from_json(&queue, &check))?,
        next_ticket: count(12, "nextTicket")?,
        acquisitions: count(13, "acquisitions")?,
        env: env.clone(),
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

/// A hold row of `HOLD_COLUMNS`, checked; a hold from before holders was held by its user.
fn hold_from_row(row: &Row, place: &str) -> Outcome<Hold> {
    let env: String = row.get(0)?;
    let check = valid::Row::hold(&env, place);
    let number = |index, name| required(integer(row, index, name, &check)?, name, &check);
    let optional = |index, name| integer(row, index, name, &check);
    let end = match row.get::<_, Option<String>>(9)? {
        None => None,
        Some(text) => Some(HoldEnd::parse(&text).ok_or_else(|| {
            Failure::Row(check.invalid(format!("its end is {text:?}, not a known end")))
        })?),
    };
    let user: String = row.get(2)?;
    Ok(Hold {
        id: row.get(1)?,
        holder: row
            .get::<_, Option<String>>(11)?
            .unwrap_or_else(|| user.clone()),
        user,
        meta: row.get(3)?,
        uberlock: row.get(4)?,
        fencing_token: checked(check.count("fencingToken", number(5, "fencingToken")?))?,
        acquired_at: checked(check.stamp("acquiredAt", number(6, "acquiredAt")?))?,
        expires_at: checked(check.optional_stamp("expiresAt", optional(7, "expiresAt")?))?,
        ended_at: checked(check.optional_stamp("endedAt", optional(8, "endedAt")?))?,
        end,
        ended_by: row.get(10)?,
        reason: row.get(12)?,
        env: env.clone(),
    })
}

/// Every row a statement of `LOCK_COLUMNS` or `HOLD_COLUMNS` selects, checked.
pub(super) fn select_all<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    read: fn(&Row, &str) -> Outcome<T>,
    place: &str,
) -> Outcome<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(args)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read(row, place)?);
    }
    Ok(found)
}

pub(super) fn select_locks(
    conn: &Connection,
    filter: &str,
    args: impl Params,
    place: &str,
) -> Outcome<Vec<Lock>> {
    let sql = format!("SELECT {LOCK_COLUMNS} FROM locks WHERE {filter}");
    select_all(conn, &sql, args, lock_from_row, place)
}

pub(super) fn select_holds(
    conn: &Connection,
    env: &str,
    from: &str,
    limit: usize,
    place: &str,
) -> Outcome<Vec<Hold>> {
    let sql = format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE env = ?1 AND hold >= ?2 ORDER BY hold DESC LIMIT ?3"
    );
    select_all(
        conn,
        &sql,
        params![env, from, limit as i64],
        hold_from_row,
        place,
    )
}

pub(super) fn select_lock(conn: &Connection, env: &str, place: &str) -> Outcome<Option<Lock>> {
    let sql = format!("SELECT {LOCK_COLUMNS} FROM locks WHERE env = ?1");
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([env])?;
    rows.next()?
        .map(|row| lock_from_row(row, place))
        .transpose()
}

/// Writes a hold row whole.
fn put_hold(conn: &Connection, hold: &Hold, retention: Duration) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO holds (hold, forgetAt, {HOLD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
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
        hold.holder,
        hold.reason,
    ])?;
    Ok(())
}

/// Writes a lock row whole with its hold rows, and forgets the holds past the retention.
/// `current` is the row as it is (its revision the one the write expects): a waiter's
/// heartbeat since the writer read it keeps the revision, and is kept too.
pub(super) fn put_lock(
    conn: &Connection,
    write: &LockWrite,
    current: Option<&Lock>,
    expected: &Expect,
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
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
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
        lock.holder,
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

pub(super) fn select_jobs(
    conn: &Connection,
    filter: &str,
    args: impl Params,
) -> rusqlite::Result<Vec<Job>> {
    let sql =
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {filter} ORDER BY started DESC, id DESC");
    let mut statement = conn.prepare_cached(&sql)?;
    let jobs = statement.query_map(args, job_from_row)?.collect();
    jobs
}
