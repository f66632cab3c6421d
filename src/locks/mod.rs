//! Lock rules, independent of any store: who may take an env, re-entry, uberlocks, leases, the
//! line, and the history. A lock belongs to the run that took it (its `holder`): re-entry (a
//! renewal, an upgrade) is the holder's alone; another run of the same user waits in line like
//! anyone. Every change is decided from the rows as read, by a pure `decide_*` function, then
//! written with the store's compare-and-swap; a lost race re-decides from the rows the store
//! returns.
//!
//! Every decision also says which history rows (holds) the write records, so the history can
//! never disagree with the lock row: a fresh acquisition opens a hold and ends the one it took
//! over (expired or preempted), a renewal or upgrade rewrites its own hold, a release ends it.
//!
//! Time is the store's clock, never this machine's ([`time`]).
//!
//! The rules stand side by side over a leaf of shared values ([`types`]), and none takes a
//! decision back from this module or from a sibling that uses it:
//!
//! - [`decide`]: one env's row, one lock attempt;
//! - [`queue`]: an env's line, and what a request does next (take, join, wait, leave);
//! - [`acquire`]: the attempt and the waiting loop that write those decisions;
//! - [`release`]: who may end a hold, and how;
//! - [`held`]: a holder renewing or releasing its own acquisitions;
//! - [`list`] and [`history`]: what is held and waited for now, and what was held;
//! - [`stats`]: what the history says: hold durations, the share held, each waiter's estimate.

mod acquire;
mod decide;
mod held;
mod history;
mod list;
pub mod queue;
mod release;
mod stats;
mod time;
mod types;
mod write;

pub use acquire::{decide_restamp, lock, try_lock};
pub use decide::{decide_lock, Decision};
pub use held::{decide_release_held, decide_renew, release_held, renew};
pub use history::{history, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
pub use list::list;
pub use release::{
    decide_release, decide_release_restamp, release, release_from, Authority, NotReleased,
    ReleaseDecision, ReleaseRequest, Released,
};
pub use stats::{expected_starts, hold_stats, percentile, HoldStats, ESTIMATE_SAMPLE};
pub use time::{is_held, judge_hold, lease_left};
pub use types::{
    Acquired, Attempt, LockRequest, Meta, Wait, WaitPolicy, WaitProgress, DEFAULT_POLL_INTERVAL,
    DEFAULT_TTL, MAX_ENVS,
};
