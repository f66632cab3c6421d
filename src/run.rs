//! `locks run`: hold a lock for exactly the life of a command. Takes the lock (waiting like
//! `locks lock`), runs the command with the lock in its environment, renews the lease in the
//! background, forwards signals to it, and releases the lock when it exits.
//!
//! The lease rules are plain Rust ([`Lease`]); the store writes are `locks::renew` and
//! `locks::release_held`, each conditional on the revision this process wrote last. Nothing
//! here prints: the caller renders [`Event`]s.

use crate::duration::humanize;
use crate::error::{Error, Result};
use crate::locks::{self, Acquired, LockRequest, WaitPolicy};
use crate::model::{now_ms, Lock};
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Signal numbers as every Unix daplaya targets numbers them.
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
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
    token: CancellationToken,
    signals: broadcast::Sender<i32>,
    running: Arc<AtomicUsize>,
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
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub lock: LockRequest,
    pub policy: WaitPolicy,
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
    /// Someone else holds the env; the next attempt follows after the poll interval.
    Busy(&'a Lock, Duration),
    /// The lock is ours; the command starts next.
    Locked(&'a Lock, &'a Acquired),
    /// A renewal failed; it is retried until the lease runs out.
    RenewalFailed {
        lock: &'a Lock,
        error: &'a Error,
        lease_left: Duration,
    },
    /// The lock is lost, or could not be confirmed before its lease ran out. `stopping`: the
    /// command is still running and has been sent SIGTERM.
    Lost {
        error: &'a Error,
        stopping: bool,
    },
    Released(&'a Lock),
    ReleaseFailed {
        lock: &'a Lock,
        error: &'a Error,
    },
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
    /// The lock row as last known: as released, or as last renewed.
    pub lock: Lock,
    pub acquired: Acquired,
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

/// What the lease timer asks for next.
#[derive(Debug)]
enum Step {
    /// Renew now; give up on this attempt after `budget`.
    Renew { budget: Duration },
    /// No renewal succeeded before the lease ran out: treat the lock as lost.
    Lost(Error),
}

/// A normal lock's lease as this process knows it, on the local monotonic clock. The deadline
/// counts from the start of the last successful write (the store's lease counts from a later
/// instant), so it never runs past the stored lease while clocks tick at the same rate.
#[derive(Debug)]
struct Lease {
    env: String,
    ttl: Duration,
    deadline: Instant,
    next_renewal: Instant,
    /// The last failure since the last successful renewal.
    failing: Option<Error>,
}

impl Lease {
    /// `None` for an uberlock: it never expires and is never renewed.
    fn new(lock: &Lock, now: Instant, wall_now: i64) -> Option<Lease> {
        let expires_at = lock.expires_at?;
        let ttl = millis(expires_at - lock.updated_at);
        // Taken `wall_now - updated_at` ago, by this machine's clock.
        let left = ttl.saturating_sub(millis(wall_now - lock.updated_at));
        Some(Lease {
            env: lock.env.clone(),
            ttl,
            deadline: now + left,
            next_renewal: now + ttl / 3,
            failing: None,
        })
    }

    fn retry_interval(&self) -> Duration {
        (self.ttl / 12).max(Duration::from_millis(10))
    }

    fn due(&self, now: Instant) -> Step {
        match &self.failing {
            Some(error) if now >= self.deadline => Step::Lost(Error::Store(format!(
                "could not renew the lock on {} before its lease ran out ({error})",
                self.env
            ))),
            // Before the deadline an attempt may use the time left. Past it with no failure
            // on record (this process was stopped or starved), one attempt finds out whether
            // the lock is still ours.
            _ => Step::Renew {
                budget: if self.deadline > now {
                    self.deadline - now
                } else {
                    self.ttl / 3
                },
            },
        }
    }

    /// A renewal that started at `started` succeeded.
    fn renewed(&mut self, started: Instant) {
        self.deadline = started + self.ttl;
        self.next_renewal = started + self.ttl / 3;
        self.failing = None;
    }

    /// A renewal failed at `now`; `Some` when the lease has run out meanwhile.
    fn failed(&mut self, error: Error, now: Instant) -> Option<Error> {
        self.failing = Some(error);
        self.next_renewal = (now + self.retry_interval()).min(self.deadline);
        match self.due(now) {
            Step::Lost(lost) => Some(lost),
            Step::Renew { .. } => None,
        }
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Exit code of a finished command: its own, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(crate::error::exit::FAILURE)
}

/// Takes the lock, runs the command under it, releases it. Errors before the command starts
/// (busy, uberlocked, interrupted while waiting, a command that cannot start) are `Err`, with
/// nothing left held; once the command has run, the outcome carries its exit code and whatever
/// went wrong with the lock meanwhile.
pub async fn run_locked(
    store: &dyn Store,
    request: &RunRequest,
    interrupt: &Interrupt,
    stdout: ChildStdout,
    events: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<RunOutcome> {
    if request.command.is_empty() {
        return Err(Error::usage("locks run needs a command to run"));
    }
    // Subscribed before waiting, so no signal between taking the lock and starting the command
    // is missed.
    let mut signals = interrupt.signals.subscribe();
    let (lock, acquired) = locks::lock(
        store,
        &request.lock,
        request.policy,
        &interrupt.token,
        &mut |holder, waited| events(Event::Busy(holder, waited)),
    )
    .await?;
    events(Event::Locked(&lock, &acquired));
    if interrupt.token.is_cancelled() {
        // The signal arrived as the lock was taken: give it back and run nothing.
        release(store, &lock, events).await;
        return Err(Error::Interrupted);
    }
    let mut child = match spawn(&request.command, &lock, stdout) {
        Ok(child) => child,
        Err(error) => {
            release(store, &lock, events).await;
            return Err(error);
        }
    };
    let supervised = {
        let _running = Running::new(&interrupt.running);
        supervise(store, &mut child, lock, &mut signals, events).await
    };
    let command_exit = match supervised.status {
        Ok(status) => exit_code(status),
        Err(_) => crate::error::exit::FAILURE,
    };
    let held = supervised.held;
    let outcome = |lock, failure| RunOutcome {
        lock,
        acquired: acquired.clone(),
        command_exit,
        failure,
    };
    if let Some(error) = supervised.lost {
        // Not ours any more (or past its lease): nothing to release.
        return Ok(outcome(held, Some(Failure::Lost(error))));
    }
    match locks::release_held(store, &held).await {
        Ok(released) => {
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
                lock: &held,
                error: &error,
            });
            Ok(outcome(held, Some(Failure::Release(error))))
        }
    }
}

/// Gives back a lock whose command never ran; a failure is reported and otherwise ignored
/// (the error that stopped the run matters more, and a lease lapses by itself).
async fn release(store: &dyn Store, lock: &Lock, events: &mut (dyn FnMut(Event<'_>) + Send)) {
    match locks::release_held(store, lock).await {
        Ok(released) => events(Event::Released(&released)),
        Err(error) => events(Event::ReleaseFailed {
            lock,
            error: &error,
        }),
    }
}

fn spawn(command: &[String], lock: &Lock, stdout: ChildStdout) -> Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::usage("locks run needs a command to run"))?;
    let mut child = Command::new(program);
    child
        .args(args)
        .env("DAPLAYA_LOCK_ID", &lock.id)
        .env("DAPLAYA_ENV", &lock.env)
        .env("DAPLAYA_FENCING_TOKEN", lock.fencing_token.to_string());
    let child_stdout = match stdout {
        ChildStdout::Inherit => Stream::Stdout,
        ChildStdout::ToStderr => Stream::Stderr,
    };
    child
        .stdin(inherited(Stream::Stdin))
        .stdout(inherited(child_stdout))
        .stderr(inherited(Stream::Stderr));
    child
        .spawn()
        .map_err(|error| Error::usage(format!("cannot run {program}: {error}")))
}

#[derive(Clone, Copy)]
enum Stream {
    Stdin,
    Stdout,
    Stderr,
}

/// A duplicate of one of our standard streams for the command (or nothing if ours is closed).
/// Node marks its standard descriptors close-on-exec, so plain inheritance would leave the
/// command without them; a duplicate is installed as the command's own.
#[cfg(unix)]
fn inherited(stream: Stream) -> Stdio {
    use std::os::fd::AsFd;
    let duplicate = match stream {
        Stream::Stdin => std::io::stdin().as_fd().try_clone_to_owned(),
        Stream::Stdout => std::io::stdout().as_fd().try_clone_to_owned(),
        Stream::Stderr => std::io::stderr().as_fd().try_clone_to_owned(),
    };
    duplicate.map_or_else(|_| Stdio::null(), Stdio::from)
}

#[cfg(windows)]
fn inherited(stream: Stream) -> Stdio {
    use std::os::windows::io::AsHandle;
    let duplicate = match stream {
        Stream::Stdin => std::io::stdin().as_handle().try_clone_to_owned(),
        Stream::Stdout => std::io::stdout().as_handle().try_clone_to_owned(),
        Stream::Stderr => std::io::stderr().as_handle().try_clone_to_owned(),
    };
    duplicate.map_or_else(|_| Stdio::null(), Stdio::from)
}

struct Supervised {
    held: Lock,
    lost: Option<Error>,
    status: std::io::Result<ExitStatus>,
}

type Renewal<'a> = Pin<Box<dyn Future<Output = (Instant, Result<Lock>)> + Send + 'a>>;

/// Waits for the command while renewing the lease and forwarding signals. When the lock is
/// lost it says so, sends the command SIGTERM, and goes on waiting for it to exit.
async fn supervise<'a>(
    store: &'a dyn Store,
    child: &mut Child,
    mut held: Lock,
    signals: &mut broadcast::Receiver<i32>,
    events: &mut (dyn FnMut(Event<'_>) + Send),
) -> Supervised {
    let mut lease = Lease::new(&held, Instant::now(), now_ms());
    let mut renewal: Option<Renewal<'a>> = None;
    let mut lost: Option<Error> = None;
    let mut signals_open = true;
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
                Ok(signal) => forward(child, signal),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => signals_open = false,
            },
            _ = tokio::time::sleep_until(renew_at.unwrap_or_else(Instant::now)), if renew_at.is_some() => {
                let Some(lease) = &lease else { continue };
                match lease.due(Instant::now()) {
                    Step::Lost(error) => lost = Some(stop(error, child, events)),
                    Step::Renew { budget } => renewal = Some(renew(store, held.clone(), budget)),
                }
            }
            (started, result) = async { renewal.as_mut().expect("guarded").await }, if renewal.is_some() => {
                renewal = None;
                let Some(lease) = &mut lease else { continue };
                match result {
                    Ok(renewed) => {
                        lease.renewed(started);
                        held = renewed;
                    }
                    Err(error @ Error::LeaseLost { .. }) => lost = Some(stop(error, child, events)),
                    Err(error) => {
                        let now = Instant::now();
                        match lease.failed(error, now) {
                            Some(gone) => lost = Some(stop(gone, child, events)),
                            None => events(Event::RenewalFailed {
                                lock: &held,
                                error: lease.failing.as_ref().expect("just failed"),
                                lease_left: lease.deadline.saturating_duration_since(now),
                            }),
                        }
                    }
                }
            }
        }
    }
}

