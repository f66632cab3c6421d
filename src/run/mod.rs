//! `locks run`: hold a lock (of one env or several) for exactly the life of a command. Takes
//! the lock (waiting in line like `locks lock`), runs the command with the lock in its
//! environment, renews the lease in the background, forwards signals to it, and releases the
//! lock when it exits.
//!
//! The lease rules are plain Rust ([`lease::Lease`]); the store writes are `locks::renew` and
//! `locks::release_held`, each writing every env at once, conditional on the revisions this
//! process wrote last. Nothing here prints: the caller renders [`Event`]s.

mod child;
mod lease;
mod signals;
mod supervisor;

pub use child::exit_code;
pub use signals::{signal_number, Interrupt, SIGHUP, SIGINT, SIGTERM};

use crate::error::{Error, Result};
use crate::events::{self, announce, from_locking, from_released};
use crate::locks::{self, Acquired, LockRequest, WaitPolicy, WaitProgress};
use crate::model::Lock;
use crate::store::Store;
use child::CommandProcess;
use signals::Running;
use std::time::Duration;
use supervisor::supervise;

/// The grace a command gets between SIGTERM and SIGKILL, as `timeout(1)` and Kubernetes give.
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub lock: LockRequest,
    pub policy: WaitPolicy,
    /// How long the command may outlive a SIGTERM from us before it gets SIGKILL.
    pub kill_after: Duration,
    /// Program and arguments; never empty once validated.
    pub command: Vec<String>,
}

/// Where the command's stdout goes: ours, or our stderr when stdout must carry only `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStdout {
    Inherit,
    ToStderr,
}

