//! The operations every front door shares. The CLI, the Node API, Slack and the HTTP server
//! are adapters: each turns its input into a validated [`Invocation`] (see [`input`]), opens
//! the store ([`open`]), calls [`perform`], and shows the [`Report`] its own way. Nothing here
//! prints or knows which door it was called from.

pub mod board;
mod held;
pub mod input;
pub mod open;
pub mod report;

use crate::caller::UserSource;
use crate::config::StoreOptions;
use crate::error::Result;
use crate::events;
use crate::jobs::{self, EndRequest};
use crate::locks::{
    self, Attempt, Authority, LockRequest, ReleaseRequest, WaitPolicy, WaitProgress,
};
use crate::run::{self, ChildStdout, Event, Failure, Interrupt, RunRequest};
use crate::store::Store;
pub use report::{JobList, Report};
use std::time::Duration;

/// What the store is, for people (its kind and where it lives): what a door names when it says
/// where locks live.
pub fn describe(store: &dyn Store) -> String {
    store.describe()
}

/// Records a request under `key` until `forget_at` (epoch ms) so it is acted on once: `false`
/// when the store has seen it already and the door must refuse it.
pub async fn first_sight(store: &dyn Store, key: &str, forget_at: i64) -> Result<bool> {
    store.first_sight(key, forget_at).await
}

/// One validated call, whatever door it came through: nothing runs before this exists.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// Work on the store the options choose.
    Act { action: Action, store: StoreOptions },
    /// Answer HTTP requests (the page, its JSON, Slack commands) with the store the options choose.
    Serve {
        request: ServeRequest,
        store: StoreOptions,
    },
    /// Print the completion script of a shell; touches no store.
    Completions(Shell),
}

/// Work on a store, every value checked.
#[derive(Debug, Clone)]
pub enum Action {
    Init,
    ListLocks {
        env: Option<String>,
    },
    /// An env's holds, newest first.
    History {
        env: String,
        limit: usize,
        /// Only holds acquired within this long before now.
        since: Option<Duration>,
    },
    Lock {
        request: LockRequest,
        policy: WaitPolicy,
        user_source: UserSource,
        /// Report one result per env even for one (see [`input::Envs`]).
        listed: bool,
    },
    /// One attempt, never joining the line: someone else's lock, or others waiting, is a
    /// report (`Busy`), not an error.
    TryLock(LockRequest),
    Release {
        request: ReleaseRequest,
        user_source: UserSource,
        listed: bool,
    },
    Run {
        request: RunRequest,
        user_source: UserSource,
        listed: bool,
    },
    StartJob {
        jobname: String,
        user: String,
        version: String,
        user_source: UserSource,
    },
    GetJob {
        jobname: String,
        version: String,
    },
    EndJob(EndRequest),
    ActiveJobs {
        jobname: String,
        window: Duration,
    },
    SkippedJobs {
        jobname: String,
        window: Duration,
    },
}

impl Action {
    /// The user and where it came from, when the caller did not give it.
    pub fn defaulted_user(&self) -> Option<(&str, UserSource)> {
        let (user, source) = match self {
            Action::Lock {
                request,
                user_source,
                ..
            } => (&request.user, user_source),
            Action::Run {
                request,
                user_source,
                ..
            } => (&request.lock.user, user_source),
            Action::Release {
                request,
                user_source,
                ..
            } => (&request.user, user_source),
            Action::StartJob {
                user, user_source, ..
            } => (user, user_source),
            _ => return None,
        };
        (*source != UserSource::Given).then_some((user.as_str(), *source))
    }
}

/// Where a server listens, and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeRequest {
    pub host: String,
    /// 0: any free port.
    pub port: u16,
    /// The jobnames whose running and skipped jobs the page shows, checked.
    pub jobnames: Vec<String>,
    /// `slack serve`: refuse to start without a Slack signing secret.
    pub slack_required: bool,
}

/// The shells completion scripts exist for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    PowerShell,
}

