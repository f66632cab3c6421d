//! While the command runs: renew the lease on time, pass signals on, and stop the command
//! when the lock is lost.

use super::child::CommandProcess;
use super::lease::{Lease, Step};
use super::signals::{SIGKILL, SIGTERM};
use super::Event;
use crate::duration::humanize;
use crate::error::{Error, Result};
use crate::locks;
use crate::model::Lock;
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

pub(super) struct Supervised {
    /// Every env's lock as last renewed, in the order asked.
    pub(super) held: Vec<Lock>,
    pub(super) lost: Option<Error>,
    pub(super) status: std::io::Result<ExitStatus>,
}

type Renewal<'a> = Pin<Box<dyn Future<Output = Result<Vec<Lock>>> + Send + 'a>>;

/// Waits for the command while renewing the lease and passing signals on to its process
/// group. When the lock is lost it says so, sends the command SIGTERM, and goes on waiting for
/// it to exit. A command still running `kill_after` past a SIGTERM from us gets SIGKILL.
/// Several envs are renewed together, in one write: their leases were stamped together, so
/// the soonest to end times them all, and losing any one is losing the lock.
pub(super) async fn supervise<'a>(
    store: &'a dyn Store,
    child: &mut CommandProcess,
    mut held: Vec<Lock>,
    kill_after: Duration,
    signals: &mut broadcast::Receiver<i32>,
    events: &mut (dyn FnMut(Event<'_>) + Send),
) -> Supervised {
    let mut lease = soonest(&held).and_then(|lock| Lease::new(lock, Instant::now(), store.now()));
    let mut renewal: Option<Renewal<'a>> = None;
    let mut lost: Option<Error> = None;
    let mut signals_open = true;
    let mut kill_at: Option<Instant> = None;
    loop {
        let renew_at = match (&lease, &renewal, &lost) {
            (Some(lease), None, None) => Some(lease.next_renewal),
            _ => None,
        };
        tokio::select! {
            status = child.wait() => {
                return Supervised { held, lost, status };
            }
            signal = signals.recv(), if signals_open => match signal {
                Ok(signal) => {
                    child.signal(signal);
                    if signal == SIGTERM {
                        kill_at.get_or_insert(Instant::now() + kill_after);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => signals_open = false,
            },
            _ = tokio::time::sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                kill_at = None;
                child.signal(SIGKILL);
                events(Event::Killed { after: kill_after });
            }
            _ = tokio::time::sleep_until(renew_at.unwrap_or_else(Instant::now)), if renew_at.is_some() => {
                let Some(lease) = &lease else { continue };
                match lease.due(Instant::now()) {
                    Step::Lost(error) => lost = Some(stop(error, child, &mut kill_at, kill_after, events)),
                    Step::Renew { budget } => renewal = Some(renew(store, held.clone(), budget)),
                }
            }
            result = async { renewal.as_mut().expect("guarded").await }, if renewal.is_some() => {
                renewal = None;
                let Some(lease) = &mut lease else { continue };
                match result {
                    Ok(renewed) => {
                        if let Some(lock) = soonest(&renewed) {
                            lease.renewed(lock, Instant::now(), store.now());
                        }
                        held = renewed;
                    }
                    Err(error @ Error::LeaseLost { .. }) => lost = Some(stop(error, child, &mut kill_at, kill_after, events)),
                    Err(error) => {
                        let now = Instant::now();
                        match lease.failed(error, now) {
                            Some(gone) => lost = Some(stop(gone, child, &mut kill_at, kill_after, events)),
                            None => events(Event::RenewalFailed {
                                locks: &held,
                                error: lease.failing.as_deref().expect("just failed"),
                                lease_left: lease.deadline.saturating_duration_since(now),
                            }),
                        }
                    }
                }
            }
        }
    }
}

/// The lock is gone: say so, ask the command to stop, and arm the SIGKILL that follows.
fn stop(
    error: Error,
    child: &mut CommandProcess,
    kill_at: &mut Option<Instant>,
    kill_after: Duration,
    events: &mut (dyn FnMut(Event<'_>) + Send),
) -> Error {
    events(Event::Lost {
        error: &error,
        stopping: true,
    });
    child.signal(SIGTERM);
    kill_at.get_or_insert(Instant::now() + kill_after);
    error
}

/// The lock whose lease ends first (`None` when every one is an uberlock, which never expires).
fn soonest(locks: &[Lock]) -> Option<&Lock> {
    locks
        .iter()
        .filter(|lock| lock.expires_at.is_some())
        .min_by_key(|lock| lock.expires_at)
}

fn renew(store: &dyn Store, held: Vec<Lock>, budget: Duration) -> Renewal<'_> {
    Box::pin(async move {
        match tokio::time::timeout(budget, locks::renew(store, &held)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Store(format!(
                "the store did not answer within {}",
                humanize(budget)
            ))),
        }
    })
}
