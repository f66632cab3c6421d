//! The flags of `locks ...`, read into `ops::input`'s requests (durations parsed here, named as
//! flags); `ops::input` validates the rest.

use crate::duration;
use crate::error::{Error, Result};
use crate::ops::input::{self, HistoryArgs, ListArgs, LockArgs, ReleaseArgs, RunArgs};
use clap::{Args, Subcommand};

/// `locks <SUBCOMMAND>`, or the first spec's `locks --env <ENV>` (the same as `locks list
/// --env <ENV>`, kept for compatibility and left out of the help).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, arg_required_else_help = true)]
pub struct LocksArgs {
    #[command(subcommand)]
    pub command: Option<LocksCommand>,
    /// The first spec's `daplaya locks --env <ENV>`: lists that env's lock
    #[arg(long, hide = true)]
    pub env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// List active locks (all envs when --env is left out)
    #[command(after_help = "Example:\n  daplaya locks list --env production")]
    List(ListFlags),
    /// Who held an env, when, and how each hold ended (newest first)
    #[command(
        after_help = "Each hold ends as released, expired (its lease lapsed; endedAt is when) or preempted (an uberlock took it; endedBy names who); a hold still held has no end.\n\nExample:\n  daplaya locks history --env production --since 7d"
    )]
    History(HistoryFlags),
    /// Take the lock on an env (or several, all or none), waiting in line while someone else holds it
    #[command(
        after_help = "Waiters are served first come, first served; --supersede gives way (exit 6) to a newer waiter.\n\nExample:\n  daplaya locks lock --env production --user \"$GIT_COMMITTER_EMAIL\" --meta \"$CI_JOB_URL\" --timeout 30m\n  daplaya locks lock --env eu --env us --supersede"
    )]
    Lock(LockFlags),
    /// Release your lock on an env (or several at once)
    #[command(
        after_help = "A lock is released by the run that holds it; another run of the same user is refused (exit 7). --force --reason releases anyone's, and the history records it.\n\nExample:\n  daplaya locks release --env production --user \"$GIT_COMMITTER_EMAIL\"\n  daplaya locks release --env production --force --reason \"deploy runner died\""
    )]
    Release(ReleaseFlags),
    /// Run a command while holding the lock: wait for it, renew it, release it at the end
    #[command(
        after_help = "The command gets DAPLAYA_FENCING_TOKENS (env=token,... in --env order) in its \
            environment, and with one env DAPLAYA_LOCK_ID, DAPLAYA_ENV and DAPLAYA_FENCING_TOKEN. \
            Superseded while waiting (--supersede), it never runs and daplaya exits 6. daplaya exits with its exit code (128+N when signal N ended it), or 1 when \
            the lock was lost meanwhile (the command is sent SIGTERM). The command is looked up before the lock is taken: \
            one that does not exist exits 127, one that cannot be executed 126, and nothing is locked.\n\nExample:\n  daplaya locks run --env production --user \"$GIT_COMMITTER_EMAIL\" --timeout 30m -- ./deploy.sh",
        mut_arg("ttl", |ttl| ttl.help("Lease length, renewed every third of it while the command runs [default: 20m]"))
    )]
    Run(RunFlags),
}

#[derive(Debug, Default, Args)]
pub struct ListFlags {
    /// Only this env's lock, e.g. production
    #[arg(long)]
    pub env: Option<String>,
}

#[derive(Debug, Default, Args)]
pub struct HistoryFlags {
    /// The environment whose holds to show, e.g. production
    #[arg(long)]
    pub env: String,
    /// Show at most this many holds, newest first [default: 20, at most 1000]
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    /// Only holds acquired within this long before now, e.g. 7d
    #[arg(long, value_name = "DUR")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LockFlags {
    /// The environment to lock, e.g. production; repeat it to take several envs at once, all or none (at most 25)
    #[arg(long = "env", value_name = "ENV", required = true)]
    pub envs: Vec<String>,
    /// Who holds the lock, e.g. your email [default: DAPLAYA_USER, the CI's user, git config user.email, the login name]
    #[arg(long)]
    pub user: Option<String>,
    /// Which run holds it: locking again from it renews, and only it releases [default: DAPLAYA_HOLDER, the CI run, else the user]
    #[arg(long, value_name = "ID")]
    pub holder: Option<String>,
    /// What the lock is for [default: the CI run's URL, else CLI]
    #[arg(long)]
    pub meta: Option<String>,
    /// A lock that never expires, refuses everyone else at once and preempts a normal holder
    #[arg(long)]
    pub uberlock: bool,
    /// Lease length, renewed by locking again [default: 20m]
    #[arg(long, value_name = "DUR")]
    pub ttl: Option<String>,
    /// Give up waiting after this long [default: wait forever]
    #[arg(long, value_name = "DUR", conflicts_with = "no_wait")]
    pub timeout: Option<String>,
    /// Try once; exit 3 if someone else holds the env
    #[arg(long)]
    pub no_wait: bool,
    /// How often to try again while waiting [default: 5s]
    #[arg(long, value_name = "DUR")]
    pub poll_interval: Option<String>,
    /// Give way to a newer waiter: leave the line and exit 6 as soon as someone joins it behind you (deploy only the newest)
    #[arg(long)]
    pub supersede: bool,
}

