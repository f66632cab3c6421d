//! Time in the rules is the store's clock ([`Store::now`]), never this machine's, known to
//! within an interval: a lease counts as over only once the store's clock has certainly passed
//! its `expiresAt` (the interval's earliest end), and stamps (`updatedAt`, `expiresAt`) come
//! from its latest end, so nobody sees a lease shorter than its `--ttl`. A client's skewed clock
//! therefore neither takes a live lease nor stretches or cuts its own.
//!
//! [`Store::now`]: crate::store::Store::now

use crate::model::{Hold, HoldEnd, Lock};
use crate::store::StoreTime;
use std::time::Duration;

/// Whether someone holds `lock`'s env at store time `time`: active and, unless an uberlock,
/// its lease not certainly over. Every rule that asks whether an env is held asks this.
pub fn is_held(lock: &Lock, time: StoreTime) -> bool {
    lock.is_held_at(time.earliest)
}

/// How long the holder of a lease that runs out at `expires_at` may count on it, from store
/// time `time`: until the store's clock may read `expires_at` (its latest reading), so the
/// holder gives it up before anyone else can judge it over.
pub fn lease_left(expires_at: i64, time: StoreTime) -> Duration {
    Duration::from_millis(u64::try_from(expires_at - time.latest).unwrap_or(0))
}

/// A hold as of `now` (the store's clock's earliest reading): one still open whose lease ran
/// out has expired when it ran out, even if nobody has written its env since.
pub fn judge_hold(hold: Hold, now: i64) -> Hold {
    match (hold.end, hold.expires_at) {
        (None, Some(at)) if !hold.uberlock && at <= now => hold.ended(HoldEnd::Expired, at, None),
        _ => hold,
    }
}

/// How the hold of a row that is still active ends at store time `time`: released by its
/// holder, or, when its lease certainly lapsed first, expired when it lapsed (whatever happened
/// after).
pub(super) fn released_or_lapsed(lock: &Lock, time: StoreTime) -> Hold {
    let hold = judge_hold(Hold::of(lock), time.earliest);
    match hold.end {
        Some(_) => hold,
        None => hold.ended(HoldEnd::Released, stamp(time, Some(lock)), None),
    }
}

/// The time a write to an env whose row is `current` is stamped with: the latest the store's
/// clock may read, and never before the row's last write. Readings of that clock are intervals
/// (another client's, or this one's after a tighter reading, may end earlier), and an env's
/// holds are ordered by their stamps.
pub(super) fn stamp(time: StoreTime, current: Option<&Lock>) -> i64 {
    current.map_or(time.latest, |row| time.latest.max(row.updated_at + 1))
}
