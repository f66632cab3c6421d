//! Release rules: who may end a hold, and how it ends. A hold is its holder's (the run that took
//! it): its own release ends it as `released` (or `expired`, when its lease had lapsed first).
//! Another run of the same user is refused (`Error::HeldByOtherRun`), anyone else's release
//! changes nothing and says so, and breaking a lock is a deliberate, recorded act
//! ([`Authority::Force`]: the hold ends as `forced`, with who and why).
//!
//! A release written unread, from the copy this machine kept of the row, claims that copy
//! ([`Expect::Claimed`]): the store writes only if the row is that copy in every attribute the
//! release was decided on, so the copy saves a read and never decides what the shared row says.

use super::queue::line::{as_listed, without_the_dead};
use super::time::{is_held, released_or_lapsed, stamp};
use super::types::check_envs;
use super::write::{write_all, Writes};
use crate::error::{Error, Result};
use crate::model::{Hold, Lock};
use crate::store::{Expect, LockWrite, Store, StoreTime};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NotReleased {
    NotLocked,
    HeldByOther,
}

/// Whose holds a release may end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// The holder's own: only holds of `holder` (`locks release`, `release()`).
    Holder,
    /// Any hold of `user`, whichever of their runs took it: a person acting on their own runs
    /// (Slack, where people act, not runs).
    User,
    /// Whoever holds it: the hold ends as `forced`, recording who forced it and why.
    Force { reason: String },
}

/// A release of some envs, every value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRequest {
    /// 1..=25 distinct envs: released in one write, each that may be.
    pub envs: Vec<String>,
    pub user: String,
    pub holder: String,
    /// An uberlock of one's own is released only when asked for (scripts must not end one by
    /// accident); a forced release needs no more.
    pub uberlock: bool,
    pub authority: Authority,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseDecision {
    Write(LockWrite),
    /// Someone else's live hold, broken on purpose.
    Force(LockWrite),
    Nothing(NotReleased, Option<Lock>),
}

