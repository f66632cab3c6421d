//! What an env's history says: how long holds last, how much of the time the env is held, and
//! when each waiter in line can expect its turn. Pure: from the holds the stores already keep
//! ([`super::history`]), on the store's clock.

use crate::model::{Hold, HoldEnd};
use serde::Serialize;

/// Holds the estimate learns from: the most recent, as a deploy queue bot would.
pub const ESTIMATE_SAMPLE: usize = 100;

/// An env's holds over a window, summed up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldStats {
    pub holds: usize,
    pub median_hold_ms: Option<i64>,
    pub p90_hold_ms: Option<i64>,
    /// The share of the window the env was held, 0 to 1.
    pub held_share: f64,
    pub released: usize,
    pub expired: usize,
    pub preempted: usize,
    pub forced: usize,
}

/// The value at percentile `p` (nearest rank) of `values`, sorted in place.
pub fn percentile(values: &mut [i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * p as usize).div_ceil(100).max(1);
    Some(values[rank - 1])
}

/// How long `hold` lasted, or has lasted so far at `now`.
fn duration(hold: &Hold, now: i64) -> i64 {
    (hold.ended_at.unwrap_or(now) - hold.acquired_at).max(0)
}

/// The holds (as judged at `now`) of the window `from..now`, summed up.
pub fn hold_stats(holds: &[Hold], from: i64, now: i64) -> HoldStats {
    let mut durations: Vec<i64> = holds.iter().map(|hold| duration(hold, now)).collect();
    let mut spans: Vec<(i64, i64)> = holds
        .iter()
        .map(|hold| {
            (
                hold.acquired_at.max(from),
                hold.ended_at.unwrap_or(now).min(now),
            )
        })
        .filter(|(start, end)| end > start)
        .collect();
    spans.sort_unstable();
    // Spans of one env never overlap by the rules, but clock stamps may touch: merged anyway.
    let mut held = 0;
    let mut reached = from;
    for (start, end) in spans {
        let start = start.max(reached);
        if end > start {
            held += end - start;
            reached = end;
        }
    }
    let window = (now - from).max(1);
    let ended = |end: HoldEnd| holds.iter().filter(|hold| hold.end == Some(end)).count();
    HoldStats {
        holds: holds.len(),
        median_hold_ms: percentile(&mut durations, 50),
        p90_hold_ms: percentile(&mut durations, 90),
        held_share: held as f64 / window as f64,
        released: ended(HoldEnd::Released),
        expired: ended(HoldEnd::Expired),
        preempted: ended(HoldEnd::Preempted),
        forced: ended(HoldEnd::Forced),
    }
}

/// When each of `places` waiters in line can expect its turn, in ms from `now`: the current
/// hold (the newest of `holds`, newest first, when open) is expected to last the p90 of the
/// recent ended holds (at least what it has lasted already), and each place ahead as long
/// again. `None` without an ended hold to learn from.
pub fn expected_starts(holds: &[Hold], now: i64, places: usize) -> Option<Vec<i64>> {
    let mut ended: Vec<i64> = holds
        .iter()
        .filter(|hold| hold.ended_at.is_some())
        .take(ESTIMATE_SAMPLE)
        .map(|hold| duration(hold, now))
        .collect();
    let typical = percentile(&mut ended, 90)?;
    let current = holds
        .first()
        .filter(|hold| hold.ended_at.is_none())
        .map_or(0, |hold| (typical - duration(hold, now)).max(0));
    Some(
        (0..places)
            .map(|ahead| current + typical * ahead as i64)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(acquired_at: i64, ended_at: Option<i64>, end: Option<HoldEnd>) -> Hold {
        Hold {
            env: "production".into(),
            id: format!("L{acquired_at}"),
            user: "alice".into(),
            meta: String::new(),
            uberlock: false,
            fencing_token: 1,
            acquired_at,
            expires_at: None,
            ended_at,
            end,
            ended_by: None,
            holder: "alice".into(),
            reason: None,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(percentile(&mut values, 50), Some(5));
        assert_eq!(percentile(&mut values, 90), Some(9));
        assert_eq!(percentile(&mut [7], 90), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
    }

    #[test]
    fn stats_sum_up_durations_ends_and_the_share_held_within_the_window() {
        let released = Some(HoldEnd::Released);
        let holds = [
            hold(9_000, None, None),
            hold(5_000, Some(6_000), Some(HoldEnd::Expired)),
            hold(2_000, Some(4_000), released),
            // Began before the window: only its part inside counts as held.
            hold(-1_000, Some(1_000), released),
        ];
        let stats = hold_stats(&holds, 0, 10_000);
        assert_eq!(stats.holds, 4);
        assert_eq!(stats.median_hold_ms, Some(1_000));
        assert_eq!(stats.p90_hold_ms, Some(2_000));
        assert_eq!((stats.released, stats.expired, stats.forced), (2, 1, 0));
        assert!(
            (stats.held_share - 0.5).abs() < 1e-9,
            "{}",
            stats.held_share
        );
        assert_eq!(hold_stats(&[], 0, 10).median_hold_ms, None);
    }

    #[test]
    fn each_place_expects_the_rest_of_the_current_hold_and_a_typical_hold_per_place_ahead() {
        let released = Some(HoldEnd::Released);
        let mut holds = vec![hold(100_000, None, None)];
        for i in 0..10 {
            let start = i * 10_000;
            holds.push(hold(start, Some(start + 1_000 * (i + 1)), released));
        }
        holds[1..].reverse(); // newest first
                              // p90 of 1..=10 s is 9 s; the current hold is 4 s old.
        assert_eq!(
            expected_starts(&holds, 104_000, 3),
            Some(vec![5_000, 14_000, 23_000])
        );
        // A hold older than typical is expected to end any moment.
        assert_eq!(expected_starts(&holds, 120_000, 1), Some(vec![0]));
        assert_eq!(expected_starts(&holds[..1], 104_000, 2), None);
    }
}
