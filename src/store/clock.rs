//! The store's clock, as one client knows it. Lease expiry is judged and stamped on the
//! store's clock, never on a client's wall clock, so clients whose clocks disagree still agree
//! on when a lease ends.
//!
//! DynamoDB stamps every response with an HTTP `Date` header (whole seconds, truncated). A
//! response generated between sending (local monotonic instant `sent`) and receiving
//! (`received`) with `Date: D` proves that, at any later local instant `t`, the server's clock
//! reads at least `D + (t - received)` and less than `D + 1 s + (t - sent)`. [`Bounds`] keeps
//! the tightest such interval over all responses seen, loosened as it ages by the most two
//! clocks can drift apart, so it stays true while the monotonic clock and the server's clock
//! tick at nearly the same rate.

use std::sync::Mutex;
use std::time::Instant;

/// The store's clock now, in epoch milliseconds: certainly not before `earliest`, certainly
/// before `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTime {
    pub earliest: i64,
    pub latest: i64,
}

impl StoreTime {
    /// A clock known exactly: this machine's wall clock, for a store that lives on it.
    pub fn exact(now: i64) -> StoreTime {
        StoreTime {
            earliest: now,
            latest: now,
        }
    }

    pub fn uncertainty_ms(&self) -> i64 {
        self.latest - self.earliest
    }

    /// Whether a stamp taken from this machine's wall clock, for a write that this clock (read
    /// after the write's answer) has seen land, stands: no later than the latest the store's
    /// clock may read, and at most [`STAMP_TOLERANCE_MS`] before the earliest.
    pub fn confirms(&self, stamp: i64) -> bool {
        (self.earliest - STAMP_TOLERANCE_MS..=self.latest).contains(&stamp)
    }
}

/// How far behind the store's clock a stamp from this machine's clock may be and stand. A
/// clock in step (NTP keeps it within tens of ms) always passes with a round trip under a
/// second: the answer's `Date` is truncated to the second. A lease so stamped looks shorter
/// than asked by what the clock is behind, under a second; a clock further off is corrected.
pub const STAMP_TOLERANCE_MS: i64 = 1_000;

/// The resolution of an HTTP `Date`: the server's clock is up to this much past it.
const DATE_RESOLUTION_MS: i64 = 1_000;
/// How far apart the local monotonic clock and the server's clock may drift, in parts per
/// million: NTP slews a clock by at most 500 ppm, on either side.
const MAX_DRIFT_PPM: i64 = 1_000;

/// One side of the interval: `server - local` as measured at local instant `at` (all in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offset {
    offset: i64,
    at: i64,
}

impl Offset {
    /// How far this measurement may have drifted by local instant `now`.
    fn drift(&self, now: i64) -> i64 {
        ((now - self.at).max(0) * MAX_DRIFT_PPM + 999_999) / 1_000_000
    }
}

/// What the responses seen so far prove about the server's clock, on the local monotonic
/// clock in milliseconds. Plain arithmetic, so the rules are tested on made-up instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    low: Offset,
    high: Offset,
}

impl Bounds {
    /// A response sent at `sent` and received at `received` carried `Date: date` (epoch ms).
    pub fn from_response(sent: i64, received: i64, date: i64) -> Bounds {
        Bounds {
            low: Offset {
                offset: date - received,
                at: received,
            },
            high: Offset {
                offset: date + DATE_RESOLUTION_MS - sent,
                at: received,
            },
        }
    }

    /// Both what was known and what `response` proves. When they contradict each other (the
    /// server's clock was stepped, or drifted more than allowed), only the newer is kept.
    pub fn narrowed(self, response: Bounds) -> Bounds {
        let at = response.low.at;
        let low = self.low.offset - self.low.drift(at);
        let high = self.high.offset + self.high.drift(at);
        let narrowed = Bounds {
            low: if low > response.low.offset {
                Offset { offset: low, at }
            } else {
                response.low
            },
            high: if high < response.high.offset {
                Offset { offset: high, at }
            } else {
                response.high
            },
        };
        if narrowed.low.offset >= narrowed.high.offset {
            response
        } else {
            narrowed
        }
    }

