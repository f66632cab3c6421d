//! Lock rules, independent of any store: who may take an env, re-entry, uberlocks, leases, and
//! the waiting loop. A lock belongs to the run that took it (its `holder`): re-entry (a renewal,
//! an upgrade) is the holder's alone; another run of the same user waits in line like anyone. Every change is decided here from the row as read, then written with the
//! store's compare-and-swap; a lost race re-decides from the row the store returns.
//!
//! Every decision also says which history rows (holds) the write records, so the history can
//! never disagree with the lock row: a fresh acquisition opens a hold and ends the one it took
//! over (expired or preempted), a renewal or upgrade rewrites its own hold, a release ends it.
//!
//! Time is the store's clock ([`Store::now`]), never this machine's, known to within an
//! interval: a lease counts as over only once the store's clock has certainly passed its
//! `expiresAt` (the interval's earliest end), and stamps (`updatedAt`, `expiresAt`) come from
//! its latest end, so nobody sees a lease shorter than its `--ttl`. A client's skewed clock
//! therefore neither takes a live lease nor stretches or cuts its own. The one exception is a
//! fresh process's first write, made before any response told it the store's clock: it takes
//! only a free env, which needs no time, and its stamp, from this machine's clock, stands only
//! if the answer's clock confirms it; otherwise one more write on the revision just written
//! stamps it again before the lock is reported taken (losing that write means it was never
//! held).

use crate::error::{Error, LostTo, Result};
use crate::model::{Hold, HoldEnd, Lock};
use crate::store::{Expect, LockWrite, Store, StoreTime, Swap, SwapAll};
use queue::{Queuer, Step, Writes};

pub mod queue;
mod release;
use release::releasing;
pub use release::{
    decide_release, decide_release_restamp, release, release_from, Authority, NotReleased,
    ReleaseDecision, ReleaseRequest, Released,
};
use serde::Serialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const DEFAULT_TTL: Duration = Duration::from_secs(20 * 60);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct LockRequest {
    /// 1..=25 distinct envs, validated by the front door: all are taken at once, or none.
    pub envs: Vec<String>,
    pub user: String,
    /// The run taking it: a lock it holds already is renewed, anyone else's waited for.
    pub holder: String,
    pub meta: Meta,
    pub uberlock: bool,
    pub ttl: Duration,
    /// Give way to any newer waiter on the same env (`Error::Superseded`).
    pub supersede: bool,
}

/// Where a waiting request stands, told to the caller on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitProgress {
    pub envs: Vec<String>,
    /// 1-based place in line, the worst over the envs (1 = next).
    pub position: usize,
    /// Live waiters on those envs, this one included (the most on any env).
    pub waiting: usize,
    /// The other holders' locks in the way (empty when the envs are free but others are first).
    pub holders: Vec<Lock>,
    pub waited: Duration,
    /// This poll joined again after its entry was pruned (it had stalled too long).
    pub rejoined: bool,
}

/// What a lock is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// The caller said: it replaces the lock's meta, on a renewal too.
    Given(String),
    /// The caller said nothing: the default (the CI run's URL, or the front door: `CLI`, `API`,
    /// `Slack`) for a fresh acquisition; a renewal or an upgrade keeps the meta the lock has.
    Default(String),
}

impl Meta {
    fn for_fresh(&self) -> String {
        match self {
            Meta::Given(meta) => meta.clone(),
            Meta::Default(meta) => meta.clone(),
        }
    }

