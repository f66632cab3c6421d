//! Signals from outside: their numbers, and the [`Interrupt`] that cancels waits and reaches
//! a running command.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Signal numbers as every Unix daplaya targets numbers them.
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// `"SIGINT"` (or `"INT"`) to its number; the signals the JS shim can pass on.
pub fn signal_number(name: &str) -> Option<i32> {
    match name.trim().trim_start_matches("SIG") {
        "HUP" => Some(SIGHUP),
        "INT" => Some(SIGINT),
        "TERM" => Some(SIGTERM),
        _ => None,
    }
}

/// Signals that arrived from outside. The first one cancels any wait for a lock (exit 130,
/// nothing taken); every one reaches the command of a `locks run` that is running one.
#[derive(Clone)]
pub struct Interrupt {
    pub(super) token: CancellationToken,
    pub(super) signals: broadcast::Sender<i32>,
    pub(super) running: Arc<AtomicUsize>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt::with_token(CancellationToken::new())
    }
}

impl Interrupt {
    /// Cancelling `token` stops waits; only [`Interrupt::raise`] reaches a running command.
    pub fn with_token(token: CancellationToken) -> Self {
        Interrupt {
            token,
            signals: broadcast::channel(16).0,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// A signal arrived. Returns whether a running command receives it (so the caller need
    /// not fall back to the signal's default action).
    pub fn raise(&self, signal: i32) -> bool {
        let _ = self.signals.send(signal);
        self.token.cancel();
        self.running.load(Ordering::SeqCst) > 0
    }
}

/// Counts a running command for [`Interrupt::raise`] for as long as it lives.
pub(super) struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    pub(super) fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