    /// The server's clock at local instant `now`.
    pub fn at(&self, now: i64) -> StoreTime {
        StoreTime {
            earliest: now + self.low.offset - self.low.drift(now),
            latest: now + self.high.offset + self.high.drift(now),
        }
    }
}

/// The server clock estimate of one store client, fed by every response it receives.
#[derive(Debug)]
pub struct ServerClock {
    origin: Instant,
    bounds: Mutex<Option<Bounds>>,
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock {
            origin: Instant::now(),
            bounds: Mutex::new(None),
        }
    }
}

impl ServerClock {
    fn local(&self, instant: Instant) -> i64 {
        instant.saturating_duration_since(self.origin).as_millis() as i64
    }

    /// A response sent at `sent`, received at `received`, said `Date: date` (epoch ms).
    pub fn observe(&self, sent: Instant, received: Instant, date: i64) {
        let response = Bounds::from_response(self.local(sent), self.local(received), date);
        let mut bounds = self.bounds.lock().unwrap_or_else(|e| e.into_inner());
        *bounds = Some(match *bounds {
            Some(known) => known.narrowed(response),
            None => response,
        });
    }

    /// The server's clock now; `None` until a response has told it.
    pub fn now(&self) -> Option<StoreTime> {
        let bounds = *self.bounds.lock().unwrap_or_else(|e| e.into_inner());
        bounds.map(|bounds| bounds.at(self.local(Instant::now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_from_this_machine_stands_within_a_second_of_the_store_clock() {
        let time = StoreTime {
            earliest: 10_000,
            latest: 11_050,
        };
        assert!(time.confirms(9_000) && time.confirms(11_050));
        assert!(!time.confirms(8_999) && !time.confirms(11_051));
    }

    /// The server's clock is 30 minutes ahead of the local monotonic clock's zero.
    const AHEAD: i64 = 1_800_000;

    #[test]
    fn one_response_bounds_the_server_clock_by_the_date_its_resolution_and_the_round_trip() {
        // Sent at 1 000, received at 1 040; the server stamped 31 801 020, truncated.
        let bounds = Bounds::from_response(1_000, 1_040, 1_801_000);
        let at_receipt = bounds.at(1_040);
        assert_eq!(
            at_receipt.earliest, 1_801_000,
            "never later than the true time"
        );
        assert_eq!(
            at_receipt.latest,
            1_802_000 + 40,
            "a second of truncation, one round trip"
        );
        let later = bounds.at(61_040);
        assert_eq!(
            later.earliest,
            1_861_000 - 60,
            "aged by the drift allowance"
        );
        assert_eq!(later.latest, 1_862_040 + 60);
    }

    #[test]
    fn responses_narrow_the_interval_towards_the_true_offset() {
        // True server time = local + AHEAD + 400 ms; 20 ms round trips, answered half-way.
        let true_offset = AHEAD + 400;
        let respond = |sent: i64| {
            let generated = sent + 10;
            let date = (generated + true_offset) / 1_000 * 1_000;
            Bounds::from_response(sent, sent + 20, date)
        };
        let mut bounds = respond(0);
        for sent in (137..2_000).step_by(137) {
            bounds = bounds.narrowed(respond(sent));
            let now = bounds.at(sent + 20);
            assert!(now.earliest <= sent + 20 + true_offset, "{now:?}");
            assert!(now.latest > sent + 20 + true_offset, "{now:?}");
        }
        let now = bounds.at(2_000);
        assert!(now.uncertainty_ms() < 200, "{now:?}");
    }

    #[test]
    fn a_stepped_server_clock_replaces_what_was_known() {
        let bounds = Bounds::from_response(0, 10, AHEAD);
        let stepped = Bounds::from_response(100, 110, AHEAD + 60_000);
        assert_eq!(bounds.narrowed(stepped), stepped);
    }

    #[test]
    fn before_any_response_the_server_clock_is_unknown() {
        let clock = ServerClock::default();
        assert_eq!(clock.now(), None);
        let sent = Instant::now();
        clock.observe(sent, Instant::now(), 1_795_000_000_000);
        let now = clock.now().unwrap();
        assert!(now.earliest >= 1_795_000_000_000 && now.latest <= 1_795_000_001_100);
    }
}