    fn for_renewal(&self, current: &str) -> String {
        match self {
            Meta::Given(meta) => meta.clone(),
            Meta::Default(_) => current.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// One attempt only.
    No,
    /// Retry until this much time has passed.
    Until(Duration),
    Forever,
}

#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub wait: Wait,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Acquired {
    /// The env was free, released or expired.
    Acquired,
    /// The caller's run held it already; the lease was renewed and the lock id kept.
    Renewed,
    /// The caller's run held a normal lock and now holds an uberlock, same lock id.
    Upgraded,
    /// An uberlock took the env from another holder's normal lock.
    Preempted { preempted_user: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Write {
        write: LockWrite,
        acquired: Acquired,
    },
    Busy(Lock),
    Uberlocked(Lock),
}

/// The write of a lock row whose own hold goes on (taken, renewed, upgraded), and of the hold it
/// ended, if any.
fn holding(next: Lock, ended: Option<Hold>) -> LockWrite {
    let holds = std::iter::once(Hold::of(&next)).chain(ended).collect();
    LockWrite {
        lock: next,
        holds,
        keeps_queue: false,
        restamped: None,
    }
}

/// How the hold of a row that is still active ends at store time `time`: released by its
/// holder, or, when its lease certainly lapsed first, expired when it lapsed (whatever happened
/// after).
fn released_or_lapsed(lock: &Lock, time: StoreTime) -> Hold {
    match lock.expires_at {
        Some(at) if !lock.uberlock && at <= time.earliest => {
            Hold::of(lock).ended(HoldEnd::Expired, at, None)
        }
        _ => Hold::of(lock).ended(HoldEnd::Released, stamp(time, Some(lock)), None),
    }
}

/// The time a write to an env whose row is `current` is stamped with: the latest the store's
/// clock may read, and never before the row's last write. Readings of that clock are intervals
/// (another client's, or this one's after a tighter reading, may end earlier), and an env's
/// holds are ordered by their stamps.
fn stamp(time: StoreTime, current: Option<&Lock>) -> i64 {
    current.map_or(time.latest, |row| time.latest.max(row.updated_at + 1))
}

/// Decides a lock attempt on the row as read, at store time `time`: a lease counts as over only
/// once the store's clock has certainly passed it (`time.earliest`), and a new or renewed lease
/// is stamped from the latest the store's clock may read (`time.latest`), so that nobody sees it
/// shorter than `--ttl`.
pub fn decide_lock(
    env: &str,
    current: Option<&Lock>,
    request: &LockRequest,
    time: StoreTime,
) -> Decision {
    let now = stamp(time, current);
    let expires_at = |uberlock: bool| (!uberlock).then(|| now + request.ttl.as_millis() as i64);
    let fresh = |previous: Option<&Lock>| Lock {
        id: uuid::Uuid::now_v7().to_string(),
        user: request.user.clone(),
        holder: request.holder.clone(),
        env: env.to_string(),
        created_at: now,
        updated_at: now,
        active: true,
        uberlock: request.uberlock,
        meta: request.meta.for_fresh(),
        expires_at: expires_at(request.uberlock),
        fencing_token: (now.max(0) as u64).max(previous.map_or(0, |l| l.fencing_token) + 1),
        acquisitions: previous.map_or(0, |l| l.acquisitions) + 1,
        revision: previous.map_or(0, |l| l.revision) + 1,
        queue: previous.map_or_else(Vec::new, |l| l.queue.clone()),
        next_ticket: previous.map_or(0, |l| l.next_ticket),
    };
    let holder = match current {
        Some(lock) if lock.is_held_at(time.earliest) => lock,
        free => {
            // A row still marked active here is a lease that lapsed: its hold ends with it.
            let lapsed = free
                .filter(|lock| lock.active)
                .map(|lock| released_or_lapsed(lock, time));
            return Decision::Write {
                write: holding(fresh(free), lapsed),
                acquired: Acquired::Acquired,
            };
        }
    };
    if holder.holder == request.holder {
        // Re-entry keeps the lock id and fencing token: it is the same acquisition.
        let uberlock = holder.uberlock || request.uberlock;
        let next = Lock {
            updated_at: now,
            uberlock,
            meta: request.meta.for_renewal(&holder.meta),
            expires_at: expires_at(uberlock),
            revision: holder.revision + 1,
            ..holder.clone()
        };
        let acquired = if request.uberlock && !holder.uberlock {
            Acquired::Upgraded
        } else {
            Acquired::Renewed
        };
        return Decision::Write {
            write: holding(next, None),
            acquired,
        };
    }
    if holder.uberlock {
        Decision::Uberlocked(holder.clone())
    } else if request.uberlock {
        let preempted = Hold::of(holder).ended(HoldEnd::Preempted, now, Some(request.user.clone()));
        Decision::Write {
            write: holding(fresh(Some(holder)), Some(preempted)),
            acquired: Acquired::Preempted {
                preempted_user: holder.user.clone(),
            },
        }
    } else {
        Decision::Busy(holder.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Every env, in request order.
    Acquired(Vec<(Lock, Acquired)>),
    /// Not taken. `holders`: the other holders' locks in the way (empty when the envs are free
    /// but others wait); `waiting`: the live waiters in line (the most on any env), who would
    /// be served first.
    Busy { holders: Vec<Lock>, waiting: usize },
}

/// The most envs one request takes at once (DynamoDB writes them in one transaction).
pub const MAX_ENVS: usize = 25;

/// A request names 1..=MAX_ENVS distinct envs; the front doors check this first, with their
/// own words, so this only guards the rules.
fn check_envs(envs: &[String]) -> Result<()> {
    let distinct = envs
        .iter()
        .enumerate()
        .all(|(i, env)| !envs[..i].contains(env));
    if envs.is_empty() || envs.len() > MAX_ENVS || !distinct {
        return Err(Error::usage(format!(
            "a lock needs 1 to {MAX_ENVS} distinct envs, got {}",
            envs.join(", ")
        )));
    }
    Ok(())
}

/// The locks taken, each as others see it (its queue the live waiters in serving order).
fn taken(writes: Writes, acquired: Vec<Acquired>, time: StoreTime) -> Vec<(Lock, Acquired)> {
    writes
        .into_iter()
        .map(|(_, write)| queue::as_listed(write.lock, time))
        .zip(acquired)
        .collect()
}

/// What a request's first write, made without reading, came to.
enum Unread {
    /// Every env was free: taken, in request order.
    Taken(Vec<(Lock, Acquired)>),
    /// Not all: the rows as they are, to decide on.
    Found(Vec<Option<Lock>>),
}

/// Every env taken as if nobody had ever held it, each write conditional on the env being free
/// for it ([`Expect::FreeBefore`]). The stamp doubles as each new row's revision and fencing
/// token, which the condition keeps growing.
fn decide_unread(request: &LockRequest, time: StoreTime) -> (Writes, Vec<Acquired>) {
    let unread = vec![None; request.envs.len()];
    let Step::Take { writes, acquired } = queue::decide_step(&unread, request, None, time) else {
        unreachable!("an env nobody holds or waits for is taken")
    };
    let writes = writes
        .into_iter()
        .map(|(_, write)| {
            let stamp = write.lock.updated_at;
            let lock = Lock {
                revision: stamp.max(0) as u64,
                ..write.lock
            };
            (Expect::FreeBefore(stamp), LockWrite { lock, ..write })
        })
        .collect();
    (writes, acquired)
}

/// The one-write acquisitions `writes`, stamped from this machine's clock, stamped again from
/// the store's clock `time` (known now, from their response) where it does not confirm the
/// stamp: same lock id and fencing token, the lease from the store's clock, and the hold row
/// moved to the new stamp. Empty when every stamp stands.
pub fn decide_restamp(writes: &Writes, time: StoreTime) -> Writes {
    writes
        .iter()
        .filter(|(_, write)| !time.confirms(write.lock.updated_at))
        .map(|(_, write)| {
            let first = &write.lock;
            let lock = Lock {
                created_at: time.latest,
                updated_at: time.latest,
                expires_at: first
                    .expires_at
                    .map(|at| at - first.updated_at + time.latest),
                revision: first.revision + 1,
                ..first.clone()
            };
            // The holder's attributes only: the store counted the acquisition in the first write.
            let write = LockWrite {
                restamped: Some(Hold::of(first).key()),
                keeps_queue: true,
                ..holding(lock, None)
            };
            (Expect::Revision(first.revision), write)
        })
        .collect()
}

/// A request's first write: every env taken in one write, unread. From a fresh process the
/// store's clock is not known yet, so the stamps come from this machine's clock; the write's
/// answer tells the store's clock, and a stamp it does not confirm is written again before
/// anything is reported. Losing that second write means the env was taken from under a stamp
/// too far behind: never held.
async fn take_unread(store: &dyn Store, request: &LockRequest) -> Result<Unread> {
    let guessed = !store.knows_clock();
    let (writes, acquired) = decide_unread(request, store.now());
    if let Some(rows) = write_all(store, &writes, &request.envs).await? {
        return Ok(Unread::Found(rows));
    }
    let time = store.now();
    let restamps = if guessed {
        decide_restamp(&writes, time)
    } else {
        Writes::new()
    };
    if restamps.is_empty() {
        return Ok(Unread::Taken(taken(writes, acquired, time)));
    }
    Ok(match write_all(store, &restamps, &request.envs).await? {
        None => Unread::Taken(taken(restamps, acquired, time)),
        Some(rows) => Unread::Found(rows),
    })
}

/// One attempt that never joins the line: one write that takes every env if free, else read,
/// decide, one write; re-decides after every lost race. An uberlock in the way is an error at
/// once: nobody waits on an uberlock.
pub async fn try_lock(store: &dyn Store, request: &LockRequest) -> Result<Attempt> {
    Ok(match attempt(store, request).await? {
        Ok(taken) => Attempt::Acquired(taken),
        Err((Step::Busy { holders, waiting }, ..)) => Attempt::Busy { holders, waiting },
        Err((step, ..)) => unreachable!("an attempt is refused only as busy, not {step:?}"),
    })
}

/// [`try_lock`], refused with the step that refused it and the rows and time it was decided on.
async fn attempt(
    store: &dyn Store,
    request: &LockRequest,
) -> Result<Result<Vec<(Lock, Acquired)>, (Step, Vec<Option<Lock>>, StoreTime)>> {
    check_envs(&request.envs)?;
    let mut rows = match take_unread(store, request).await? {
        Unread::Taken(taken) => return Ok(Ok(taken)),
        Unread::Found(rows) => rows,
    };
    loop {
        let time = store.now();
        match queue::decide_step(&rows, request, None, time) {
            Step::Take { writes, acquired } => {
                match write_all(store, &writes, &request.envs).await? {
                    None => return Ok(Ok(taken(writes, acquired, time))),
                    // Every conflict is someone else's completed write, so this loop ends.
                    Some(now) => rows = now,
                }
            }
            step @ Step::Busy { .. } => return Ok(Err((step, rows, time))),
            Step::Uberlocked(holder) => return Err(uberlocked(holder, time)),
            step @ (Step::Join(_) | Step::Wait | Step::Superseded { .. }) => {
                unreachable!("a request that never queues cannot {step:?}")
            }
        }
    }
}

/// Someone else's uberlock, as read at `time`, refuses a request.
fn uberlocked(holder: Lock, time: StoreTime) -> Error {
    Error::Uberlocked(Box::new(queue::as_listed(holder, time)))
}

/// Takes every env of the request at once, waiting in line (first come, first served) while
/// anyone holds one or is ahead. Each poll is one read of the rows and one write (take, join,
/// heartbeat or leave). `on_wait` sees where the request stands before each wait.
/// Cancellation only cuts a wait between polls, never a write in flight; a request that gives
/// up (time out, cancelled, uberlocked, superseded) leaves the line before the error returns.
pub async fn lock(
    store: &dyn Store,
    request: &LockRequest,
    policy: WaitPolicy,
    cancel: &CancellationToken,
    on_wait: &mut (dyn FnMut(&WaitProgress) + Send),
) -> Result<Vec<(Lock, Acquired)>> {
    check_envs(&request.envs)?;
    let queuer = match policy.wait {
        Wait::No => return once(store, request).await,
        Wait::Until(_) | Wait::Forever => Queuer {
            id: uuid::Uuid::now_v7().to_string(),
            stale_after: queue::stale_after(policy.poll_interval),
        },
    };
    let started = tokio::time::Instant::now();
    let mut joined = false;
    let mut rows = match take_unread(store, request).await? {
        Unread::Taken(taken) => return Ok(taken),
        Unread::Found(rows) => rows,
    };
    loop {
        let time = store.now();
        let left = match policy.wait {
            Wait::Until(limit) => limit.saturating_sub(started.elapsed()),
            Wait::No | Wait::Forever => policy.poll_interval,
        };
        let rejoined = match queue::decide_step(&rows, request, Some(&queuer), time) {
            Step::Take { writes, acquired } => {
                match write_all(store, &writes, &request.envs).await? {
                    None => return Ok(taken(writes, acquired, time)),
                    Some(now) => rows = now,
                }
                continue;
            }
            Step::Uberlocked(holder) => {
                let error = uberlocked(holder, time);
                return Err(leave(store, request, &queuer, Some(rows), error).await);
            }
            Step::Superseded { env, by } => {
                let by = Box::new(by);
                let error = Error::Superseded { env, by };
                return Err(leave(store, request, &queuer, Some(rows), error).await);
            }
            Step::Join(_) | Step::Wait if left.is_zero() => {
                let waited = Some(started.elapsed());
                let busy = queue::refusal(&rows, request, Some(&queuer.id), time, waited);
                let error = Error::LockBusy(Box::new(busy));
                return Err(leave(store, request, &queuer, Some(rows), error).await);
            }
            Step::Join(writes) => match write_all(store, &writes, &request.envs).await? {
                None => {
                    rows = writes
                        .into_iter()
                        .map(|(_, write)| Some(write.lock))
                        .collect();
                    std::mem::replace(&mut joined, true)
                }
                Some(now) => {
                    rows = now;
                    continue;
                }
            },
            Step::Wait => {
                // A place found gone here (pruned after a stall) is taken again next poll.
                store
                    .touch_waiter(&request.envs, &queuer.id, time.latest)
                    .await?;
                false
            }
            Step::Busy { .. } => unreachable!("a request in line is never told busy"),
        };
        on_wait(&queue::progress(
            &rows,
            request,
            &queuer.id,
            time,
            started.elapsed(),
            rejoined,
        ));
        tokio::select! {
            _ = cancel.cancelled() => {
                return Err(leave(store, request, &queuer, None, Error::Interrupted).await);
            }
            _ = tokio::time::sleep(left.min(policy.poll_interval)) => {}
        }
        rows = store.load_locks(&request.envs).await?;
    }
}

/// One attempt for a request that does not wait: someone else's lock is `Error::LockBusy`.
async fn once(store: &dyn Store, request: &LockRequest) -> Result<Vec<(Lock, Acquired)>> {
    match attempt(store, request).await? {
        Ok(taken) => Ok(taken),
        Err((_, rows, time)) => {
            let busy = queue::refusal(&rows, request, None, time, None);
            Err(Error::LockBusy(Box::new(busy)))
        }
    }
}

/// Takes the request off every queue it is on as it gives up with `reason`, which it returns.
/// `rows` as just read, if they were. Should the store fail here, `reason` still says why the
/// request gave up, and its place lapses by itself once its heartbeats stop.
async fn leave(
    store: &dyn Store,
    request: &LockRequest,
    queuer: &Queuer,
    rows: Option<Vec<Option<Lock>>>,
    reason: Error,
) -> Error {
    let _lapses_anyway = give_back_place(store, request, queuer, rows).await;
    reason
}

/// One write taking `queuer` off every queue, re-decided after a lost race.
async fn give_back_place(
    store: &dyn Store,
    request: &LockRequest,
    queuer: &Queuer,
    rows: Option<Vec<Option<Lock>>>,
) -> Result<()> {
    let mut rows = match rows {
        Some(rows) => rows,
        None => store.load_locks(&request.envs).await?,
    };
    loop {
        let writes = queue::decide_leave(&rows, &queuer.id, store.now());
        if writes.is_empty() {
            return Ok(());
        }
        // The writes cover only some of the envs: after a lost race, all are read again.
        match store.swap_locks(&writes).await? {
            SwapAll::Done => return Ok(()),
            SwapAll::Conflict => rows = store.load_locks(&request.envs).await?,
        }
    }
}

/// Writes every row or none. `None` once written; after a lost race, the rows of `envs` (the
/// envs the writes were decided on) as they are now: for one row, as the store returned it.
async fn write_all(
    store: &dyn Store,
    writes: &Writes,
    envs: &[String],
) -> Result<Option<Vec<Option<Lock>>>> {
    if let ([(expected, write)], [_]) = (writes.as_slice(), envs) {
        return Ok(match store.swap_lock(expected.clone(), write).await? {
            Swap::Done => None,
            Swap::Conflict(row) => Some(vec![row]),
        });
    }
    Ok(match store.swap_locks(writes).await? {
        SwapAll::Done => None,
        SwapAll::Conflict => Some(store.load_locks(envs).await?),
    })
}

/// The row as it is now is still the acquisition `held` (same lock id, not released), or the
/// lease is lost: the error names whoever the env passed to. A row that is still ours but past
/// its lease is still ours: every acquisition writes a new lock id, so nobody took it meanwhile.
fn still_ours<'a>(held: &Lock, current: Option<&'a Lock>) -> Result<&'a Lock> {
    let lost = |to| Error::LeaseLost {
        env: held.env.clone(),
        to,
    };
    match current {
        Some(lock) if lock.id == held.id && lock.active => Ok(lock),
        Some(lock) if lock.id == held.id => Err(lost(LostTo::Released)),
        Some(lock) => Err(lost(LostTo::Holder(Box::new(lock.clone())))),
        None => Err(lost(LostTo::Gone)),
    }
}

/// Extends the lease of `held` from store time `time`, as found in `current`: same lock id and
/// fencing token, a lease as long as `held`'s. An uberlock stays without expiry.
pub fn decide_renew(held: &Lock, current: Option<&Lock>, time: StoreTime) -> Result<LockWrite> {
    let lock = still_ours(held, current)?;
    let now = stamp(time, Some(lock));
    let lease = held.expires_at.map(|at| at - held.updated_at);
    let next = Lock {
        updated_at: now,
        expires_at: if lock.uberlock {
            None
        } else {
            lease.map(|lease| now + lease)
        },
        revision: lock.revision + 1,
        ..lock.clone()
    };
    Ok(LockWrite {
        keeps_queue: true,
        ..holding(next, None)
    })
}

/// Ends the acquisition `held`, as found in `current`.
pub fn decide_release_held(
    held: &Lock,
    current: Option<&Lock>,
    time: StoreTime,
) -> Result<LockWrite> {
    Ok(LockWrite {
        keeps_queue: true,
        ..releasing(still_ours(held, current)?, time)
    })
}

/// Writes `decide(held, row)` for every acquisition in `held` at once, conditionally on the
/// revisions of `held`, the rows as this holder last wrote them, so a healthy renewal is one
/// write and no read. The write changes the holder only ([`LockWrite::keeps_queue`]): the
/// waiters' heartbeats since that copy stay. A lost race re-decides from the rows as they are
/// now: the same acquisition renewed by its user elsewhere is still ours; any other writer
/// means the lease is lost. With `lost_stops_all`, one lost lease writes nothing; without it,
/// the others are still written and the loss is the error.
async fn swap_held(
    store: &dyn Store,
    held: &[Lock],
    decide: impl Fn(&Lock, Option<&Lock>, StoreTime) -> Result<LockWrite>,
    lost_stops_all: bool,
) -> Result<Vec<Lock>> {
    let envs: Vec<String> = held.iter().map(|lock| lock.env.clone()).collect();
    let mut current: Vec<Option<Lock>> = held.iter().cloned().map(Some).collect();
    loop {
        let time = store.now();
        let mut writes = Writes::new();
        let mut lost = None;
        for (held, row) in held.iter().zip(&current) {
            match decide(held, row.as_ref(), time) {
                Ok(write) => writes.push((Expect::read(row.as_ref()), write)),
                Err(error) if lost_stops_all => return Err(error),
                Err(error) => lost = lost.or(Some(error)),
            }
        }
        let written_envs: Vec<String> = writes.iter().map(|(_, w)| w.lock.env.clone()).collect();
        if !writes.is_empty() {
            if let Some(now) = write_all(store, &writes, &written_envs).await? {
                current = if written_envs == envs {
                    now
                } else {
                    store.load_locks(&envs).await?
                };
                continue;
            }
        }
        return match lost {
            Some(error) => Err(error),
            None => Ok(writes
                .into_iter()
                .map(|(_, write)| queue::as_listed(write.lock, time))
                .collect()),
        };
    }
}

/// Renews the leases of the locks this process holds, in one write (`Error::LeaseLost`, and
/// nothing renewed, if any passed to anyone).
pub async fn renew(store: &dyn Store, held: &[Lock]) -> Result<Vec<Lock>> {
    swap_held(store, held, decide_renew, true).await
}

/// Releases the acquisitions `held` (uberlocks too) in one write and returns the released
/// rows. If any env passed to someone else meanwhile, the others are still released and the
/// result is `Error::LeaseLost`. Unlike [`release`], which ends whatever the user holds, this
/// ends only these acquisitions.
pub async fn release_held(store: &dyn Store, held: &[Lock]) -> Result<Vec<Lock>> {
    swap_held(store, held, decide_release_held, false).await
}

/// The envs someone holds or waits for now, sorted by env, each with its live waiters in
/// serving order. An env that is free while others wait for it (they want another env too)
/// is listed with `active: false`.
pub async fn list(store: &dyn Store, env: Option<&str>) -> Result<Vec<Lock>> {
    let rows = match env {
        Some(env) => store.load_lock(env).await?.into_iter().collect(),
        None => {
            let mut rows = store.active_locks().await?;
            rows.extend(store.waited_locks().await?);
            rows
        }
    };
    let time = store.now();
    let mut locks: Vec<Lock> = rows
        .into_iter()
        .map(|row| Lock {
            active: row.is_held_at(time.earliest),
            ..queue::as_listed(row, time)
        })
        .filter(|lock| lock.active || !lock.queue.is_empty())
        .collect();
    locks.sort_by(|a, b| a.env.cmp(&b.env));
    Ok(locks)
}

pub const DEFAULT_HISTORY_LIMIT: usize = 20;
/// One page of a DynamoDB Query holds far more than this many holds, so a history is one request.
pub const MAX_HISTORY_LIMIT: usize = 1_000;

/// A hold as of `now`: one still open whose lease ran out has expired when it ran out, even if
/// nobody has written its env since.
pub fn judge_hold(hold: Hold, now: i64) -> Hold {
    match (hold.end, hold.expires_at) {
        (None, Some(at)) if !hold.uberlock && at <= now => hold.ended(HoldEnd::Expired, at, None),
        _ => hold,
    }
}

/// The holds of an env, newest first: at most `limit`, acquired within `since` when given.
pub async fn history(
    store: &dyn Store,
    env: &str,
    since: Option<Duration>,
    limit: usize,
) -> Result<Vec<Hold>> {
    // Before the first reply the store's clock may be known only loosely: the window is
    // generous, and expiry is judged after the reply, on the clock it taught.
    let from = since.map(|since| store.now().earliest - since.as_millis() as i64);
    let holds = store.holds(env, from, limit).await?;
    let now = store.now().earliest;
    Ok(holds
        .into_iter()
        .map(|hold| judge_hold(hold, now))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn at(now: i64) -> StoreTime {
        StoreTime::exact(now)
    }

    fn request(user: &str, uberlock: bool) -> LockRequest {
        LockRequest {
            envs: vec!["production".into()],
            user: user.into(),
            holder: user.into(),
            meta: Meta::Default("CLI".into()),
            uberlock,
            ttl: TTL,
            supersede: false,
        }
    }

    /// `user`'s release of production from their own run, with `--uberlock` or not.
    fn release_by(user: &str, uberlock: bool) -> ReleaseRequest {
        ReleaseRequest {
            envs: vec!["production".into()],
            user: user.into(),
            holder: user.into(),
            uberlock,
            authority: Authority::Holder,
        }
    }

    /// `user`'s lock attempt on production, on the row `current`, at store time `now`.
    fn lock_at(current: Option<&Lock>, user: &str, uberlock: bool, now: i64) -> Decision {
        decide_lock("production", current, &request(user, uberlock), at(now))
    }

    fn granted(decision: Decision) -> (Lock, Acquired) {
        match decision {
            Decision::Write { write, acquired } => (write.lock, acquired),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn a_free_env_is_granted_with_a_lease() {
        let (lock, acquired) = granted(lock_at(None, "alice", false, 1_000));
        assert_eq!(acquired, Acquired::Acquired);
        assert_eq!(lock.expires_at, Some(61_000));
        assert_eq!((lock.fencing_token, lock.revision), (1_000, 1), "the stamp");
        assert!(lock.active && !lock.uberlock);
    }

    #[test]
    fn the_holder_renews_and_keeps_the_id() {
        let (first, _) = granted(lock_at(None, "alice", false, 1_000));
        let (again, acquired) = granted(lock_at(Some(&first), "alice", false, 5_000));
        assert_eq!(acquired, Acquired::Renewed);
        assert_eq!(again.id, first.id);
        assert_eq!(again.fencing_token, first.fencing_token);
        assert_eq!(again.created_at, 1_000);
        assert_eq!(again.expires_at, Some(65_000));
        assert_eq!(again.revision, first.revision + 1);
    }

    #[test]
    fn a_fencing_token_is_the_stamp_and_stays_above_the_one_before() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        // A token ahead of the clock (stamped from a client clock that ran ahead).
        let ahead = Lock {
            fencing_token: 90_000,
            ..held
        };
        let (taken, _) = granted(lock_at(Some(&ahead), "bob", false, 61_000));
        assert_eq!(taken.fencing_token, 90_001);
    }

    #[test]
    fn a_lock_written_unread_expects_every_env_free_and_stamps_revision_and_token() {
        let request = LockRequest {
            envs: vec!["eu".into(), "us".into()],
            ..request("alice", false)
        };
        let (writes, acquired) = decide_unread(&request, StoreTime::exact(5_000));
        assert_eq!(acquired, [Acquired::Acquired, Acquired::Acquired]);
        for ((expected, write), env) in writes.iter().zip(["eu", "us"]) {
            assert_eq!(*expected, Expect::FreeBefore(5_000));
            let lock = &write.lock;
            assert_eq!(
                (
                    lock.env.as_str(),
                    lock.created_at,
                    lock.fencing_token,
                    lock.revision
                ),
                (env, 5_000, 5_000, 5_000)
            );
            assert_eq!(write.holds, [Hold::of(lock)]);
        }
    }

    #[test]
    fn a_lock_stamped_from_this_machine_s_clock_is_stamped_again_unless_the_store_s_confirms_it() {
        let request = request("alice", false);
        let (writes, _) = decide_unread(&request, StoreTime::exact(100_000));
        let known = |earliest: i64| StoreTime {
            earliest,
            latest: earliest + 1_050,
        };
        // In step: the stamp is within what the store's clock read over the round trip (its
        // `Date` truncated to the second, so its earliest may trail by up to a second).
        for earliest in [98_950, 99_500, 100_000, 101_000] {
            assert!(
                decide_restamp(&writes, known(earliest)).is_empty(),
                "{earliest}"
            );
        }
        // This machine's clock ran 30 minutes behind (or ahead): stamped again from the store's.
        for earliest in [1_900_000, 100_000 - 1_800_000, 98_949, 101_001] {
            let latest = earliest + 1_050;
            let again = decide_restamp(&writes, known(earliest));
            let [(expected, write)] = again.as_slice() else {
                panic!("one env, one write")
            };
            let (first, lock) = (&writes[0].1.lock, &write.lock);
            assert_eq!(*expected, Expect::Revision(first.revision));
            assert_eq!((lock.created_at, lock.updated_at), (latest, latest));
            assert_eq!(lock.expires_at, Some(latest + 60_000));
            assert_eq!(
                (&lock.id, lock.fencing_token, lock.revision),
                (&first.id, first.fencing_token, first.revision + 1)
            );
            assert_eq!(write.restamped, Some(Hold::of(first).key()));
            assert_eq!(write.holds, [Hold::of(lock)]);
        }
    }

    #[test]
    fn a_release_from_a_copy_is_stamped_again_from_the_store_s_clock() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let known = |earliest: i64| StoreTime {
            earliest,
            latest: earliest + 1_050,
        };
        // Still leased on the store's clock: released now, on the revision the first release wrote.
        let again = decide_release_restamp(std::slice::from_ref(&held), known(30_000));
        let [(expected, write)] = again.as_slice() else {
            panic!("one env, one write")
        };
        assert_eq!(*expected, Expect::Revision(held.revision + 1));
        assert!(write.keeps_queue && !write.lock.active);
        assert_eq!(
            (write.lock.updated_at, write.lock.revision),
            (31_050, held.revision + 2)
        );
        assert_eq!(write.holds[0].end, Some(HoldEnd::Released));
        assert_eq!(write.holds[0].ended_at, Some(31_050));
        // Its lease had run out on the store's clock: it ended then.
        let late = decide_release_restamp(std::slice::from_ref(&held), known(90_000));
        assert_eq!(late[0].1.holds[0].end, Some(HoldEnd::Expired));
        assert_eq!(late[0].1.holds[0].ended_at, held.expires_at);
    }

    #[test]
    fn someone_else_waits_until_the_lease_expires() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        assert!(matches!(
            lock_at(Some(&held), "bob", false, 60_999),
            Decision::Busy(l) if l.user == "alice"
        ));
        let (taken, acquired) = granted(lock_at(Some(&held), "bob", false, 61_000));
        assert_eq!(acquired, Acquired::Acquired);
        assert_ne!(taken.id, held.id);
        assert_eq!(taken.fencing_token, 61_000);
    }

    #[test]
    fn expiry_is_judged_on_the_store_clock_s_earliest_reading_and_stamped_from_its_latest() {
        // The store's clock is known to within 800 ms: a new lease counts from the latest end.
        let uncertain = |earliest| StoreTime {
            earliest,
            latest: earliest + 800,
        };
        let (held, _) = granted(decide_lock(
            "production",
            None,
            &request("alice", false),
            uncertain(1_000),
        ));
        assert_eq!((held.updated_at, held.expires_at), (1_800, Some(61_800)));
        // Taken only once the store's clock has certainly passed the expiry.
        assert!(matches!(
            decide_lock(
                "production",
                Some(&held),
                &request("bob", false),
                uncertain(61_799)
            ),
            Decision::Busy(_)
        ));
        let (taken, _) = granted(decide_lock(
            "production",
            Some(&held),
            &request("bob", false),
            uncertain(61_800),
        ));
        assert_eq!(taken.user, "bob");
    }

    #[test]
    fn an_env_s_stamps_never_go_back_whoever_reads_the_store_s_clock_earlier() {
        let (held, _) = granted(lock_at(None, "alice", false, 5_000));
        // A later write whose reading of the store's clock ends earlier still stamps later.
        let ReleaseDecision::Write(released) =
            decide_release(Some(&held), &release_by("alice", false), at(4_000)).unwrap()
        else {
            panic!("alice holds it")
        };
        assert_eq!(released.lock.updated_at, 5_001);
        assert_eq!(released.holds[0].ended_at, Some(5_001));
        let (next, _) = granted(lock_at(Some(&released.lock), "bob", false, 4_500));
        assert_eq!((next.created_at, next.expires_at), (5_002, Some(65_002)));
        let renewed = decide_renew(&next, Some(&next), at(4_600)).unwrap().lock;
        assert_eq!(
            (renewed.updated_at, renewed.expires_at),
            (5_003, Some(65_003))
        );
    }

    #[test]
    fn a_released_env_is_free() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let ReleaseDecision::Write(LockWrite { lock: released, .. }) =
            decide_release(Some(&held), &release_by("alice", false), at(2_000)).unwrap()
        else {
            panic!("alice holds it")
        };
        assert!(!released.active);
        assert_eq!(released.updated_at, 2_000);
        let (taken, _) = granted(lock_at(Some(&released), "bob", false, 2_001));
        assert_eq!(taken.user, "bob");
    }

    #[test]
    fn an_uberlock_never_expires_and_refuses_everyone_else() {
        let (uber, _) = granted(lock_at(None, "alice", true, 1_000));
        assert_eq!(uber.expires_at, None);
        let much_later = 1_000 + 10 * 365 * 86_400_000;
        assert!(matches!(
            lock_at(Some(&uber), "bob", false, much_later),
            Decision::Uberlocked(l) if l.user == "alice"
        ));
        assert!(matches!(
            lock_at(Some(&uber), "bob", true, much_later),
            Decision::Uberlocked(_)
        ));
    }

    #[test]
    fn an_uberlock_preempts_a_normal_holder() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let (uber, acquired) = granted(lock_at(Some(&held), "bob", true, 2_000));
        assert_eq!(
            acquired,
            Acquired::Preempted {
                preempted_user: "alice".into()
            }
        );
        assert!(uber.uberlock);
        assert_eq!(uber.fencing_token, 2_000);
    }

