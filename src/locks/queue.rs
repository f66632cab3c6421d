//! The queue rules, on rows as read, without a store: who is live, who is superseded, the
//! serving order, and what a request does next (take, join, wait, leave).
//!
//! Each env's row keeps its waiters with a ticket from the row's counter. A join writes every
//! env of the request in one transaction, so two requests that share envs got their tickets in
//! the same order on every one of them: the live request that joined first anywhere is first
//! on all its envs, and the line never deadlocks.

use super::{decide_lock, Acquired, Decision, LockRequest, WaitProgress};
use crate::model::{Lock, Waiter};
use crate::store::{LockWrite, StoreTime};
use std::time::Duration;

/// A waiter's place lasts this many poll intervals without a heartbeat...
const STALE_POLLS: u32 = 3;
/// ...and never less than this, so a short poll interval survives a slow round trip.
const MIN_STALE_AFTER: Duration = Duration::from_secs(2);

/// How long after its last heartbeat a waiter polling every `poll_interval` counts as dead.
pub fn stale_after(poll_interval: Duration) -> Duration {
    (poll_interval * STALE_POLLS).max(MIN_STALE_AFTER)
}

/// A request that may wait in line: its waiter id (the same on every env) and how long its
/// place outlives its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queuer {
    pub id: String,
    pub stale_after: Duration,
}

/// The rows a request writes at once, each with the revision it expects (`None`: no row yet).
pub type Writes = Vec<(Option<u64>, LockWrite)>;

/// What a request does next, decided from its envs' rows as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take every env (or renew it): one write over all rows, which also takes the request's
    /// entries and the dead waiters off each queue.
    Take {
        writes: Writes,
        acquired: Vec<Acquired>,
    },
    /// Not now, and this request never queues: the other users' locks in the way, and how
    /// many live waiters would be served first (the most on any env).
    Busy { holders: Vec<Lock>, waiting: usize },
    /// Take a place at the back of every env's line, in one write (which drops whatever is left
    /// of an earlier place of the same request, and the dead waiters).
    Join(Writes),
    /// In line on every env and not first everywhere: a heartbeat, and wait.
    Wait,
    /// Someone else's uberlock is on one of the envs: nobody waits for an uberlock.
    Uberlocked(Lock),
    /// A `--supersede` request with a newer live waiter behind it on `env`: it gives way.
    Superseded { env: String, by: Waiter },
}

/// The queue of a row after a write at `time`: without the dead waiters and without `leaving`.
fn pruned(queue: &[Waiter], time: StoreTime, leaving: Option<&str>) -> Vec<Waiter> {
    queue
        .iter()
        .filter(|w| w.is_live_at(time.earliest) && Some(w.id.as_str()) != leaving)
        .cloned()
        .collect()
}

/// An env's serving order at `time`: its live waiters that nobody supersedes, by ticket. `own`
/// counts as live whatever its last heartbeat says: it is polling now.
pub fn serving_order<'a>(
    queue: &'a [Waiter],
    time: StoreTime,
    own: Option<&str>,
) -> Vec<&'a Waiter> {
    let live: Vec<&Waiter> = queue
        .iter()
        .filter(|w| Some(w.id.as_str()) == own || w.is_live_at(time.earliest))
        .collect();
    let mut order: Vec<&Waiter> = live
        .iter()
        .copied()
        .filter(|w| newest_behind(w, &live).is_none())
        .collect();
    order.sort_by_key(|w| w.ticket);
    order
}

/// The newest live waiter that supersedes `waiter` (one behind it, when it asked to give way).
fn newest_behind<'a>(waiter: &Waiter, live: &[&'a Waiter]) -> Option<&'a Waiter> {
    if !waiter.supersede {
        return None;
    }
    live.iter()
        .copied()
        .filter(|other| other.ticket > waiter.ticket)
        .max_by_key(|other| other.ticket)
}

fn entry<'a>(row: Option<&'a Lock>, id: &str) -> Option<&'a Waiter> {
    row.and_then(|row| row.queue.iter().find(|w| w.id == id))
}

fn queue_of(row: Option<&Lock>) -> &[Waiter] {
    row.map_or(&[], |row| row.queue.as_slice())
}

fn held_by_other<'a>(row: Option<&'a Lock>, user: &str, time: StoreTime) -> Option<&'a Lock> {
    row.filter(|row| row.is_held_at(time.earliest) && row.user != user)
}

/// Decides the next step of `request` on the rows of its envs (`rows[i]` is the row of
/// `request.envs[i]`), at store time `time`. `queuer` is `None` for a request that never
/// queues (one attempt): it is then told `Busy` where another would join or wait.
pub fn decide_step(
    rows: &[Option<Lock>],
    request: &LockRequest,
    queuer: Option<&Queuer>,
    time: StoreTime,
) -> Step {
    let rows: Vec<Option<&Lock>> = rows.iter().map(Option::as_ref).collect();
    let own = queuer.map(|q| q.id.as_str());
    if let Some(uber) = rows
        .iter()
        .filter_map(|row| held_by_other(*row, &request.user, time))
        .find(|row| row.uberlock)
    {
        return Step::Uberlocked(uber.clone());
    }
    let reentry = rows.iter().all(|row| {
        row.is_some_and(|row| row.is_held_at(time.earliest) && row.user == request.user)
    });
    // An uberlock takes every env from normal holders and ignores the queue (which stays).
    if request.uberlock || reentry {
        return take(&rows, request, own, time);
    }
    if let (Some(id), true) = (own, request.supersede) {
        for (env, row) in request.envs.iter().zip(&rows) {
            let Some(mine) = entry(*row, id) else {
                continue;
            };
            let live: Vec<&Waiter> = queue_of(*row)
                .iter()
                .filter(|w| w.id == id || w.is_live_at(time.earliest))
                .collect();
            if let Some(by) = newest_behind(mine, &live) {
                return Step::Superseded {
                    env: env.clone(),
                    by: by.clone(),
                };
            }
        }
    }
    let first_everywhere = rows.iter().all(|row| {
        let order = serving_order(queue_of(*row), time, own);
        match own.and_then(|id| entry(*row, id)) {
            Some(mine) => order.first().is_some_and(|first| first.id == mine.id),
            None => order.is_empty(),
        }
    });
    let free_everywhere = rows
        .iter()
        .all(|row| held_by_other(*row, &request.user, time).is_none());
    if first_everywhere && free_everywhere {
        return take(&rows, request, own, time);
    }
    let Some(queuer) = queuer else {
        return Step::Busy {
            holders: holders(&rows, &request.user, time),
            waiting: rows
                .iter()
                .map(|row| serving_order(queue_of(*row), time, None).len())
                .max()
                .unwrap_or(0),
        };
    };
    if rows.iter().all(|row| entry(*row, &queuer.id).is_some()) {
        Step::Wait
    } else {
        Step::Join(join(&rows, request, queuer, time))
    }
}

