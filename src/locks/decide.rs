//! The decision on one env's row as read: who takes it, who renews or upgrades it, who is refused.

use super::time::{is_held, released_or_lapsed, stamp};
use super::types::{Acquired, LockRequest};
use crate::model::{Hold, HoldEnd, Lock};
use crate::store::{LockWrite, StoreTime};

/// What one env's row comes to for a lock attempt.
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
pub(super) fn holding(next: Lock, ended: Option<Hold>) -> LockWrite {
    let holds = std::iter::once(Hold::of(&next)).chain(ended).collect();
    LockWrite::new(next, holds)
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
        Some(lock) if is_held(lock, time) => lock,
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::locks::types::Meta;
    use std::time::Duration;

    const TTL: Duration = Duration::from_secs(60);

    pub(in crate::locks) fn at(now: i64) -> StoreTime {
        StoreTime::exact(now)
    }

    pub(in crate::locks) fn request(user: &str, uberlock: bool) -> LockRequest {
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

    /// `user`'s lock attempt on production, on the row `current`, at store time `now`.
    pub(in crate::locks) fn lock_at(
        current: Option<&Lock>,
        user: &str,
        uberlock: bool,
        now: i64,
    ) -> Decision {
        decide_lock("production", current, &request(user, uberlock), at(now))
    }

    pub(in crate::locks) fn granted(decision: Decision) -> (Lock, Acquired) {
        match decision {
            Decision::Write { write, acquired } => (write.lock, acquired),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    pub(in crate::locks) fn written(decision: Decision) -> LockWrite {
        match decision {
            Decision::Write { write, .. } => write,
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
    fn a_preemption_ends_the_hold_it_took_and_names_who() {
        let held = written(lock_at(None, "alice", false, 1_000));
        let uber = written(lock_at(Some(&held.lock), "bob", true, 2_000));
        let preempted = Hold::of(&held.lock).ended(HoldEnd::Preempted, 2_000, Some("bob".into()));
        assert_eq!(uber.holds, [Hold::of(&uber.lock), preempted]);
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
}
