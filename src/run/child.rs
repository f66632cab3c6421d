//! The command's process: started with the lock in its environment and our standard streams,
//! in a process group of its own that every signal we pass on reaches whole, holding the
//! terminal's foreground while we would, and (on Linux) bound to die with us.
//!
//! Why its own group: `sh -c 'step1; step2'` or `npm run deploy` run their work in children;
//! a signal to the command's group stops all of them, not just the shell. Shells do the same
//! for every job, and like a shell we hand the terminal's foreground to that group (when ours
//! has it) so that Ctrl-C reaches the command and it may read the terminal, then take the
//! foreground back when it exits.

use super::ChildStdout;
use crate::error::{Error, Result};
use crate::model::Lock;
use std::process::{ExitStatus, Stdio};
use tokio::process::{Child, Command};

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

/// The running command.
pub(super) struct CommandProcess {
    child: Child,
    /// The terminal whose foreground the command holds, to be taken back when it exits.
    #[cfg(unix)]
    terminal: Option<std::fs::File>,
}

impl CommandProcess {
    /// Starts the command holding `locks` (in the order asked): every env's fencing token in
    /// `DAPLAYA_FENCING_TOKENS`, and with one env its lock id, name and token as well.
    pub(super) async fn spawn(
        command: &[String],
        locks: &[Lock],
        stdout: ChildStdout,
    ) -> Result<CommandProcess> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| Error::usage("locks run needs a command to run"))?;
        let mut child = Command::new(program);
        child
            .args(args)
            .env("DAPLAYA_FENCING_TOKENS", super::fencing_tokens(locks));
        if let [lock] = locks {
            child
                .env("DAPLAYA_LOCK_ID", &lock.id)
                .env("DAPLAYA_ENV", &lock.env)
                .env("DAPLAYA_FENCING_TOKEN", lock.fencing_token.to_string());
        }
        let child_stdout = match stdout {
            ChildStdout::Inherit => Stream::Stdout,
            ChildStdout::ToStderr => Stream::Stderr,
        };
        child
            .stdin(inherited(Stream::Stdin))
            .stdout(inherited(child_stdout))
            .stderr(inherited(Stream::Stderr));
        #[cfg(unix)]
        let terminal = unix::foreground_terminal();
        #[cfg(unix)]
        unix::own_group_bound_to_us(&mut child, terminal.as_ref());
        let spawned = on_lasting_thread(move || child.spawn())
            .await
            .and_then(|spawned| spawned)
            .map_err(|source| cannot_start(program, source))?;
        Ok(CommandProcess {
            child: spawned,
            #[cfg(unix)]
            terminal,
        })
    }

    /// Waits for the command to exit, then takes the terminal back if it had it.
    pub(super) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        #[cfg(unix)]
        if let Some(terminal) = self.terminal.take() {
            unix::hand_terminal(&terminal, unix::own_group());
        }
        status
    }

    /// Sends `signal` to the command's whole process group.
    #[cfg(unix)]
    pub(super) fn signal(&mut self, signal: i32) {
        // `id()` is `None` once the command has been reaped; until then its pid is its group's
        // id, which no other process can take.
        if let Some(pid) = self
            .child
            .id()
            .and_then(|pid| libc::pid_t::try_from(pid).ok())
        {
            // SAFETY: kill(2) on our own child's group; a failure (it just exited) is harmless.
            unsafe {
                libc::kill(-pid, signal);
            }
        }
    }

    #[cfg(not(unix))]
    pub(super) fn signal(&mut self, _signal: i32) {
        let _ = self.child.start_kill();
    }
}

/// Why `program` could not start, as `env` and shells tell it apart: 127 for no such command,
/// 126 for the rest.
fn cannot_start(program: &str, source: std::io::Error) -> Error {
    let program = program.to_string();
    match source.kind() {
        std::io::ErrorKind::NotFound => Error::CommandNotFound { program, source },
        _ => Error::CannotExecute { program, source },
    }
}

