//! A holder's own acquisitions: renewing their leases and releasing them, written from the rows
//! as this holder last wrote them.

use super::decide::holding;
use super::queue::line::as_listed;
use super::release::releasing;
use super::time::stamp;
use super::write::{write_all, Writes};
use crate::error::{Error, LostTo, Result};
use crate::model::Lock;
use crate::store::{Expect, LockWrite, Store, StoreTime};

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
                .map(|(_, write)| as_listed(write.lock, time))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::decide::tests::{at, granted, lock_at, written};
    use crate::locks::release::tests::release_by;
    use crate::locks::release::{decide_release, ReleaseDecision};
    use crate::model::{Hold, HoldEnd};

    fn lost_to(result: Result<LockWrite>) -> String {
        match result {
            Err(Error::LeaseLost { to, .. }) => to.to_string(),
            other => panic!("expected a lost lease, got {other:?}"),
        }
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
}