/// The lock is gone: say so, and ask the command to stop.
fn stop(error: Error, child: &mut Child, events: &mut (dyn FnMut(Event<'_>) + Send)) -> Error {
    events(Event::Lost {
        error: &error,
        stopping: true,
    });
    send_signal(child, SIGTERM);
    error
}

fn renew(store: &dyn Store, held: Lock, budget: Duration) -> Renewal<'_> {
    Box::pin(async move {
        let started = Instant::now();
        let result = match tokio::time::timeout(budget, locks::renew(store, &held)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Store(format!(
                "the store did not answer within {}",
                humanize(budget)
            ))),
        };
        (started, result)
    })
}

/// Passes a signal on to the command. A Ctrl-C at a terminal already reached the command (it
/// shares our foreground process group), so that one is not sent twice: tools such as
/// terraform treat a second interrupt as "stop at once".
fn forward(child: &mut Child, signal: i32) {
    if signal == SIGINT && terminal_interrupts_us() {
        return;
    }
    send_signal(child, signal);
}

#[cfg(unix)]
fn terminal_interrupts_us() -> bool {
    // The controlling terminal, if any, and whether our process group is in its foreground.
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscalls on a descriptor we own for the duration of the call.
    unsafe { libc::tcgetpgrp(tty.as_raw_fd()) == libc::getpgrp() }
}

