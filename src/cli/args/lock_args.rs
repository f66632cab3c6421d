//! The flags of `locks ...` and their validation.

use super::{duration_text, Action};
use crate::duration;
use crate::error::{Error, Result};
use crate::locks::{self, LockRequest, Wait, WaitPolicy};
use crate::model;
use crate::run::RunRequest;
use clap::{Args, Subcommand};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// List active locks (all envs when --env is left out)
    #[command(after_help = "Example:\n  daplaya locks list --env production")]
    List(ListArgs),
    /// Take the lock on an env, waiting while someone else holds it
    #[command(
        after_help = "Example:\n  daplaya locks lock --env production --user \"$GIT_COMMITTER_EMAIL\" --meta \"$CI_JOB_URL\" --timeout 30m"
    )]
    Lock(LockArgs),
    /// Release your lock on an env
    #[command(
        after_help = "Example:\n  daplaya locks release --env production --user \"$GIT_COMMITTER_EMAIL\""
    )]
    Release(ReleaseArgs),
    /// Run a command while holding the lock: wait for it, renew it, release it at the end
    #[command(
        after_help = "The command gets DAPLAYA_LOCK_ID, DAPLAYA_ENV and DAPLAYA_FENCING_TOKEN in its \
            environment. daplaya exits with its exit code (128+N when signal N ended it), or 1 when \
            the lock was lost meanwhile (the command is sent SIGTERM).\n\nExample:\n  daplaya locks run --env production --user \"$GIT_COMMITTER_EMAIL\" --timeout 30m -- ./deploy.sh"
    )]
    Run(RunArgs),
}

// Every argument struct is also the options object of the matching JS function, so both
// front doors share one validation. Missing required fields arrive empty and are refused there.

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListArgs {
    #[arg(long)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LockArgs {
    #[arg(long)]
    pub env: String,
    #[arg(long)]
    pub user: String,
    /// What the lock is for, e.g. the CI job URL [default: CLI]
    #[arg(long)]
    pub meta: Option<String>,
    /// A lock that never expires, refuses everyone else at once and preempts a normal holder
    #[arg(long)]
    pub uberlock: bool,
    /// Lease length, renewed by locking again [default: 20m]
    #[arg(long, value_name = "DUR")]
    #[serde(deserialize_with = "duration_text")]
    pub ttl: Option<String>,
    /// Give up waiting after this long [default: wait forever]
    #[arg(long, value_name = "DUR", conflicts_with = "no_wait")]
    #[serde(deserialize_with = "duration_text")]
    pub timeout: Option<String>,
    /// Try once; exit 3 if someone else holds the env
    #[arg(long)]
    pub no_wait: bool,
    /// How often to try again while waiting [default: 5s]
    #[arg(long, value_name = "DUR")]
    #[serde(deserialize_with = "duration_text")]
    pub poll_interval: Option<String>,
}

/// `locks run`: the flags of `locks lock`, then the command after `--`.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RunArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub lock: LockArgs,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReleaseArgs {
    #[arg(long)]
    pub env: String,
    #[arg(long)]
    pub user: String,
    /// Release an uberlock (required for one)
    #[arg(long)]
    pub uberlock: bool,
}

impl ListArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::ListLocks {
            env: self.env.as_deref().map(model::env_name).transpose()?,
        })
    }
}

impl LockArgs {
    pub fn action(&self) -> Result<Action> {
        lock_action(self)
    }
}

impl RunArgs {
    pub fn action(&self) -> Result<Action> {
        self.request().map(Action::Run)
    }

    pub fn request(&self) -> Result<RunRequest> {
        let (request, policy) = lock_parts(&self.lock)?;
        if self
            .command
            .first()
            .is_none_or(|program| program.is_empty())
        {
            return Err(Error::usage_with_hint(
                "locks run needs a command to run",
                "daplaya locks run --env <ENV> --user <USER> -- <command> [args...]",
            ));
        }
        Ok(RunRequest {
            lock: request,
            policy,
            command: self.command.clone(),
        })
    }
}

impl ReleaseArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::Release {
            env: model::env_name(&self.env)?,
            user: model::user_name(&self.user)?,
            uberlock: self.uberlock,
        })
    }
}

fn lock_action(args: &LockArgs) -> Result<Action> {
    let (request, policy) = lock_parts(args)?;
    Ok(Action::Lock { request, policy })
}

fn lock_parts(args: &LockArgs) -> Result<(LockRequest, WaitPolicy)> {
    let optional = |flag: &str, value: &Option<String>, default: Duration| {
        value
            .as_deref()
            .map_or(Ok(default), |text| duration::parse_positive(flag, text))
    };
    let wait = match (&args.timeout, args.no_wait) {
        (Some(_), true) => {
            return Err(Error::usage("--timeout and --no-wait exclude each other"));
        }
        (None, true) => Wait::No,
        (Some(text), false) => Wait::Until(duration::parse("--timeout", text)?),
        (None, false) => Wait::Forever,
    };
    Ok((
        LockRequest {
            env: model::env_name(&args.env)?,
            user: model::user_name(&args.user)?,
            meta: model::meta(args.meta.as_deref().unwrap_or("CLI"))?,
            uberlock: args.uberlock,
            ttl: optional("--ttl", &args.ttl, locks::DEFAULT_TTL)?,
        },
        WaitPolicy {
            wait,
            poll_interval: optional(
                "--poll-interval",
                &args.poll_interval,
                locks::DEFAULT_POLL_INTERVAL,
            )?,
        },
    ))
}
