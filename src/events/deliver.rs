//! Delivery: every event to every target, in the background on the runtime the caller runs
//! on, at least once while this process lives. Each attempt has [`ATTEMPT_TIMEOUT`]; a
//! failure worth retrying (no answer, a timeout, a 5xx, a 429) is tried again up to
//! [`ATTEMPTS`] times in all. Nothing here is awaited by the lock decision it reports;
//! [`settle`] lets a process that is about to end wait for what is still in flight, within
//! [`SETTLE_BOUND`]. What a killed process had not delivered is lost (docs/events.md).

use super::http::{call, Failed};
use super::sign::signature;
use super::slack;
use super::targets::{loaded, Targets};
use super::Event;
use bytes::Bytes;
use http_body_util::Full;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// How long one attempt may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts per event and target, the first included.
pub const ATTEMPTS: u32 = 3;
/// The pause before the second attempt; it doubles before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest a process waits, when it ends, for deliveries still in flight.
pub const SETTLE_BOUND: Duration = Duration::from_secs(5);

static IN_FLIGHT: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Starts delivering `events` to this process's targets and returns at once. Outside a Tokio
/// runtime, or with no target configured, it does nothing.
pub fn announce(events: Vec<Event>) {
    let Ok(targets) = loaded() else { return };
    if events.is_empty() || targets.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let mut in_flight = IN_FLIGHT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    in_flight.retain(|task| !task.is_finished());
    for event in events {
        let targets = targets.clone();
        in_flight.push(runtime.spawn(async move { deliver(&targets, &event).await }));
    }
}

/// Waits until every delivery started so far is done, or `bound` has passed.
pub async fn settle(bound: Duration) {
    let tasks: Vec<JoinHandle<()>> = {
        let mut in_flight = IN_FLIGHT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *in_flight)
    };
    let all = futures_util::future::join_all(tasks);
    let _ = tokio::time::timeout(bound, all).await;
}

/// One event to every target, side by side.
async fn deliver(targets: &Targets, event: &Event) {
    let body = Bytes::from(serde_json::to_vec(event).expect("an event serializes"));
    let hooks = targets
        .webhooks
        .iter()
        .map(|url| with_retries(|| post_signed(url, &targets.secret, event, body.clone())));
    let hooks = futures_util::future::join_all(hooks);
    let slack = slack::tell(targets, event);
    tokio::join!(hooks, slack);
}

/// Tries `attempt` until it succeeds, fails for good, or has been tried [`ATTEMPTS`] times.
pub(super) async fn with_retries<F, A>(mut attempt: F) -> Result<Bytes, Failed>
where
    F: FnMut() -> A,
    A: std::future::Future<Output = Result<Bytes, Failed>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(failed) if failed.retry && tried < ATTEMPTS => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                tried += 1;
            }
            result => return result,
        }
    }
}

/// Unix seconds now, as the signature's timestamp.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs().to_string()
}

async fn post_signed(url: &str, secret: &str, event: &Event, body: Bytes) -> Result<Bytes, Failed> {
    let sent_at = timestamp();
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("daplaya/", env!("CARGO_PKG_VERSION")))
        .header("x-daplaya-event", event.kind.as_str())
        .header("x-daplaya-event-id", &event.id)
        .header("x-daplaya-request-timestamp", &sent_at)
        .header(
            "x-daplaya-signature",
            signature(secret.as_bytes(), &sent_at, &body),
        )
        .body(Full::new(body))
        .map_err(|error| Failed {
            why: error.to_string(),
            retry: false,
        })?;
    call(request, ATTEMPT_TIMEOUT).await
}