impl ReleaseDecision {
    fn write(&self) -> Option<&LockWrite> {
        match self {
            ReleaseDecision::Write(write) | ReleaseDecision::Force(write) => Some(write),
            ReleaseDecision::Nothing(..) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Released(Lock),
    /// Someone else's lock, broken on purpose.
    Forced(Lock),
    Nothing(NotReleased, Option<Lock>),
}

/// The release of an active row: inactive from store time `time`, and its hold ended.
pub(super) fn releasing(lock: &Lock, time: StoreTime) -> LockWrite {
    let released = Lock {
        active: false,
        updated_at: stamp(time, Some(lock)),
        revision: lock.revision + 1,
        queue: without_the_dead(&lock.queue, time),
        ..lock.clone()
    };
    LockWrite::new(released, vec![released_or_lapsed(lock, time)])
}

/// The release of someone else's live hold by `by`, who forced it for `reason`.
fn forcing(lock: &Lock, time: StoreTime, by: &str, reason: &str) -> LockWrite {
    let write = releasing(lock, time);
    let ended = Hold::of(lock).forced(write.lock.updated_at, by, reason);
    LockWrite {
        holds: vec![ended],
        ..write
    }
}

/// Decides the release of the row `current` (as read) at store time `time`.
pub fn decide_release(
    current: Option<&Lock>,
    request: &ReleaseRequest,
    time: StoreTime,
) -> Result<ReleaseDecision> {
    let lock = match current {
        Some(lock) if lock.active => lock,
        other => {
            return Ok(ReleaseDecision::Nothing(
                NotReleased::NotLocked,
                other.cloned(),
            ))
        }
    };
    let own = lock.holder == request.holder;
    if !own {
        if !is_held(lock, time) {
            // Its lease lapsed: nothing left to end but its own holder's hold.
            return Ok(ReleaseDecision::Nothing(
                NotReleased::NotLocked,
                Some(lock.clone()),
            ));
        }
        return match &request.authority {
            Authority::Force { reason } => Ok(ReleaseDecision::Force(forcing(
                lock,
                time,
                &request.user,
                reason,
            ))),
            Authority::User if lock.user == request.user => {
                Ok(ReleaseDecision::Write(releasing(lock, time)))
            }
            Authority::Holder if lock.user == request.user => Err(Error::HeldByOtherRun {
                env: lock.env.clone(),
                user: lock.user.clone(),
                holder: lock.holder.clone(),
            }),
            Authority::Holder | Authority::User => Ok(ReleaseDecision::Nothing(
                NotReleased::HeldByOther,
                Some(lock.clone()),
            )),
        };
    }
    let asked = request.uberlock || matches!(request.authority, Authority::Force { .. });
    if lock.uberlock && !asked {
        let (env, user) = (&lock.env, &request.user);
        return Err(Error::usage_with_hint(
            format!("{env} is uberlocked by {user}; releasing it needs --uberlock"),
            format!("daplaya locks release --env {env} --user {user} --uberlock"),
        ));
    }
    Ok(ReleaseDecision::Write(releasing(lock, time)))
}

/// Releases whatever the request may release of its envs, in one write; one result per env, in
/// order. Any env refused (an uberlock without `--uberlock`, another run's hold) refuses them
/// all: nothing is written.
pub async fn release(store: &dyn Store, request: &ReleaseRequest) -> Result<Vec<Released>> {
    check_envs(&request.envs)?;
    let rows = store.load_locks(&request.envs).await?;
    release_on(store, request, rows, None).await
}

/// Like [`release`], from `copies`: the rows of the request's envs as this machine last wrote
/// them when their holder took them. The write goes out unread, claiming each copy
/// ([`Expect::Claimed`]), and changes the holder's attributes only: it lands only if each row
/// is still exactly its copy; a row that changed since (or a copy that was never true) makes
/// the release read and decide as [`release`] does. Copies that are not of these envs, or not
/// this holder's own live holds, are not used.
pub async fn release_from(
    store: &dyn Store,
    request: &ReleaseRequest,
    copies: Vec<Lock>,
) -> Result<Vec<Released>> {
    check_envs(&request.envs)?;
    let usable = request.authority == Authority::Holder
        && copies.len() == request.envs.len()
        && copies.iter().zip(&request.envs).all(|(copy, env)| {
            &copy.env == env
                && copy.user == request.user
                && copy.holder == request.holder
                && copy.active
        });
    if !usable {
        return release(store, request).await;
    }
    let rows = copies.into_iter().map(Some).collect();
    let guessed = !store.knows_clock();
    release_on(store, request, rows, Some(guessed)).await
}

/// The release loop on `rows`: as read, or, with `unread` (whether the store's clock was a
/// guess then), copies never read, each write claiming its copy. A write on copies stamped from
/// a guessed clock that the answer's clock does not confirm is stamped again (as a lock taken
/// unread is); should someone have written the row in between, the release stands as first
/// stamped.
async fn release_on(
    store: &dyn Store,
    request: &ReleaseRequest,
    mut rows: Vec<Option<Lock>>,
    mut unread: Option<bool>,
) -> Result<Vec<Released>> {
    let envs = &request.envs;
    loop {
        let time = store.now();
        let decided = rows
            .iter()
            .map(|row| decide_release(row.as_ref(), request, time))
            .collect::<Result<Vec<_>>>();
        let decisions = match decided {
            Ok(decisions) => decisions,
            // A copy only ever saves the read of a release it can make: a refusal is decided
            // on the rows as they are.
            Err(_) if unread.is_some() => {
                rows = store.load_locks(envs).await?;
                unread = None;
                continue;
            }
            Err(error) => return Err(error),
        };
        let writes: Writes = rows
            .iter()
            .zip(&decisions)
            .filter_map(|(row, decision)| match (decision.write(), row) {
                (Some(write), Some(copy)) if unread.is_some() => Some((
                    Expect::Claimed(Box::new(copy.clone())),
                    LockWrite {
                        keeps_queue: true,
                        ..write.clone()
                    },
                )),
                (Some(write), row) => Some((Expect::read(row.as_ref()), write.clone())),
                (None, _) => None,
            })
            .collect();
        if !writes.is_empty() {
            if let Some(now) = write_all(store, &writes, envs).await? {
                rows = now;
                unread = None;
                continue;
            }
        }
        let (mut time, mut decisions) = (time, decisions);
        let after = store.now();
        // The guess was this machine's clock: does the store's confirm that reading? (The
        // stamps themselves may sit just past the rows' last writes.)
        if unread == Some(true) && !after.confirms(time.latest) {
            let copies: Vec<Lock> = rows.iter().flatten().cloned().collect();
            let restamps = decide_release_restamp(&copies, after);
            if write_all(store, &restamps, envs).await?.is_none() {
                time = after;
                decisions = restamps
                    .into_iter()
                    .map(|(_, write)| ReleaseDecision::Write(write))
                    .collect();
            }
        }
        let listed = |lock: Lock| as_listed(lock, time);
        return Ok(decisions
            .into_iter()
            .map(|decision| match decision {
                ReleaseDecision::Write(write) => Released::Released(listed(write.lock)),
                ReleaseDecision::Force(write) => Released::Forced(listed(write.lock)),
                ReleaseDecision::Nothing(reason, lock) => {
                    Released::Nothing(reason, lock.map(listed))
                }
            })
            .collect());
    }
}

/// The releases of `copies` (each written on its revision, one up) stamped again from the
/// store's clock `time`, now known: the lease judged lapsed or not on it, the release stamped
/// from it. Holder-only writes on the revision the first release wrote, which proved each copy.
pub fn decide_release_restamp(copies: &[Lock], time: StoreTime) -> Writes {
    copies
        .iter()
        .map(|copy| {
            let write = releasing(copy, time);
            let lock = Lock {
                revision: copy.revision + 2,
                ..write.lock
            };
            let write = LockWrite {
                lock,
                keeps_queue: true,
                ..write
            };
            (Expect::Revision(copy.revision + 1), write)
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::locks::decide::tests::{at, granted, lock_at, written};
    use crate::model::HoldEnd;
    use crate::store::StoreTime;

    /// `user`'s release of production from their own run, with `--uberlock` or not.
    pub(in crate::locks) fn release_by(user: &str, uberlock: bool) -> ReleaseRequest {
        ReleaseRequest {
            envs: vec!["production".into()],
            user: user.into(),
            holder: user.into(),
            uberlock,
            authority: Authority::Holder,
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