    #[test]
    fn the_holder_can_upgrade_and_a_normal_relock_keeps_the_uberlock() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let (uber, acquired) = granted(lock_at(Some(&held), "alice", true, 2_000));
        assert_eq!(acquired, Acquired::Upgraded);
        assert_eq!(
            (uber.id.as_str(), uber.expires_at),
            (held.id.as_str(), None)
        );
        let (still, acquired) = granted(lock_at(Some(&uber), "alice", false, 3_000));
        assert_eq!(acquired, Acquired::Renewed);
        assert!(still.uberlock && still.expires_at.is_none());
    }

    #[test]
    fn release_changes_nothing_unless_you_hold_it() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        assert_eq!(
            decide_release(Some(&held), &release_by("bob", false), at(2_000)).unwrap(),
            ReleaseDecision::Nothing(NotReleased::HeldByOther, Some(held.clone()))
        );
        assert!(matches!(
            decide_release(None, &release_by("bob", false), at(2_000)).unwrap(),
            ReleaseDecision::Nothing(NotReleased::NotLocked, None)
        ));
    }

    fn lost_to(result: Result<LockWrite>) -> String {
        match result {
            Err(Error::LeaseLost { to, .. }) => to.to_string(),
            other => panic!("expected a lost lease, got {other:?}"),
        }
    }

    #[test]
    fn renewal_extends_the_lease_and_keeps_the_acquisition() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let renewed = decide_renew(&held, Some(&held), at(21_000)).unwrap().lock;
        assert_eq!(
            (
                renewed.id.as_str(),
                renewed.fencing_token,
                renewed.created_at
            ),
            (held.id.as_str(), held.fencing_token, 1_000)
        );
        assert_eq!(renewed.updated_at, 21_000);
        assert_eq!(renewed.expires_at, Some(81_000), "a full --ttl from now");
        assert_eq!(renewed.revision, held.revision + 1);
        assert!(renewed.active);
    }

    #[test]
    fn renewal_past_the_lease_succeeds_while_nobody_took_the_env() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let late = decide_renew(&held, Some(&held), at(500_000)).unwrap().lock;
        assert_eq!(late.expires_at, Some(560_000));
        assert_eq!(late.id, held.id);
    }

    #[test]
    fn renewal_fails_once_someone_else_took_the_env() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let (taken, _) = granted(lock_at(Some(&held), "bob", false, 61_000));
        assert_eq!(
            lost_to(decide_renew(&held, Some(&taken), at(62_000))),
            "bob"
        );
        assert_eq!(
            lost_to(decide_release_held(&held, Some(&taken), at(62_000))),
            "bob"
        );
        // Taken and released again since: the env still passed to bob in between.
        let ReleaseDecision::Write(LockWrite { lock: released, .. }) =
            decide_release(Some(&taken), &release_by("bob", false), at(63_000)).unwrap()
        else {
            panic!("bob holds it")
        };
        assert_eq!(
            lost_to(decide_renew(&held, Some(&released), at(64_000))),
            "bob"
        );
        // Even a new acquisition by the same user is another acquisition.
        let (again, _) = granted(lock_at(Some(&released), "alice", false, 65_000));
        assert!(lost_to(decide_renew(&held, Some(&again), at(66_000))).contains("alice"));
    }

    #[test]
    fn renewal_fails_once_the_lock_was_released_or_preempted() {
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let released = decide_release_held(&held, Some(&held), at(2_000))
            .unwrap()
            .lock;
        assert!(!released.active);
        assert_eq!(released.id, held.id);
        assert!(lost_to(decide_renew(&held, Some(&released), at(3_000))).contains("released"));
        assert!(lost_to(decide_renew(&held, None, at(3_000))).contains("nobody"));
        let (uber, _) = granted(lock_at(Some(&held), "bob", true, 2_000));
        assert_eq!(lost_to(decide_renew(&held, Some(&uber), at(3_000))), "bob");
    }

    #[test]
    fn renewal_keeps_an_uberlock_without_expiry_and_follows_an_upgrade() {
        let (uber, _) = granted(lock_at(None, "alice", true, 1_000));
        let renewed = decide_renew(&uber, Some(&uber), at(9_000)).unwrap().lock;
        assert_eq!((renewed.expires_at, renewed.uberlock), (None, true));
        let (held, _) = granted(lock_at(None, "alice", false, 1_000));
        let (upgraded, _) = granted(lock_at(Some(&held), "alice", true, 2_000));
        let renewed = decide_renew(&held, Some(&upgraded), at(3_000))
            .unwrap()
            .lock;
        assert_eq!((renewed.expires_at, renewed.uberlock), (None, true));
        let released = decide_release_held(&held, Some(&upgraded), at(4_000))
            .unwrap()
            .lock;
        assert!(!released.active && released.uberlock);
    }

    fn written(decision: Decision) -> LockWrite {
        match decision {
            Decision::Write { write, .. } => write,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn a_fresh_acquisition_opens_a_hold_and_ends_the_lapsed_one() {
        let first = written(lock_at(None, "alice", false, 1_000));
        assert_eq!(first.holds, [Hold::of(&first.lock)]);
        let taken = written(lock_at(Some(&first.lock), "bob", false, 90_000));
        let lapsed = Hold::of(&first.lock).ended(HoldEnd::Expired, 61_000, None);
        assert_eq!(taken.holds, [Hold::of(&taken.lock), lapsed]);
        // After a release, the released hold is not written again.
        let ReleaseDecision::Write(released) =
            decide_release(Some(&taken.lock), &release_by("bob", false), at(95_000)).unwrap()
        else {
            panic!("bob holds it")
        };
        let again = written(lock_at(Some(&released.lock), "carol", false, 96_000));
        assert_eq!(again.holds, [Hold::of(&again.lock)]);
    }

    #[test]
    fn a_preemption_ends_the_hold_it_took_and_names_who() {
        let held = written(lock_at(None, "alice", false, 1_000));
        let uber = written(lock_at(Some(&held.lock), "bob", true, 2_000));
        let preempted = Hold::of(&held.lock).ended(HoldEnd::Preempted, 2_000, Some("bob".into()));
        assert_eq!(uber.holds, [Hold::of(&uber.lock), preempted]);
    }

    #[test]
    fn renewals_and_upgrades_rewrite_their_own_hold() {
        let held = written(lock_at(None, "alice", false, 1_000));
        let renewed = written(lock_at(Some(&held.lock), "alice", false, 5_000));
        assert_eq!(renewed.holds, [Hold::of(&renewed.lock)]);
        assert_eq!(renewed.holds[0].expires_at, Some(65_000));
        assert_eq!(renewed.holds[0].key(), held.holds[0].key(), "the same hold");
        let upgraded = written(lock_at(Some(&renewed.lock), "alice", true, 6_000));
        assert!(upgraded.holds[0].uberlock && upgraded.holds[0].expires_at.is_none());
        let by_run = decide_renew(&held.lock, Some(&held.lock), at(7_000)).unwrap();
        assert_eq!(by_run.holds, [Hold::of(&by_run.lock)]);
    }

    #[test]
    fn a_release_ends_the_hold_as_released_or_as_expired_when_the_lease_lapsed_first() {
        let held = written(lock_at(None, "alice", false, 1_000));
        let ReleaseDecision::Write(on_time) =
            decide_release(Some(&held.lock), &release_by("alice", false), at(2_000)).unwrap()
        else {
            panic!("alice holds it")
        };
        assert_eq!(
            on_time.holds,
            [Hold::of(&held.lock).ended(HoldEnd::Released, 2_000, None)]
        );
        let late = decide_release_held(&held.lock, Some(&held.lock), at(70_000)).unwrap();
        assert!(!late.lock.active);
        assert_eq!(
            late.holds,
            [Hold::of(&held.lock).ended(HoldEnd::Expired, 61_000, None)]
        );
        let uber = written(lock_at(None, "alice", true, 1_000));
        let ended = decide_release_held(&uber.lock, Some(&uber.lock), at(i64::MAX / 2)).unwrap();
        assert_eq!(ended.holds[0].end, Some(HoldEnd::Released));
    }

    #[test]
    fn a_renewal_or_upgrade_keeps_the_meta_unless_one_is_given() {
        let given = |meta: &str, uberlock| LockRequest {
            meta: Meta::Given(meta.into()),
            ..request("alice", uberlock)
        };
        let (held, _) = granted(decide_lock(
            "production",
            None,
            &given("https://ci/1", false),
            at(1_000),
        ));
        let (renewed, _) = granted(lock_at(Some(&held), "alice", false, 2_000));
        assert_eq!(renewed.meta, "https://ci/1");
        let (upgraded, _) = granted(lock_at(Some(&renewed), "alice", true, 3_000));
        assert_eq!(upgraded.meta, "https://ci/1");
        let (replaced, _) = granted(decide_lock(
            "production",
            Some(&upgraded),
            &given("INC-42", false),
            at(4_000),
        ));
        assert_eq!(replaced.meta, "INC-42");
        // A fresh acquisition takes the default, whatever the previous holder's meta was.
        let (fresh, _) = granted(lock_at(Some(&held), "bob", false, 90_000));
        assert_eq!(fresh.meta, "CLI");
    }

    #[test]
    fn an_open_hold_past_its_lease_reads_as_expired_when_it_ran_out() {
        let held = written(lock_at(None, "alice", false, 1_000));
        let open = held.holds[0].clone();
        assert_eq!(judge_hold(open.clone(), 60_999), open);
        let judged = judge_hold(open.clone(), 61_000);
        assert_eq!(
            (judged.end, judged.ended_at),
            (Some(HoldEnd::Expired), Some(61_000))
        );
        let uber = written(lock_at(None, "alice", true, 1_000));
        assert_eq!(judge_hold(uber.holds[0].clone(), i64::MAX), uber.holds[0]);
        let released = open.ended(HoldEnd::Released, 2_000, None);
        assert_eq!(judge_hold(released.clone(), 90_000), released);
    }

    #[test]
    fn releasing_an_uberlock_needs_the_flag() {
        let (uber, _) = granted(lock_at(None, "alice", true, 1_000));
        let err = decide_release(Some(&uber), &release_by("alice", false), at(2_000)).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        assert!(matches!(
            decide_release(Some(&uber), &release_by("alice", true), at(2_000)).unwrap(),
            ReleaseDecision::Write(w) if !w.lock.active
        ));
    }
}
