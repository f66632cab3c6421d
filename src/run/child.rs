//! The command's process: starting it with the lock in its environment and our standard
//! streams, its exit code, and passing signals on to it.

use super::signals::SIGINT;
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

pub(super) fn spawn(command: &[String], lock: &Lock, stdout: ChildStdout) -> Result<Child> {
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
    child.spawn().map_err(|source| {
        let program = program.clone();
        // As `env` and shells tell them apart: 127 for no such command, 126 for the rest.
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::CommandNotFound { program, source }
        } else {
            Error::CannotExecute { program, source }
        }
    })
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

/// Passes a signal on to the command. A Ctrl-C at a terminal already reached the command (it
/// shares our foreground process group), so that one is not sent twice: tools such as
/// terraform treat a second interrupt as "stop at once".
pub(super) fn forward(child: &mut Child, signal: i32) {
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
pub(super) fn send_signal(child: &mut Child, signal: i32) {
    // `id()` is `None` once the command has been reaped, so this never hits a reused pid.
    if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        // SAFETY: kill(2) on our own child's pid; a failure (it just exited) is harmless.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(not(unix))]
pub(super) fn send_signal(child: &mut Child, _signal: i32) {
    let _ = child.start_kill();
}
