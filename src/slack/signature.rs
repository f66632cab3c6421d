//! Slack's request signature (v0): `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256, keyed
//! with the app's signing secret, of `v0:<X-Slack-Request-Timestamp>:<raw body>`. Pure: the
//! caller passes the clock, so the checks are testable with Slack's published example.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock, either way (Slack's own advice).
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

const VERSION_PREFIX: &str = "v0=";

/// Why a signature was refused. Never shown to the caller (they get a bare 401); the server
/// logs it for its operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    MissingTimestamp,
    MissingSignature,
    BadTimestamp,
    Stale,
    Malformed,
    Mismatch,
}

impl Invalid {
    pub fn reason(self) -> &'static str {
        match self {
            Invalid::MissingTimestamp => "no X-Slack-Request-Timestamp header",
            Invalid::MissingSignature => "no X-Slack-Signature header",
            Invalid::BadTimestamp => "the timestamp is not a number",
            Invalid::Stale => "the timestamp is more than 5 minutes away from our clock",
            Invalid::Malformed => "the signature is not v0=<hex>",
            Invalid::Mismatch => "the signature does not match",
        }
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // Slack's scheme is the one daplaya signs its own webhooks with.
    crate::events::sign::mac(secret, timestamp, body)
}

/// The `X-Slack-Signature` value Slack would send for this request.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let code = mac(secret, timestamp, body).finalize().into_bytes();
    format!("{VERSION_PREFIX}{}", hex::encode(code))
}

/// When an `X-Slack-Request-Timestamp` says the request was sent (Unix seconds).
pub fn sent_at(timestamp: &str) -> Option<i64> {
    timestamp.trim().parse().ok()
}

/// The code an `X-Slack-Signature` carries, whichever case its hex digits are in.
pub fn code(signature: &str) -> Option<Vec<u8>> {
    signature
        .trim()
        .strip_prefix(VERSION_PREFIX)
        .and_then(|hex_code| hex::decode(hex_code).ok())
}

/// Checks a request's timestamp against `now_secs` (Unix seconds) and its signature in constant
/// time.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), Invalid> {
    let timestamp = timestamp.ok_or(Invalid::MissingTimestamp)?;
    let signature = signature.ok_or(Invalid::MissingSignature)?;
    let sent = sent_at(timestamp).ok_or(Invalid::BadTimestamp)?;
    if now_secs.abs_diff(sent) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(Invalid::Stale);
    }
    let code = code(signature).ok_or(Invalid::Malformed)?;
    // The timestamp is signed as sent, not as we parsed it.
    mac(secret, timestamp, body)
        .verify_slice(&code)
        .map_err(|_| Invalid::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const NOW: i64 = 1_531_420_618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn check(secret: &[u8], timestamp: &str, signature: &str, body: &[u8]) -> Result<(), Invalid> {
        verify(secret, Some(timestamp), Some(signature), body, NOW)
    }

    fn flipped(text: &[u8], at: usize) -> Vec<u8> {
        let mut bytes = text.to_vec();
        bytes[at] ^= 0x01;
        bytes
    }

    #[test]
    fn slacks_published_example_verifies() {
        assert_eq!(
            check(SECRET.as_bytes(), TIMESTAMP, SIGNATURE, BODY.as_bytes()),
            Ok(())
        );
        assert_eq!(
            sign(SECRET.as_bytes(), TIMESTAMP, BODY.as_bytes()),
            SIGNATURE
        );
    }

    #[test]
    fn any_changed_body_byte_fails() {
        for at in 0..BODY.len() {
            let body = flipped(BODY.as_bytes(), at);
            assert_eq!(
                check(SECRET.as_bytes(), TIMESTAMP, SIGNATURE, &body),
                Err(Invalid::Mismatch),
                "body byte {at}"
            );
        }
        let mut longer = BODY.as_bytes().to_vec();
        longer.push(b'&');
        assert!(check(SECRET.as_bytes(), TIMESTAMP, SIGNATURE, &longer).is_err());
        let shorter = &BODY.as_bytes()[..BODY.len() - 1];
        assert!(check(SECRET.as_bytes(), TIMESTAMP, SIGNATURE, shorter).is_err());
    }

    #[test]
    fn any_changed_signature_secret_or_timestamp_byte_fails() {
        for at in 0..SIGNATURE.len() {
            let signature = String::from_utf8(flipped(SIGNATURE.as_bytes(), at)).unwrap();
            assert!(
                check(SECRET.as_bytes(), TIMESTAMP, &signature, BODY.as_bytes()).is_err(),
                "signature byte {at}"
            );
        }
        for at in 0..SECRET.len() {
            let secret = flipped(SECRET.as_bytes(), at);
            assert_eq!(
                check(&secret, TIMESTAMP, SIGNATURE, BODY.as_bytes()),
                Err(Invalid::Mismatch),
                "secret byte {at}"
            );
        }
        // A timestamp one second off (still inside the window) is signed differently.
        for timestamp in ["1531420617", "1531420619", " 1531420618"] {
            assert!(
                check(SECRET.as_bytes(), timestamp, SIGNATURE, BODY.as_bytes()).is_err(),
                "{timestamp:?}"
            );
        }
    }

    #[test]
    fn truncated_or_unprefixed_signatures_fail() {
        let bare = SIGNATURE.trim_start_matches("v0=");
        for signature in [
            bare,
            "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            &SIGNATURE[..SIGNATURE.len() - 2],
            "v0=",
            "v0=zz",
            "",
        ] {
            assert!(
                check(SECRET.as_bytes(), TIMESTAMP, signature, BODY.as_bytes()).is_err(),
                "{signature:?}"
            );
        }
    }

    #[test]
    fn the_replay_window_is_five_minutes_either_way() {
        let at = |now: i64| {
            verify(
                SECRET.as_bytes(),
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                now,
            )
        };
        assert_eq!(at(NOW + 300), Ok(()));
        assert_eq!(at(NOW - 300), Ok(()));
        assert_eq!(at(NOW + 301), Err(Invalid::Stale));
        assert_eq!(at(NOW - 301), Err(Invalid::Stale));
    }

    #[test]
    fn missing_or_garbled_headers_fail() {
        let secret = SECRET.as_bytes();
        let body = BODY.as_bytes();
        assert_eq!(
            verify(secret, None, Some(SIGNATURE), body, NOW),
            Err(Invalid::MissingTimestamp)
        );
        assert_eq!(
            verify(secret, Some(TIMESTAMP), None, body, NOW),
            Err(Invalid::MissingSignature)
        );
        assert_eq!(
            verify(secret, Some("soon"), Some(SIGNATURE), body, NOW),
            Err(Invalid::BadTimestamp)
        );
    }
}
