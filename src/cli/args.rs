//! Raw command-line flags (clap), and their conversion into validated actions: the rest of the
//! program never sees a half-checked value.

use crate::config::StoreOptions;
use crate::duration;
use crate::error::{Error, Result};
use crate::jobs::{self, EndRequest};
use crate::locks::{self, LockRequest, Wait, WaitPolicy};
use crate::model;
use crate::run::RunRequest;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "daplaya",
    version,
    about = "Deploy locks per environment and a registry of running jobs, on DynamoDB or an embedded store",
    disable_help_subcommand = true,
    propagate_version = true
)]
pub struct Cli {
    /// Print one JSON document on stdout and nothing else there
    #[arg(long, global = true)]
    pub json: bool,

    /// Where locks live: `dynamodb` or `sqlite:<path>` [env: DAPLAYA_STORE]
    #[arg(long, global = true, value_name = "STORE")]
    pub store: Option<String>,

    /// No progress on stderr (waiting, notices); results and errors still show
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the tables (safe to run again)
    #[command(after_help = "Example:\n  daplaya init")]
    Init,
    /// Take, release and list deploy locks
    #[command(
        subcommand,
        after_help = "Example:\n  daplaya locks lock --env production --user me@example.com --no-wait"
    )]
    Locks(LocksCommand),
    /// Record and query running jobs
    #[command(
        subcommand,
        after_help = "Example:\n  daplaya jobs active --jobname deploy-prod"
    )]
    Jobs(JobsCommand),
    /// Answer Slack slash commands (/daplaya lock ...)
    #[command(
        after_help = "Example:\n  DAPLAYA_SLACK_SIGNING_SECRET=... daplaya slack serve --port 3000"
    )]
    #[command(subcommand)]
    Slack(SlackCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Example:\n  daplaya completions bash > /etc/bash_completion.d/daplaya"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "daplaya", &mut script);
    String::from_utf8_lossy(&script).trim_end().to_string()
}