/// Finds `program` as starting it would (a path, or a name looked up in `PATH` as `execvp`
/// does), so that a command that cannot start is refused before any lock is taken: a command
/// that exists but is not an executable file cannot be executed (126), one found nowhere is
/// not found (127). Starting it may still fail later (it changed meanwhile); that is reported
/// the same way.
#[cfg(unix)]
pub(super) fn check_startable(program: &str) -> Result<()> {
    use std::io::ErrorKind;
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .ok()
    };
    let candidates: Vec<std::path::PathBuf> = match program.contains('/') {
        true => vec![program.into()],
        // execvp's search path when PATH is unset.
        false => std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into()),
        )
        .map(|dir| dir.join(program))
        .collect(),
    };
    let found: Vec<bool> = candidates
        .iter()
        .filter_map(|path| executable(path))
        .collect();
    match (found.contains(&true), found.is_empty()) {
        (true, _) => Ok(()),
        (false, true) => Err(cannot_start(program, ErrorKind::NotFound.into())),
        (false, false) => Err(cannot_start(program, ErrorKind::PermissionDenied.into())),
    }
}

/// Elsewhere, starting the command tells.
#[cfg(not(unix))]
pub(super) fn check_startable(_program: &str) -> Result<()> {
    Ok(())
}

/// Runs `work` (a fork) on one thread that lives as long as the process. On Linux the command
/// is told to die with its parent, and "parent" means the thread that forked it: the Tokio
/// thread an async call happens to run on may be a blocking-pool thread, which exits after
/// ten idle seconds and would take a still-running command with it.
async fn on_lasting_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    type Job = Box<dyn FnOnce() + Send>;
    static FORKER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let forker = FORKER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("daplaya-fork".into())
            .spawn(move || queue.into_iter().for_each(|job| job()))
            .expect("a thread for starting commands");
        Mutex::new(jobs)
    });
    // Tokio's process support (SIGCHLD) needs its runtime entered on the forking thread.
    let runtime = tokio::runtime::Handle::current();
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _entered = runtime.enter();
        let _ = done.send(work());
    });
    let sent = forker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .is_ok();
    match sent {
        true => result
            .await
            .map_err(|_| std::io::Error::other("the thread starting commands is gone")),
        false => Err(std::io::Error::other(
            "the thread starting commands is gone",
        )),
    }
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

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::os::fd::{AsRawFd, RawFd};
    use tokio::process::Command;

    pub(super) fn own_group() -> libc::pid_t {
        // SAFETY: getpgrp(2) cannot fail.
        unsafe { libc::getpgrp() }
    }

    /// Our controlling terminal, if our process group is in its foreground.
    pub(super) fn foreground_terminal() -> Option<File> {
        let tty = File::open("/dev/tty").ok()?;
        // SAFETY: tcgetpgrp(3) on a descriptor we own for the duration of the call.
        let foreground = unsafe { libc::tcgetpgrp(tty.as_raw_fd()) };
        (foreground == own_group()).then_some(tty)
    }

    /// Puts `group` in the terminal's foreground. A process outside the foreground group gets
    /// SIGTTOU for trying, unless it blocks that signal, as shells do meanwhile. Only
    /// async-signal-safe calls: this also runs in the forked child.
    fn foreground(terminal: RawFd, group: libc::pid_t) -> bool {
        // SAFETY: signal-mask calls on this thread's own mask, restored before returning, and
        // tcsetpgrp(3) on an open descriptor.
        unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGTTOU);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
            let done = libc::tcsetpgrp(terminal, group) == 0;
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            done
        }
    }

    pub(super) fn hand_terminal(terminal: &File, group: libc::pid_t) {
        // Failing (the terminal went away) leaves nothing to give back.
        let _ = foreground(terminal.as_raw_fd(), group);
    }

    /// In the child, before it becomes the command: a process group of its own (in the
    /// terminal's foreground when `terminal` is given), and on Linux SIGTERM when we die.
    pub(super) fn own_group_bound_to_us(command: &mut Command, terminal: Option<&File>) {
        let terminal = terminal.map(|tty| tty.as_raw_fd());
        // SAFETY: getpid(2) cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure makes only async-signal-safe calls and allocates nothing, as
        // code between fork and exec must.
        unsafe {
            command.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(terminal) = terminal {
                    foreground(terminal, libc::getpid());
                }
                #[cfg(target_os = "linux")]
                {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // We died before the line above: nobody would ever send that SIGTERM.
                    if libc::getppid() != parent {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = parent;
                Ok(())
            });
        }
    }
}
