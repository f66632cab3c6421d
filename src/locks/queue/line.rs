//! An env's line, on its row as read: who is live, who is superseded, and the serving order.

use crate::model::{Lock, Waiter};
use crate::store::StoreTime;
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

/// The queue of a row after a write at `time`: without the dead waiters and without `leaving`.
pub(super) fn pruned(queue: &[Waiter], time: StoreTime, leaving: Option<&str>) -> Vec<Waiter> {
    queue
        .iter()
        .filter(|w| w.is_live_at(time.earliest) && Some(w.id.as_str()) != leaving)
        .cloned()
        .collect()
}

/// An env's serving order at `time`: its live waiters that nobody supersedes, by ticket. A
/// waiter whose place lapsed is out of it, its own poll included: back from a stall, it joins
/// again at the back rather than take back a place others moved up from.
pub fn serving_order(queue: &[Waiter], time: StoreTime) -> Vec<&Waiter> {
    let live: Vec<&Waiter> = queue
        .iter()
        .filter(|w| w.is_live_at(time.earliest))
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
pub(super) fn newest_behind<'a>(waiter: &Waiter, live: &[&'a Waiter]) -> Option<&'a Waiter> {
    if !waiter.supersede {
        return None;
    }
    live.iter()
        .copied()
        .filter(|other| other.ticket > waiter.ticket)
        .max_by_key(|other| other.ticket)
}

/// Waiter `id`'s own place on `row`, while it certainly lasts at `time`. Others keep a place
/// until the store's clock has certainly passed its lapse (`time.earliest`), but its own waiter
/// gives it up as soon as the clock may have (`time.latest`): back from a stall that anyone may
/// have seen as a lapse, it joins again at the back, whatever its own reading of the clock.
pub(super) fn entry<'a>(row: Option<&'a Lock>, id: &str, time: StoreTime) -> Option<&'a Waiter> {
    row.and_then(|row| row.queue.iter().find(|w| w.id == id))
        .filter(|w| w.is_live_at(time.latest))
}

pub(super) fn queue_of(row: Option<&Lock>) -> &[Waiter] {
    row.map_or(&[], |row| row.queue.as_slice())
}

/// A row's queue after a holder's own write (a renewal or a release): without the dead.
pub fn without_the_dead(queue: &[Waiter], time: StoreTime) -> Vec<Waiter> {
    pruned(queue, time, None)
}

/// The row as others should see it: its queue the live waiters in serving order.
pub fn as_listed(row: Lock, time: StoreTime) -> Lock {
    let queue = serving_order(&row.queue, time)
        .into_iter()
        .cloned()
        .collect();
    Lock { queue, ..row }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: i64 = 3_000;

    #[test]
    fn a_place_outlives_three_polls_and_never_less_than_two_seconds() {
        assert_eq!(stale_after(Duration::from_secs(5)), Duration::from_secs(15));
        assert_eq!(
            stale_after(Duration::from_millis(100)),
            Duration::from_secs(2)
        );
        let waiter = Waiter {
            id: "w".into(),
            ticket: 0,
            user: "u".into(),
            meta: "m".into(),
            joined_at: 1_000,
            seen_at: 1_000,
            stale_after: STALE,
            supersede: false,
            envs: vec!["prod".into()],
        };
        assert!(waiter.is_live_at(3_999));
        assert!(!waiter.is_live_at(4_000));
    }
}