/// Carries out a validated action on a store. `interrupt` ends a wait for a lock, and reaches
/// the command of a `Run` (so an aborted `runLocked` stops it); `None` for a caller nothing
/// interrupts (a page, a Slack command, an API call without `signal`). `on_wait` sees the place in
/// line and who is in the way each time a wait for a lock goes on. `Run` is silent here (the
/// command's stdout is the caller's); a front door that shows the steps of `locks run` calls
/// `run::run_locked` with its own events.
pub async fn perform(
    action: Action,
    store: &dyn Store,
    interrupt: Option<&Interrupt>,
    on_wait: &mut (dyn FnMut(&WaitProgress) + Send),
) -> Result<Report> {
    let uninterrupted;
    let interrupt = match interrupt {
        Some(interrupt) => interrupt,
        None => {
            uninterrupted = Interrupt::default();
            &uninterrupted
        }
    };
    Ok(match action {
        Action::Init => Report::Init {
            store: store.describe(),
            tables: store.init().await?,
        },
        Action::ListLocks { env } => Report::Locks {
            locks: locks::list(store, env.as_deref()).await?,
            env,
        },
        Action::History { env, limit, since } => Report::History {
            holds: locks::history(store, &env, since, limit).await?,
            env,
        },
        Action::Lock {
            request,
            policy,
            listed,
            ..
        } => {
            events::check()?;
            let copies = held::open(store)?;
            let locked = locks::lock(store, &request, policy, interrupt.token(), on_wait).await;
            events::announce(events::from_locking(&request, &locked));
            let locks = locked?;
            if let Some(copies) = copies {
                copies.remember(locks.iter().map(|(lock, _)| lock));
            }
            Report::Locked { locks, listed }
        }
        Action::TryLock(request) => {
            events::check()?;
            let copies = held::open(store)?;
            match locks::try_lock(store, &request).await? {
                Attempt::Acquired(locks) => {
                    events::announce(events::from_taken(&locks));
                    if let Some(copies) = copies {
                        copies.remember(locks.iter().map(|(lock, _)| lock));
                    }
                    Report::Locked {
                        locks,
                        listed: false,
                    }
                }
                Attempt::Busy { holders, waiting } => Report::Busy { holders, waiting },
            }
        }
        Action::Release {
            request, listed, ..
        } => {
            events::check()?;
            let copies = held::open(store)?;
            // Only a holder's own release has a copy to claim.
            let own = request.authority == Authority::Holder;
            let recalled = copies
                .as_ref()
                .filter(|_| own)
                .and_then(|copies| copies.recall(&request.envs, &request.user, &request.holder));
            let released = match recalled {
                Some(recalled) => locks::release_from(store, &request, recalled).await,
                None => locks::release(store, &request).await,
            };
            // Released, or not held after all: either way the copies are of no more use.
            if let Some(copies) = copies.filter(|_| own) {
                copies.forget(&request.envs, &request.holder);
            }
            let released = released?;
            events::announce(events::from_release(&request, &released));
            Report::Released { released, listed }
        }
        Action::Run {
            request, listed, ..
        } => {
            let mut events = |event: Event<'_>| {
                if let Event::Waiting(progress) = event {
                    on_wait(progress)
                }
            };
            let outcome = run::run_locked(
                store,
                &request,
                interrupt,
                ChildStdout::Inherit,
                &mut events,
            )
            .await?;
            match outcome.failure {
                Some(Failure::Lost(error) | Failure::Release(error)) => return Err(error),
                None => Report::Ran {
                    exit_code: outcome.command_exit,
                    locks: outcome.locks,
                    listed,
                },
            }
        }
        Action::StartJob {
            jobname,
            user,
            version,
            ..
        } => Report::JobStarted(jobs::start(store, &jobname, &user, &version).await?),
        Action::GetJob { jobname, version } => {
            Report::Job(jobs::get(store, &jobname, &version).await?)
        }
        Action::EndJob(request) => Report::JobEnded(jobs::end(store, &request).await?),
        Action::ActiveJobs { jobname, window } => Report::Jobs {
            jobs: jobs::active(store, &jobname, window).await?,
            jobname,
            list: JobList::Active,
            window,
        },
        Action::SkippedJobs { jobname, window } => Report::Jobs {
            jobs: jobs::skipped(store, &jobname, window).await?,
            jobname,
            list: JobList::Skipped,
            window,
        },
    })
}
