//! The lease timer: when to renew a normal lock, how long a renewal may take, and when the
//! lock must count as lost. Plain rules on an injected clock; the supervisor does the writes.

use crate::error::Error;
use crate::locks::lease_left;
use crate::model::Lock;
use crate::store::StoreTime;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the lease timer asks for next.
#[derive(Debug)]
pub(super) enum Step {
    /// Renew now; give up on this attempt after `budget`.
    Renew { budget: Duration },
    /// No renewal succeeded before the lease ran out: treat the lock as lost.
    Lost(Error),
}

/// A normal lock's lease as this process knows it, on the local monotonic clock. The deadline
/// is when the store's clock may, at the earliest, reach the stored `expiresAt` (the latest
/// reading of its estimate: [`lease_left`]), so it never runs past the lease as everyone else
/// judges it.
#[derive(Debug)]
pub(super) struct Lease {
    env: String,
    ttl: Duration,
    pub(super) deadline: Instant,
    pub(super) next_renewal: Instant,
    /// The last failure since the last successful renewal.
    pub(super) failing: Option<Arc<Error>>,
}

impl Lease {
    /// `None` for an uberlock: it never expires and is never renewed.
    pub(super) fn new(lock: &Lock, now: Instant, store_now: StoreTime) -> Option<Lease> {
        let expires_at = lock.expires_at?;
        let ttl = millis(expires_at - lock.updated_at);
        Some(Lease {
            env: lock.env.clone(),
            ttl,
            deadline: now + lease_left(expires_at, store_now),
            next_renewal: now + ttl / 3,
            failing: None,
        })
    }

    fn retry_interval(&self) -> Duration {
        (self.ttl / 12).max(Duration::from_millis(10))
    }

    pub(super) fn due(&self, now: Instant) -> Step {
        match &self.failing {
            Some(error) if now >= self.deadline => Step::Lost(Error::LeaseExpired {
                env: self.env.clone(),
                source: Arc::clone(error),
            }),
            // Before the deadline an attempt may use the time left. Past it with no failure
            // on record (this process was stopped or starved), one attempt finds out whether
            // the lock is still ours.
            _ => Step::Renew {
                budget: if self.deadline > now {
                    self.deadline - now
                } else {
                    self.ttl / 3
                },
            },
        }
    }

    /// A renewal wrote `lock`; it is `now`, and the store's clock reads `store_now`.
    pub(super) fn renewed(&mut self, lock: &Lock, now: Instant, store_now: StoreTime) {
        if let Some(expires_at) = lock.expires_at {
            self.deadline = now + lease_left(expires_at, store_now);
        }
        self.next_renewal = now + self.ttl / 3;
        self.failing = None;
    }

    /// A renewal failed at `now`; `Some` when the lease has run out meanwhile.
    pub(super) fn failed(&mut self, error: Error, now: Instant) -> Option<Error> {
        self.failing = Some(Arc::new(error));
        self.next_renewal = (now + self.retry_interval()).min(self.deadline);
        match self.due(now) {
            Step::Lost(lost) => Some(lost),
            Step::Renew { .. } => None,
        }
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::run) fn lock_at(updated_at: i64, ttl_ms: Option<i64>) -> Lock {
        Lock {
            id: "id".into(),
            user: "alice".into(),
            holder: "alice".into(),
            env: "prod".into(),
            created_at: updated_at,
            updated_at,
            active: true,
            uberlock: ttl_ms.is_none(),
            meta: "CLI".into(),
            expires_at: ttl_ms.map(|ttl| updated_at + ttl),
            fencing_token: 1,
            acquisitions: 1,
            revision: 1,
            queue: vec![],
            next_ticket: 0,
        }
    }

    pub(in crate::run) fn store_error() -> Error {
        Error::Store("unreachable".into())
    }

    #[test]
    fn an_uberlock_has_no_lease_to_renew() {
        assert!(Lease::new(&lock_at(1_000, None), Instant::now(), exact(1_000)).is_none());
    }

    fn exact(now: i64) -> StoreTime {
        StoreTime::exact(now)
    }

    #[test]
    fn renewals_come_every_third_of_the_ttl_and_the_deadline_is_the_stored_expiry() {
        let t0 = Instant::now();
        // Written 300 ms ago by the store's clock: 2.7 s of a 3 s lease are left.
        let mut lease = Lease::new(&lock_at(10_000, Some(3_000)), t0, exact(10_300)).unwrap();
        assert_eq!(lease.next_renewal, t0 + Duration::from_secs(1));
        assert_eq!(lease.deadline, t0 + Duration::from_millis(2_700));
        assert!(matches!(lease.due(t0 + Duration::from_secs(1)),
            Step::Renew { budget } if budget == Duration::from_millis(1_700)));
        let now = t0 + Duration::from_secs(1);
        lease.renewed(&lock_at(11_000, Some(3_000)), now, exact(11_020));
        assert_eq!(lease.deadline, now + Duration::from_millis(2_980));
        assert_eq!(lease.next_renewal, now + Duration::from_secs(1));
    }

    #[test]
    fn the_deadline_ends_before_the_store_clock_can_reach_the_expiry() {
        let t0 = Instant::now();
        // The store's clock is known to within 1.2 s: the holder gives up that much sooner.
        let store_now = StoreTime {
            earliest: 10_000,
            latest: 11_200,
        };
        let lease = Lease::new(&lock_at(10_000, Some(3_000)), t0, store_now).unwrap();
        assert_eq!(lease.deadline, t0 + Duration::from_millis(1_800));
    }

    #[test]
    pub(super) fn failed_renewals_retry_until_the_lease_runs_out_then_the_lock_is_lost() {
        let t0 = Instant::now();
        let mut lease = Lease::new(&lock_at(0, Some(1_200)), t0, exact(0)).unwrap();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(lease.failed(store_error(), at(400)).is_none());
        assert_eq!(
            lease.next_renewal,
            at(500),
            "retried every twelfth of the ttl"
        );
        assert!(lease.failed(store_error(), at(1_150)).is_none());
        assert_eq!(
            lease.next_renewal,
            at(1_200),
            "never later than the deadline"
        );
        assert!(
            matches!(lease.due(at(1_200)), Step::Lost(lost @ Error::LeaseExpired { .. })
            if lost.to_string().contains("before its lease ran out") && lost.to_string().contains("unreachable"))
        );
        let lost = lease
            .failed(store_error(), at(1_250))
            .expect("past the lease");
        assert!(lost
            .to_string()
            .starts_with("could not renew the lock on prod"));
        // One success clears the failure and restarts the lease.
        lease.renewed(&lock_at(1_300, Some(1_200)), at(1_300), exact(1_300));
        assert!(matches!(lease.due(at(1_700)), Step::Renew { .. }));
    }

    #[test]
    fn a_process_stopped_past_its_lease_asks_the_store_before_giving_up() {
        let t0 = Instant::now();
        let lease = Lease::new(&lock_at(0, Some(900)), t0, exact(0)).unwrap();
        let resumed = t0 + Duration::from_secs(60);
        assert!(matches!(lease.due(resumed),
            Step::Renew { budget } if budget == Duration::from_millis(300)));
    }
}
