//! Taking a lock: the one write that takes free envs unread, one attempt that never joins the
//! line ([`try_lock`]), and the waiting loop ([`lock`]), each re-deciding after a lost race.
//!
//! A fresh process's first write is made before any response told it the store's clock: it
//! takes only a free env, which needs no time, and its stamp, from this machine's clock, stands
//! only if the answer's clock confirms it; otherwise one more write on the revision just
//! written stamps it again before the lock is reported taken (losing that write means it was
//! never held).

use super::decide::holding;
use super::queue::line::{as_listed, stale_after, Queuer};
use super::queue::step::{decide_leave, decide_step, progress, refusal, Step};
use super::types::{check_envs, Acquired, Attempt, LockRequest, Wait, WaitPolicy, WaitProgress};
use super::write::{write_all, Writes};
use crate::error::{Error, Result};
use crate::model::{Hold, Lock};
use crate::store::{Expect, LockWrite, Store, StoreTime, SwapAll};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The locks taken, each as others see it (its queue the live waiters in serving order).
fn taken(writes: Writes, acquired: Vec<Acquired>, time: StoreTime) -> Vec<(Lock, Acquired)> {
    writes
        .into_iter()
        .map(|(_, write)| as_listed(write.lock, time))
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
    let Step::Take { writes, acquired } = decide_step(&unread, request, None, time) else {
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
        match decide_step(&rows, request, None, time) {
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
    Error::Uberlocked(Box::new(as_listed(holder, time)))
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
            stale_after: stale_after(policy.poll_interval),
        },
    };
    let started = tokio::time::Instant::now();
    let mut joined = false;
    // The last heartbeat (or join): the place is kept by one every poll interval, whatever
    // reads happen between.
    let mut beat = started;
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
        let rejoined = match decide_step(&rows, request, Some(&queuer), time) {
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
                let busy = refusal(&rows, request, Some(&queuer.id), time, waited);
                let error = Error::LockBusy(Box::new(busy));
                return Err(leave(store, request, &queuer, Some(rows), error).await);
            }
            Step::Join(writes) => match write_all(store, &writes, &request.envs).await? {
                None => {
                    rows = writes
                        .into_iter()
                        .map(|(_, write)| Some(write.lock))
                        .collect();
                    Some(std::mem::replace(&mut joined, true))
                }
                Some(now) => {
                    rows = now;
                    continue;
                }
            },
            Step::Wait if !heartbeat_due(beat.elapsed(), policy.poll_interval) => {
                // A read between heartbeats, next in line: nothing to write or tell.
                None
            }
            Step::Wait => {
                // A place found gone here (pruned after a stall) is taken again next poll.
                store
                    .touch_waiter(&request.envs, &queuer.id, time.latest)
                    .await?;
                Some(false)
            }
            Step::Busy { .. } => unreachable!("a request in line is never told busy"),
        };
        let waiting = progress(&rows, request, &queuer.id, time, started.elapsed(), false);
        if let Some(rejoined) = rejoined {
            beat = tokio::time::Instant::now();
            on_wait(&WaitProgress {
                rejoined,
                ..waiting.clone()
            });
        }
        let nap = next_poll(waiting.position, policy.poll_interval);
        tokio::select! {
            _ = cancel.cancelled() => {
                return Err(leave(store, request, &queuer, None, Error::Interrupted).await);
            }
            _ = tokio::time::sleep(left.min(nap)) => {}
        }
        rows = store.load_locks(&request.envs).await?;
    }
}

/// How often the first in line reads its rows: a release is seen within this, without
/// waiting out a whole poll interval.
const NEXT_IN_LINE_POLL: Duration = Duration::from_millis(250);

/// The pause before the next read at `position` in line (1: next): the first reads every
/// 250 ms, the second every second, the third every 2.25 s, each place further back slower
/// (the square of its place), never slower than the poll interval. So the waiter behind one
/// that just took the env learns it is next well before that hold ends, and a long line costs
/// about one read per poll interval per waiter.
fn next_poll(position: usize, poll_interval: Duration) -> Duration {
    let place = u32::try_from(position.max(1)).unwrap_or(u32::MAX);
    let pace = NEXT_IN_LINE_POLL.saturating_mul(place.saturating_mul(place));
    pace.min(poll_interval)
}

/// Whether a read `since` the last heartbeat writes one: once a poll interval, give or take
/// the fast reads' pace (a place outlives three missed polls).
fn heartbeat_due(since: Duration, poll_interval: Duration) -> bool {
    since + NEXT_IN_LINE_POLL >= poll_interval
}

/// One attempt for a request that does not wait: someone else's lock is `Error::LockBusy`.
async fn once(store: &dyn Store, request: &LockRequest) -> Result<Vec<(Lock, Acquired)>> {
    match attempt(store, request).await? {
        Ok(taken) => Ok(taken),
        Err((_, rows, time)) => {
            let busy = refusal(&rows, request, None, time, None);
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
        let writes = decide_leave(&rows, &queuer.id, store.now());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::decide::tests::request;

    #[test]
    fn the_next_in_line_reads_fast_and_everyone_beats_once_a_poll_interval() {
        let default = Duration::from_secs(5);
        assert_eq!(next_poll(1, default), NEXT_IN_LINE_POLL);
        assert_eq!(next_poll(2, default), Duration::from_secs(1));
        assert_eq!(next_poll(3, default), Duration::from_millis(2_250));
        assert_eq!(next_poll(5, default), default);
        assert_eq!(next_poll(usize::MAX, default), default);
        let fast = Duration::from_millis(100);
        assert_eq!(next_poll(1, fast), fast);
        // Reads of the next in line between beats write nothing; the beat comes on time.
        assert!(!heartbeat_due(Duration::from_millis(250), default));
        assert!(!heartbeat_due(Duration::from_millis(4_700), default));
        assert!(heartbeat_due(Duration::from_millis(4_750), default));
        assert!(heartbeat_due(Duration::from_secs(5), default));
        // A poll interval under the fast pace beats on every poll, as before.
        assert!(heartbeat_due(Duration::ZERO, fast));
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
}