fn holders(rows: &[Option<&Lock>], user: &str, time: StoreTime) -> Vec<Lock> {
    rows.iter()
        .filter_map(|row| held_by_other(*row, user, time))
        .cloned()
        .collect()
}

fn take(rows: &[Option<&Lock>], request: &LockRequest, own: Option<&str>, time: StoreTime) -> Step {
    let mut writes = Vec::with_capacity(rows.len());
    let mut acquired = Vec::with_capacity(rows.len());
    for (env, row) in request.envs.iter().zip(rows) {
        let Decision::Write {
            write: LockWrite { lock, holds },
            acquired: how,
        } = decide_lock(env, *row, request, time)
        else {
            unreachable!("every env is free, the request's own, or the request preempts it")
        };
        let lock = Lock {
            queue: pruned(queue_of(*row), time, own),
            ..lock
        };
        writes.push((row.map(|row| row.revision), LockWrite { lock, holds }));
        acquired.push(how);
    }
    Step::Take { writes, acquired }
}

/// The row of an env nobody has held yet, for its first waiter.
fn unheld(env: &str) -> Lock {
    Lock {
        id: String::new(),
        user: String::new(),
        env: env.to_string(),
        created_at: 0,
        updated_at: 0,
        active: false,
        uberlock: false,
        meta: String::new(),
        expires_at: None,
        fencing_token: 0,
        revision: 0,
        queue: Vec::new(),
        next_ticket: 0,
    }
}

fn join(rows: &[Option<&Lock>], request: &LockRequest, queuer: &Queuer, time: StoreTime) -> Writes {
    request
        .envs
        .iter()
        .zip(rows)
        .map(|(env, row)| {
            let current = row.cloned().unwrap_or_else(|| unheld(env));
            let mut queue = pruned(&current.queue, time, Some(&queuer.id));
            queue.push(Waiter {
                id: queuer.id.clone(),
                ticket: current.next_ticket,
                user: request.user.clone(),
                meta: request.meta.for_fresh(),
                joined_at: time.latest,
                seen_at: time.latest,
                stale_after: queuer.stale_after.as_millis() as i64,
                supersede: request.supersede,
                envs: request.envs.clone(),
            });
            let lock = Lock {
                queue,
                next_ticket: current.next_ticket + 1,
                revision: current.revision + 1,
                ..current
            };
            (
                row.map(|row| row.revision),
                LockWrite {
                    lock,
                    holds: Vec::new(),
                },
            )
        })
        .collect()
}

/// The write that takes waiter `id` off every queue it is on (and the dead waiters with it);
/// empty when it is on none.
pub fn decide_leave(rows: &[Option<Lock>], id: &str, time: StoreTime) -> Writes {
    rows.iter()
        .flatten()
        .filter(|row| row.queue.iter().any(|w| w.id == id))
        .map(|row| {
            let lock = Lock {
                queue: pruned(&row.queue, time, Some(id)),
                revision: row.revision + 1,
                ..row.clone()
            };
            (
                Some(row.revision),
                LockWrite {
                    lock,
                    holds: Vec::new(),
                },
            )
        })
        .collect()
}

/// A row's queue after a holder's own write (a renewal or a release): without the dead.
pub fn without_the_dead(queue: &[Waiter], time: StoreTime) -> Vec<Waiter> {
    pruned(queue, time, None)
}

/// The row as others should see it: its queue the live waiters in serving order.
pub fn as_listed(row: Lock, time: StoreTime) -> Lock {
    let queue = serving_order(&row.queue, time, None)
        .into_iter()
        .cloned()
        .collect();
    Lock { queue, ..row }
}

/// Where waiter `id` stands on the rows of its envs.
pub fn progress(
    rows: &[Option<Lock>],
    request: &LockRequest,
    id: &str,
    time: StoreTime,
    waited: Duration,
    rejoined: bool,
) -> WaitProgress {
    let rows: Vec<Option<&Lock>> = rows.iter().map(Option::as_ref).collect();
    let orders: Vec<Vec<&Waiter>> = rows
        .iter()
        .map(|row| serving_order(queue_of(*row), time, Some(id)))
        .collect();
    WaitProgress {
        envs: request.envs.clone(),
        position: orders
            .iter()
            .map(|order| order.iter().position(|w| w.id == id).unwrap_or(order.len()) + 1)
            .max()
            .unwrap_or(1),
        waiting: orders.iter().map(Vec::len).max().unwrap_or(0),
        holders: holders(&rows, &request.user, time),
        waited,
        rejoined,
    }
}