#[cfg(not(unix))]
fn terminal_interrupts_us() -> bool {
    false
}

#[cfg(unix)]
fn send_signal(child: &mut Child, signal: i32) {
    // `id()` is `None` once the command has been reaped, so this never hits a reused pid.
    if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        // SAFETY: kill(2) on our own child's pid; a failure (it just exited) is harmless.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(not(unix))]
fn send_signal(child: &mut Child, _signal: i32) {
    let _ = child.start_kill();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{Wait, DEFAULT_POLL_INTERVAL};
    use crate::store::sqlite::SqliteStore;

    fn lock_at(updated_at: i64, ttl_ms: Option<i64>) -> Lock {
        Lock {
            id: "id".into(),
            user: "alice".into(),
            env: "prod".into(),
            created_at: updated_at,
            updated_at,
            active: true,
            uberlock: ttl_ms.is_none(),
            meta: "CLI".into(),
            expires_at: ttl_ms.map(|ttl| updated_at + ttl),
            fencing_token: 1,
            revision: 1,
        }
    }

    fn store_error() -> Error {
        Error::Store("unreachable".into())
    }

    #[test]
    fn an_uberlock_has_no_lease_to_renew() {
        assert!(Lease::new(&lock_at(1_000, None), Instant::now(), 1_000).is_none());
    }

    #[test]
    fn renewals_come_every_third_of_the_ttl_and_the_deadline_counts_from_the_write() {
        let t0 = Instant::now();
        // Written 300 ms ago by this clock: 2.7 s of a 3 s lease are left.
        let mut lease = Lease::new(&lock_at(10_000, Some(3_000)), t0, 10_300).unwrap();
        assert_eq!(lease.next_renewal, t0 + Duration::from_secs(1));
        assert_eq!(lease.deadline, t0 + Duration::from_millis(2_700));
        assert!(matches!(lease.due(t0 + Duration::from_secs(1)),
            Step::Renew { budget } if budget == Duration::from_millis(1_700)));
        let started = t0 + Duration::from_secs(1);
        lease.renewed(started);
        assert_eq!(lease.deadline, started + Duration::from_secs(3));
        assert_eq!(lease.next_renewal, started + Duration::from_secs(1));
    }

    #[test]
    fn failed_renewals_retry_until_the_lease_runs_out_then_the_lock_is_lost() {
        let t0 = Instant::now();
        let mut lease = Lease::new(&lock_at(0, Some(1_200)), t0, 0).unwrap();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(lease.failed(store_error(), at(400)).is_none());
        assert_eq!(
            lease.next_renewal,
            at(500),
            "retried every twelfth of the ttl"
        );
        assert!(lease.failed(store_error(), at(1_150)).is_none());
        assert_eq!(
            lease.next_renewal,
            at(1_200),
            "never later than the deadline"
        );
        assert!(matches!(lease.due(at(1_200)), Step::Lost(Error::Store(m))
            if m.contains("before its lease ran out") && m.contains("unreachable")));
        let lost = lease
            .failed(store_error(), at(1_250))
            .expect("past the lease");
        assert!(lost
            .to_string()
            .starts_with("could not renew the lock on prod"));
        // One success clears the failure and restarts the lease.
        lease.renewed(at(1_300));
        assert!(matches!(lease.due(at(1_700)), Step::Renew { .. }));
    }

    #[test]
    fn a_process_stopped_past_its_lease_asks_the_store_before_giving_up() {
        let t0 = Instant::now();
        let lease = Lease::new(&lock_at(0, Some(900)), t0, 0).unwrap();
        let resumed = t0 + Duration::from_secs(60);
        assert!(matches!(lease.due(resumed),
            Step::Renew { budget } if budget == Duration::from_millis(300)));
    }

    #[test]
    fn exit_codes_follow_the_command_unless_the_lock_failed_it() {
        let outcome = |command_exit, failure| RunOutcome {
            lock: lock_at(0, Some(1)),
            acquired: Acquired::Acquired,
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
                env: "prod".into(),
                user: user.into(),
                meta: "test".into(),
                uberlock: false,
                ttl,
            },
            policy: WaitPolicy {
                wait: Wait::No,
                poll_interval: DEFAULT_POLL_INTERVAL,
            },
            command: vec!["sh".into(), "-c".into(), script.into()],
        }
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn the_command_sees_the_lock_and_its_exit_code_is_kept() {
        let (_dir, store) = store().await;
        let script = r#"test "$DAPLAYA_ENV" = prod && test "$DAPLAYA_FENCING_TOKEN" = 1 && test -n "$DAPLAYA_LOCK_ID" && exit 7"#;
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
        assert!(!outcome.lock.active, "released");
        assert!(locks::list(&store, None).await.unwrap().is_empty());
        assert!(seen[0].starts_with("Locked") && seen[1].starts_with("Released"));
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn a_lease_lost_to_someone_else_stops_the_command() {
        let (_dir, store) = store().await;
        let request = request("alice", Duration::from_millis(600), "exec sleep 30");
        let (interrupt, mut quiet) = (Interrupt::default(), |_: Event<'_>| {});
        let running = run_locked(
            &store,
            &request,
            &interrupt,
            ChildStdout::Inherit,
            &mut quiet,
        );
        let preempt = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let uber = LockRequest {
                uberlock: true,
                user: "bob".into(),
                ..request.lock.clone()
            };
            locks::try_lock(&store, &uber).await.unwrap()
        };
        let (outcome, _) = tokio::join!(running, preempt);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.command_exit, 128 + SIGTERM);
        assert_eq!(outcome.exit_code(), 1);
        assert!(
            matches!(outcome.failure, Some(Failure::Lost(Error::LeaseLost { ref holder, .. })) if holder == "bob")
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
        let mut quiet = |_: Event<'_>| {};
        let running = run_locked(
            &store,
            &request,
            &interrupt,
            ChildStdout::Inherit,
            &mut quiet,
        );
        let (outcome, _) = tokio::join!(running, raise);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.exit_code(), 128 + SIGTERM);
        assert!(locks::list(&store, None).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_command_that_cannot_start_is_an_error_and_leaves_nothing_held() {
        let (_dir, store) = store().await;
        let mut request = request("alice", Duration::from_secs(60), "");
        request.command = vec!["/nonexistent/daplaya-test".into()];
        let error = run_locked(
            &store,
            &request,
            &Interrupt::default(),
            ChildStdout::Inherit,
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("cannot run /nonexistent/daplaya-test: "));
        assert!(locks::list(&store, None).await.unwrap().is_empty());
    }
}