/// `locks run`: the flags of `locks lock`, then the command after `--`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunFlags {
    #[command(flatten)]
    pub lock: LockFlags,
    /// After passing SIGTERM on to the command, SIGKILL it if still running this long after [default: 30s]
    #[arg(long, value_name = "DUR")]
    pub kill_after: Option<String>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct ReleaseFlags {
    /// The environment whose lock to release; repeat it to release several at once (at most 25)
    #[arg(long = "env", value_name = "ENV", required = true)]
    pub envs: Vec<String>,
    /// Who holds the lock [default: as for locks lock]
    #[arg(long)]
    pub user: Option<String>,
    /// The run holding it: only that run releases it [default: as for locks lock]
    #[arg(long, value_name = "ID")]
    pub holder: Option<String>,
    /// Release an uberlock (required for one)
    #[arg(long)]
    pub uberlock: bool,
    /// Release it whoever holds it (an uberlock too); the history records who and why
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the lock is forced, for the history (with --force)
    #[arg(long, value_name = "TEXT", requires = "force")]
    pub reason: Option<String>,
}

impl From<&ListFlags> for ListArgs {
    fn from(flags: &ListFlags) -> Self {
        ListArgs {
            env: flags.env.clone(),
        }
    }
}

impl TryFrom<&HistoryFlags> for HistoryArgs {
    type Error = Error;
    fn try_from(flags: &HistoryFlags) -> Result<Self> {
        Ok(HistoryArgs {
            env: flags.env.clone(),
            limit: flags.limit,
            since: optional(&flags.since, |text| {
                duration::parse_positive("--since", text)
            })?,
        })
    }
}

impl TryFrom<&LockFlags> for LockArgs {
    type Error = Error;
    fn try_from(flags: &LockFlags) -> Result<Self> {
        let timeout = optional(&flags.timeout, |text| duration::parse("--timeout", text))?;
        Ok(LockArgs {
            env: flags.envs.clone().into(),
            user: flags.user.clone(),
            holder: flags.holder.clone(),
            meta: flags.meta.clone(),
            uberlock: flags.uberlock,
            ttl: optional(&flags.ttl, |text| duration::parse_positive("--ttl", text))?,
            wait: input::wait(timeout, flags.no_wait, "--timeout and --no-wait")?,
            poll_interval: optional(&flags.poll_interval, |text| {
                duration::parse_positive("--poll-interval", text)
            })?,
            supersede: flags.supersede,
        })
    }
}

impl TryFrom<&RunFlags> for RunArgs {
    type Error = Error;
    fn try_from(flags: &RunFlags) -> Result<Self> {
        Ok(RunArgs {
            lock: (&flags.lock).try_into()?,
            kill_after: optional(&flags.kill_after, |text| {
                duration::parse_positive("--kill-after", text)
            })?,
            command: flags.command.clone(),
        })
    }
}

/// A flag's text read by `parse`, when the flag is given.
pub(super) fn optional<T>(
    text: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<Option<T>> {
    text.as_deref().map(parse).transpose()
}

impl From<&ReleaseFlags> for ReleaseArgs {
    fn from(flags: &ReleaseFlags) -> Self {
        ReleaseArgs {
            env: flags.envs.clone().into(),
            user: flags.user.clone(),
            holder: flags.holder.clone(),
            uberlock: flags.uberlock,
            force: flags.force,
            reason: flags.reason.clone(),
        }
    }
}