#[derive(Debug, Subcommand)]
pub enum SlackCommand {
    /// Serve Slack slash commands on POST /slack/commands (needs DAPLAYA_SLACK_SIGNING_SECRET)
    #[command(
        after_help = "Example:\n  DAPLAYA_SLACK_SIGNING_SECRET=... daplaya slack serve --host 0.0.0.0 --port 3000"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
}

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

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Record a running job and print its id
    #[command(
        after_help = "Example:\n  daplaya jobs start --jobname deploy-prod --user \"$GIT_COMMITTER_EMAIL\" --gitversion \"$GIT_SHA\""
    )]
    Start(StartArgs),
    /// Show the most recent job of a jobname at a version
    #[command(
        after_help = "Example:\n  daplaya jobs get --jobname deploy-prod --gitversion \"$GIT_SHA\" --json"
    )]
    Get(GetArgs),
    /// End the most recent running job of a version (also: jobs end version <VERSION>)
    #[command(
        after_help = "Example:\n  daplaya jobs end --gitversion \"$GIT_SHA\" --jobname deploy-prod --skipped"
    )]
    End(EndArgs),
    /// List jobs of a jobname that have not ended, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs active --jobname deploy-prod --ttl 1h")]
    Active(WindowArgs),
    /// List skipped jobs of a jobname, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs skipped --jobname deploy-prod --ttl 2h")]
    Skipped(WindowArgs),
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StartArgs {
    #[arg(long)]
    pub jobname: String,
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetArgs {
    #[arg(long)]
    pub jobname: String,
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndArgs {
    /// The seeds' form: `version <VERSION>`
    #[arg(value_name = "version VERSION", num_args = 0..=2, hide = true)]
    #[serde(skip)]
    pub words: Vec<String>,
    #[arg(long)]
    pub gitversion: Option<String>,
    #[arg(long)]
    pub jobname: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Mark the job as skipped
    #[arg(long)]
    pub skipped: bool,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WindowArgs {
    #[arg(long)]
    pub jobname: String,
    /// How far back to look [default: 50m]
    #[arg(long, value_name = "DUR")]
    #[serde(deserialize_with = "duration_text")]
    pub ttl: Option<String>,
}

/// JS callers may give a duration as milliseconds (a number) or as text (`"30s"`).
fn duration_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Millis(u64),
        Text(String),
    }
    Ok(Option::<Given>::deserialize(de)?.map(|given| match given {
        Given::Millis(ms) => ms.to_string(),
        Given::Text(text) => text,
    }))
}

/// A command whose every value has been checked.
#[derive(Debug, Clone)]
pub enum Action {
    Init,
    ListLocks {
        env: Option<String>,
    },
    Lock {
        request: LockRequest,
        policy: WaitPolicy,
    },
    Release {
        env: String,
        user: String,
        uberlock: bool,
    },
    Run(RunRequest),
    StartJob {
        jobname: String,
        user: String,
        version: String,
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

impl Cli {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            store: self.store.clone(),
            ..StoreOptions::default()
        }
    }

    pub fn action(&self) -> Result<Action> {
        match &self.command {
            Command::Init => Ok(Action::Init),
            Command::Locks(LocksCommand::List(args)) => args.action(),
            Command::Locks(LocksCommand::Lock(args)) => args.action(),
            Command::Locks(LocksCommand::Release(args)) => args.action(),
            Command::Locks(LocksCommand::Run(args)) => args.action(),
            Command::Jobs(JobsCommand::Start(args)) => args.action(),
            Command::Jobs(JobsCommand::Get(args)) => args.action(),
            Command::Jobs(JobsCommand::End(args)) => args.action(),
            Command::Jobs(JobsCommand::Active(args)) => args.active(),
            Command::Jobs(JobsCommand::Skipped(args)) => args.skipped(),
            // Not store actions: `cli::run` handles them before any store is opened.
            Command::Slack(SlackCommand::Serve(_)) => Err(Error::usage(
                "`slack serve` runs a server; it is not a store action",
            )),
            Command::Completions { .. } => Err(Error::usage(
                "`completions` prints a script; it is not a store action",
            )),
        }
    }
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

impl StartArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::StartJob {
            jobname: model::job_name(&self.jobname)?,
            user: model::user_name(&self.user)?,
            version: model::git_version(&self.gitversion)?,
        })
    }
}

impl GetArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::GetJob {
            jobname: model::job_name(&self.jobname)?,
            version: model::git_version(&self.gitversion)?,
        })
    }
}

impl EndArgs {
    pub fn action(&self) -> Result<Action> {
        let version = end_version(&self.words, self.gitversion.as_deref())?;
        Ok(Action::EndJob(EndRequest {
            version: model::git_version(&version)?,
            jobname: self.jobname.as_deref().map(model::job_name).transpose()?,
            user: self.user.as_deref().map(model::user_name).transpose()?,
            skipped: self.skipped,
        }))
    }
}

impl WindowArgs {
    pub fn active(&self) -> Result<Action> {
        Ok(Action::ActiveJobs {
            jobname: model::job_name(&self.jobname)?,
            window: window(self)?,
        })
    }

