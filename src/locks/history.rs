//! An env's holds, newest first, each judged on the store's clock.

use super::time::judge_hold;
use crate::error::Result;
use crate::model::Hold;
use crate::store::Store;
use std::time::Duration;

pub const DEFAULT_HISTORY_LIMIT: usize = 20;
/// One page of a DynamoDB Query holds far more than this many holds, so a history is one request.
pub const MAX_HISTORY_LIMIT: usize = 1_000;

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
    use crate::locks::decide::tests::{lock_at, written};
    use crate::model::HoldEnd;

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
}