/// What happens along the way, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// Waiting in line: the place, and who is in the way; the next poll follows after the poll
    /// interval.
    Waiting(&'a WaitProgress),
    /// The lock of every env is ours (in the order asked); the command starts next.
    Locked(&'a [(Lock, Acquired)]),
    /// A renewal failed; it is retried until the lease runs out.
    RenewalFailed {
        locks: &'a [Lock],
        error: &'a Error,
        lease_left: Duration,
    },
    /// The lock is lost, or could not be confirmed before its lease ran out. `stopping`: the
    /// command is still running and has been sent SIGTERM.
    Lost {
        error: &'a Error,
        stopping: bool,
    },
    /// The command outlived a SIGTERM from us by `after`: its process group got SIGKILL.
    Killed {
        after: Duration,
    },
    Released(&'a [Lock]),
    ReleaseFailed {
        locks: &'a [Lock],
        error: &'a Error,
    },
}

/// `eu=5,us=7`: each env's fencing token, in the order asked (`DAPLAYA_FENCING_TOKENS`).
pub fn fencing_tokens(locks: &[Lock]) -> String {
    locks
        .iter()
        .map(|lock| format!("{}={}", lock.env, lock.fencing_token))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Debug)]
pub enum Failure {
    /// The lock passed to someone else (or went unconfirmed past its lease) during the run.
    Lost(Error),
    /// The command ran under the lock, but releasing it failed; a lease lapses by itself.
    Release(Error),
}

#[derive(Debug)]
pub struct RunOutcome {
    /// The lock rows as last known, in the order asked: as released, or as last renewed.
    pub locks: Vec<Lock>,
    /// The command's exit code; 128 + the signal's number when a signal ended it.
    pub command_exit: i32,
    pub failure: Option<Failure>,
}

impl RunOutcome {
    /// The command's code, unless the lock failed it: a lost lock is 1, and a failed release
    /// turns a success into 1.
    pub fn exit_code(&self) -> i32 {
        match &self.failure {
            None => self.command_exit,
            Some(Failure::Lost(_)) => crate::error::exit::FAILURE,
            Some(Failure::Release(_)) if self.command_exit == 0 => crate::error::exit::FAILURE,
            Some(Failure::Release(_)) => self.command_exit,
        }
    }

    pub fn failure_error(&self) -> Option<&Error> {
        match &self.failure {
            Some(Failure::Lost(error) | Failure::Release(error)) => Some(error),
            None => None,
        }
    }
}

/// Takes the lock, runs the command under it, releases it. Errors before the command starts
/// (a command that cannot start, found before the lock is taken; busy, uberlocked,
/// superseded, interrupted while waiting) are `Err`, with nothing left held; once the command
/// has run, the outcome carries its exit code and whatever went wrong with the lock meanwhile.
pub async fn run_locked(
    store: &dyn Store,
    request: &RunRequest,
    interrupt: &Interrupt,
    stdout: ChildStdout,
    events: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<RunOutcome> {
    let Some(program) = request.command.first() else {
        return Err(Error::usage("locks run needs a command to run"));
    };
    // A command that cannot start takes no lock (and leaves no hold in the history).
    child::check_startable(program)?;
    events::check()?;
    // Subscribed before waiting, so no signal between taking the lock and starting the command
    // is missed.
    let mut signals = interrupt.signals.subscribe();
    let locked = locks::lock(
        store,
        &request.lock,
        request.policy,
        &interrupt.token,
        &mut |progress| events(Event::Waiting(progress)),
    )
    .await;
    announce(from_locking(&request.lock, &locked));
    let taken = locked?;
    events(Event::Locked(&taken));
    let locks: Vec<Lock> = taken.into_iter().map(|(lock, _)| lock).collect();
    if interrupt.token.is_cancelled() {
        // The signal arrived as the lock was taken: give it back and run nothing.
        release(store, &locks, events).await;
        return Err(Error::Interrupted);
    }
    let mut child = match CommandProcess::spawn(&request.command, &locks, stdout).await {
        Ok(child) => child,
        Err(error) => {
            release(store, &locks, events).await;
            return Err(error);
        }
    };
    let supervised = {
        let _running = Running::new(&interrupt.running);
        supervise(
            store,
            &mut child,
            locks,
            request.kill_after,
            &mut signals,
            events,
        )
        .await
    };
    let command_exit = match supervised.status {
        Ok(status) => exit_code(status),
        Err(_) => crate::error::exit::FAILURE,
    };
    let held = supervised.held;
    let outcome = |locks, failure| RunOutcome {
        locks,
        command_exit,
        failure,
    };
    if let Some(error) = supervised.lost {
        // Not ours any more (or past its lease): nothing to release.
        return Ok(outcome(held, Some(Failure::Lost(error))));
    }
    match locks::release_held(store, &held).await {
        Ok(released) => {
            announce(from_released(&released, None));
            events(Event::Released(&released));
            Ok(outcome(released, None))
        }
        Err(error @ Error::LeaseLost { .. }) => {
            events(Event::Lost {
                error: &error,
                stopping: false,
            });
            Ok(outcome(held, Some(Failure::Lost(error))))
        }
        Err(error) => {
            events(Event::ReleaseFailed {
                locks: &held,
                error: &error,
            });
            Ok(outcome(held, Some(Failure::Release(error))))
        }
    }
}

/// Gives back a lock whose command never ran; a failure is reported and otherwise ignored
/// (the error that stopped the run matters more, and a lease lapses by itself).
async fn release(store: &dyn Store, locks: &[Lock], events: &mut (dyn FnMut(Event<'_>) + Send)) {
    match locks::release_held(store, locks).await {
        Ok(released) => {
            announce(from_released(&released, None));
            events(Event::Released(&released))
        }
        Err(error) => events(Event::ReleaseFailed {
            locks,
            error: &error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{Wait, DEFAULT_POLL_INTERVAL};
    use crate::store::sqlite::SqliteStore;
    use lease::tests::{lock_at, store_error};
    use std::sync::atomic::Ordering;

    #[test]
    fn exit_codes_follow_the_command_unless_the_lock_failed_it() {
        let outcome = |command_exit, failure| RunOutcome {
            locks: vec![lock_at(0, Some(1))],
            command_exit,
            failure,
        };
        assert_eq!(outcome(7, None).exit_code(), 7);
        assert_eq!(
            outcome(0, Some(Failure::Lost(store_error()))).exit_code(),
            1
        );
        assert_eq!(
            outcome(0, Some(Failure::Release(store_error()))).exit_code(),
            1
        );
        assert_eq!(
            outcome(9, Some(Failure::Release(store_error()))).exit_code(),
            9
        );
        assert_eq!(signal_number("SIGTERM"), Some(SIGTERM));
        assert_eq!(signal_number("INT"), Some(SIGINT));
        assert_eq!(signal_number("SIGUSR1"), None);
    }

    // End to end on the embedded store, with real child processes (POSIX sh).

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("locks.db"))
            .await
            .unwrap();
        (dir, store)
    }

    fn request(user: &str, ttl: Duration, script: &str) -> RunRequest {
        RunRequest {
            lock: LockRequest {
                envs: vec!["prod".into()],
                user: user.into(),
                holder: user.into(),
                meta: crate::locks::Meta::Given("test".into()),
                uberlock: false,
                ttl,
                supersede: false,
            },
            policy: WaitPolicy {
                wait: Wait::No,
                poll_interval: DEFAULT_POLL_INTERVAL,
            },
            kill_after: DEFAULT_KILL_AFTER,
            command: vec!["sh".into(), "-c".into(), script.into()],
        }
    }

    /// `request` run on `store`, its events unseen, the command's output this process's.
    async fn run_quietly(
        store: &SqliteStore,
        request: &RunRequest,
        interrupt: &Interrupt,
    ) -> Result<RunOutcome> {
        run_locked(store, request, interrupt, ChildStdout::Inherit, &mut |_| {}).await
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn the_command_sees_the_lock_and_its_exit_code_is_kept() {
        let (_dir, store) = store().await;
        let script = r#"test "$DAPLAYA_ENV" = prod && test "$DAPLAYA_FENCING_TOKEN" -gt 0 && test "$DAPLAYA_FENCING_TOKENS" = "prod=$DAPLAYA_FENCING_TOKEN" && test -n "$DAPLAYA_LOCK_ID" && exit 7"#;
        let request = request("alice", Duration::from_secs(60), script);
        let mut seen = Vec::new();
        let outcome = run_locked(
            &store,
            &request,
            &Interrupt::default(),
            ChildStdout::Inherit,
            &mut |event| seen.push(format!("{event:?}")),
        )
        .await
        .unwrap();
        assert_eq!((outcome.command_exit, outcome.exit_code()), (7, 7));
        assert!(!outcome.locks[0].active, "released");
        assert!(locks::list(&store, None).await.unwrap().is_empty());
        assert!(seen[0].starts_with("Locked") && seen[1].starts_with("Released"));
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn a_lease_lost_to_someone_else_stops_the_command() {
        let (_dir, store) = store().await;
        let request = request("alice", Duration::from_millis(600), "exec sleep 30");
        let interrupt = Interrupt::default();
        let running = run_quietly(&store, &request, &interrupt);
        let preempt = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let uber = LockRequest {
                uberlock: true,
                user: "bob".into(),
                holder: "bob".into(),
                ..request.lock.clone()
            };
            locks::try_lock(&store, &uber).await.unwrap()
        };
        let (outcome, _) = tokio::join!(running, preempt);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.command_exit, 128 + SIGTERM);
        assert_eq!(outcome.exit_code(), 1);
        assert!(
            matches!(outcome.failure, Some(Failure::Lost(Error::LeaseLost { ref to, .. })) if to.to_string() == "bob")
        );
        assert_eq!(locks::list(&store, None).await.unwrap()[0].user, "bob");
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn a_signal_reaches_the_command_and_the_lock_is_still_released() {
        let (_dir, store) = store().await;
        let interrupt = Interrupt::default();
        let request = request("alice", Duration::from_secs(60), "exec sleep 30");
        let raise = async {
            // Once the command runs: a signal before that would cancel the wait instead.
            while interrupt.running.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(interrupt.raise(SIGTERM), "a running command receives it");
        };
        let running = run_quietly(&store, &request, &interrupt);
        let (outcome, _) = tokio::join!(running, raise);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.exit_code(), 128 + SIGTERM);
        assert!(locks::list(&store, None).await.unwrap().is_empty());
    }

    /// `locks run` of a command that cannot start: the error it ends with.
    async fn start_failure(store: &SqliteStore, program: &str) -> Error {
        let mut request = request("alice", Duration::from_secs(60), "");
        request.command = vec![program.to_string()];
        run_quietly(store, &request, &Interrupt::default())
            .await
            .unwrap_err()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_command_that_cannot_start_is_an_error_and_leaves_nothing_held() {
        let (_dir, store) = store().await;
        let error = start_failure(&store, "/nonexistent/daplaya-test").await;
        assert!(error
            .to_string()
            .starts_with("cannot run /nonexistent/daplaya-test: "));
        assert!(locks::list(&store, None).await.unwrap().is_empty());
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn a_missing_command_exits_127_and_a_file_that_is_not_executable_126() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store().await;
        let script = dir.path().join("deploy.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cases = [
            (
                "daplaya-no-such-command".to_string(),
                127,
                "COMMAND_NOT_FOUND",
            ),
            (script.display().to_string(), 126, "CANNOT_EXECUTE"),
        ];
        for (program, exit, code) in cases {
            let error = start_failure(&store, &program).await;
            assert_eq!((error.exit_code(), error.code()), (exit, code), "{error}");
            assert!(error
                .to_string()
                .starts_with(&format!("cannot run {program}: ")));
            assert!(
                std::error::Error::source(&error).is_some(),
                "the cause is kept"
            );
            assert!(locks::list(&store, None).await.unwrap().is_empty());
        }
    }
}
