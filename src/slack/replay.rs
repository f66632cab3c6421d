//! Each signed request is acted on once. A signature binds the body to its timestamp, and the
//! timestamp is accepted for 5 minutes either way of our clock, so a request captured on its
//! way (a log, a proxy) could be sent again in that window; the store keeps the signatures it
//! has acted on a while longer than that, so a copy is refused, by every server and serverless
//! instance that shares the store and after restarts too.

use super::signature::{self, MAX_CLOCK_SKEW_SECS};
use super::Incoming;
use crate::error::Result;
use crate::ops;
use crate::store::Store;

/// A verified request, as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    /// `slack:` and the signature's code in lowercase hex, so a copy with its hex digits
    /// recased is the same request.
    key: String,
    /// When the store may forget it (epoch ms): past any time its timestamp is accepted, with
    /// a margin for clocks that differ between servers.
    forget_at: i64,
}

impl Once {
    /// The request's record, or `None` if its headers do not parse (a request that verified
    /// always does).
    pub fn of(incoming: &Incoming<'_>, now_secs: i64) -> Option<Once> {
        let sent = signature::sent_at(incoming.timestamp?)?;
        let code = signature::code(incoming.signature?)?;
        let kept_until = sent.max(now_secs).saturating_add(2 * MAX_CLOCK_SKEW_SECS);
        Some(Once {
            key: format!("slack:{}", hex::encode(code)),
            forget_at: kept_until.saturating_mul(1_000),
        })
    }

    /// Records the request in `store`; `false` when it had been seen already.
    pub async fn first_sight(&self, store: &dyn Store) -> Result<bool> {
        ops::first_sight(store, &self.key, self.forget_at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(timestamp: &'a str, signature: &'a str) -> Incoming<'a> {
        Incoming {
            timestamp: Some(timestamp),
            signature: Some(signature),
            body: b"",
        }
    }

    #[test]
    fn a_copy_with_recased_hex_is_the_same_request() {
        let lower = Once::of(&incoming("1700000000", "v0=ab12"), 1_700_000_000).unwrap();
        let upper = Once::of(&incoming(" 1700000000", " v0=AB12 "), 1_700_000_000).unwrap();
        assert_eq!(lower, upper);
        assert_eq!(lower.key, "slack:ab12");
    }

    #[test]
    fn it_is_kept_past_the_whole_window_of_its_timestamp_and_of_our_clock() {
        let once = Once::of(&incoming("1700000000", "v0=ab"), 1_700_000_100).unwrap();
        assert_eq!(once.forget_at, (1_700_000_100 + 600) * 1_000);
        let early = Once::of(&incoming("1700000300", "v0=ab"), 1_700_000_000).unwrap();
        assert_eq!(early.forget_at, (1_700_000_300 + 600) * 1_000);
        assert!(Once::of(&incoming("soon", "v0=ab"), 0).is_none());
        assert!(Once::of(&incoming("1", "ab"), 0).is_none());
    }
}