    pub fn skipped(&self) -> Result<Action> {
        Ok(Action::SkippedJobs {
            jobname: model::job_name(&self.jobname)?,
            window: window(self)?,
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

fn window(args: &WindowArgs) -> Result<Duration> {
    args.ttl
        .as_deref()
        .map_or(Ok(jobs::DEFAULT_WINDOW), |text| {
            duration::parse_positive("--ttl", text)
        })
}

/// `jobs end` takes the version as `--gitversion V` or, as the seeds wrote it, `version V`.
fn end_version(words: &[String], gitversion: Option<&str>) -> Result<String> {
    let positional = match words {
        [] => None,
        [keyword, version] if keyword == "version" => Some(version.as_str()),
        _ => {
            return Err(Error::usage_with_hint(
                format!("unexpected argument '{}'", words.join(" ")),
                "use: daplaya jobs end --gitversion <VERSION> (or: jobs end version <VERSION>)",
            ))
        }
    };
    match (positional, gitversion) {
        (Some(_), Some(_)) => Err(Error::usage(
            "give the version once: either `version <VERSION>` or --gitversion",
        )),
        (Some(version), None) | (None, Some(version)) => Ok(version.to_string()),
        (None, None) => Err(Error::usage_with_hint(
            "jobs end needs a version",
            "use: daplaya jobs end --gitversion <VERSION> [--jobname <JOBNAME>] [--skipped]",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(args: &[&str]) -> Result<Action> {
        let cli = Cli::try_parse_from(std::iter::once("daplaya").chain(args.iter().copied()))
            .map_err(|e| Error::usage(e.to_string()))?;
        cli.action()
    }

    #[test]
    fn lock_defaults_follow_the_contract() {
        let Action::Lock { request, policy } =
            action(&["locks", "lock", "--env", " Prod ", "--user", "Me"]).unwrap()
        else {
            panic!("a lock action")
        };
        assert_eq!(
            (request.env.as_str(), request.user.as_str()),
            ("prod", "me")
        );
        assert_eq!(request.meta, "CLI");
        assert_eq!(request.ttl, locks::DEFAULT_TTL);
        assert_eq!(policy.wait, Wait::Forever);
        assert_eq!(policy.poll_interval, locks::DEFAULT_POLL_INTERVAL);
    }

    #[test]
    fn timeout_and_no_wait_exclude_each_other() {
        assert!(action(&[
            "locks",
            "lock",
            "--env",
            "e",
            "--user",
            "u",
            "--timeout",
            "1s",
            "--no-wait"
        ])
        .is_err());
        let Action::Lock { policy, .. } = action(&[
            "locks",
            "lock",
            "--env",
            "e",
            "--user",
            "u",
            "--timeout",
            "30s",
        ])
        .unwrap() else {
            panic!("a lock action")
        };
        assert_eq!(policy.wait, Wait::Until(Duration::from_secs(30)));
    }

    #[test]
    fn jobs_end_takes_the_seeds_form_and_the_flag() {
        for args in [
            &["jobs", "end", "version", "abc123", "--skipped"][..],
            &["jobs", "end", "--gitversion", "abc123", "--skipped"][..],
        ] {
            let Action::EndJob(request) = action(args).unwrap() else {
                panic!("an end action")
            };
            assert_eq!(request.version, "abc123");
            assert!(request.skipped);
        }
        assert!(action(&["jobs", "end"]).is_err());
        assert!(action(&["jobs", "end", "release", "abc"]).is_err());
        assert!(action(&["jobs", "end", "version", "a", "--gitversion", "b"]).is_err());
    }

    #[test]
    fn locks_run_takes_the_lock_flags_and_the_command_after_dashes() {
        let Action::Run(run) = action(&[
            "locks",
            "run",
            "--env",
            "Prod",
            "--user",
            "me",
            "--ttl",
            "30s",
            "--no-wait",
            "--",
            "deploy.sh",
            "--env",
            "x",
        ])
        .unwrap() else {
            panic!("a run action")
        };
        assert_eq!(run.lock.env, "prod");
        assert_eq!(run.lock.ttl, Duration::from_secs(30));
        assert_eq!(run.policy.wait, Wait::No);
        assert_eq!(run.command, ["deploy.sh", "--env", "x"]);
        for args in [
            &["locks", "run", "--env", "e", "--user", "u"][..],
            &["locks", "run", "--env", "e", "--user", "u", "--"][..],
            &["locks", "run", "--env", "e", "--user", "u", "deploy.sh"][..],
            &["locks", "run", "--env", "", "--user", "u", "--", "true"][..],
        ] {
            assert_eq!(
                action(args).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{args:?}"
            );
        }
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["locks", "lock", "--env", "", "--user", "u"][..],
            &[
                "locks", "lock", "--env", "e", "--user", "u", "--ttl", "soon",
            ][..],
            &[
                "locks",
                "lock",
                "--env",
                "e",
                "--user",
                "u",
                "--poll-interval",
                "0",
            ][..],
            &["jobs", "active", "--jobname", "j", "--ttl", "-1"][..],
        ] {
            assert_eq!(
                action(args).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{args:?}"
            );
        }
    }
}
