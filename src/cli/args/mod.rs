//! Raw command-line flags (clap), and their conversion into one validated
//! [`Invocation`]: the rest of the program never sees a half-checked value.

mod job_flags;
mod lock_flags;

pub use job_flags::{EndFlags, GetFlags, JobsCommand, StartFlags, WindowFlags};
pub use lock_flags::{
    HistoryFlags, ListFlags, LockFlags, LocksArgs, LocksCommand, ReleaseFlags, RunFlags,
};

use crate::caller::Caller;
use crate::config::StoreOptions;
use crate::error::{Error, Result};
use crate::ops::input::{
    EndArgs, GetArgs, HistoryArgs, ListArgs, LockArgs, ReleaseArgs, RunArgs, ServeArgs, StartArgs,
    WindowArgs,
};
use crate::ops::{Action, Invocation, Shell};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "daplaya",
    version,
    about = "Deploy locks per environment and a registry of running jobs, on DynamoDB or an embedded store",
    disable_help_subcommand = true,
    propagate_version = true,
    after_help = "Exit codes:\n  0      ok\n  1      store or runtime failure (unreachable store, lost lease)\n  2      bad usage or input\n  3      lock busy\n  4      uberlocked by someone else\n  5      not found\n  6      superseded: a newer waiter joined the line behind a --supersede waiter\n  7      held by another run of yours: release it from that run (or --holder), or --force\n  126    locks run: the command cannot be executed\n  127    locks run: no such command\n  128+N  locks run: the command died of signal N\n  130    interrupted while waiting"
)]
pub struct Cli {
    /// Print one JSON document on stdout and nothing else there
    #[arg(long, global = true)]
    pub json: bool,

    /// Where locks and jobs are kept: `dynamodb` or `sqlite:<path>` [env: DAPLAYA_STORE]
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
    /// Take, release and list deploy locks, and show their history
    #[command(
        after_help = "Example:\n  daplaya locks lock --env production --user me@example.com --no-wait"
    )]
    Locks(LocksArgs),
    /// Record and query running jobs
    #[command(
        subcommand,
        after_help = "Example:\n  daplaya jobs active --jobname deploy-prod"
    )]
    Jobs(JobsCommand),
    /// Serve the live page of locks and jobs, its JSON, metrics and Slack commands over HTTP
    #[command(
        after_help = "Example:\n  daplaya serve --jobname deploy-prod\n  DAPLAYA_DASHBOARD_TOKEN=$(openssl rand -hex 32) daplaya serve --host 0.0.0.0 --port 8080"
    )]
    Serve(ServeFlags),
    /// Answer Slack slash commands (/daplaya lock ...)
    #[command(
        after_help = "Example:\n  DAPLAYA_SLACK_SIGNING_SECRET=... daplaya slack serve --port 3000"
    )]
    #[command(subcommand)]
    Slack(SlackCommand),
    /// The first spec's `daplaya lock`: the same as `locks lock` (kept for compatibility)
    #[command(hide = true)]
    Lock(LockFlags),
    /// The first spec's `daplaya release`: the same as `locks release` (kept for compatibility)
    #[command(hide = true)]
    Release(ReleaseFlags),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Example:\n  daplaya completions bash > /etc/bash_completion.d/daplaya"
    )]
    Completions {
        /// The shell to print completions for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    use clap::CommandFactory;
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Elvish => clap_complete::Shell::Elvish,
        Shell::PowerShell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "daplaya", &mut script);
    String::from_utf8_lossy(&script).trim_end().to_string()
}

#[derive(Debug, Subcommand)]
pub enum SlackCommand {
    /// Serve Slack slash commands on POST /slack/commands, and the page (`serve` that needs DAPLAYA_SLACK_SIGNING_SECRET)
    #[command(
        after_help = "Example:\n  DAPLAYA_SLACK_SIGNING_SECRET=... daplaya slack serve --host 0.0.0.0 --port 3000"
    )]
    Serve(ServeFlags),
}

#[derive(Debug, Args)]
pub struct ServeFlags {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// A jobname whose running and skipped jobs the page shows (repeat for more)
    #[arg(long = "jobname", value_name = "JOBNAME")]
    pub jobnames: Vec<String>,
}

impl ServeFlags {
    fn args(&self, slack_required: bool) -> ServeArgs {
        ServeArgs {
            host: self.host.clone(),
            port: self.port,
            jobnames: self.jobnames.clone(),
            slack_required,
        }
    }
}

impl Cli {
    fn store_options(&self) -> StoreOptions {
        StoreOptions {
            store: self.store.clone(),
            ..StoreOptions::default()
        }
    }

    /// The command line as one validated invocation; `caller` gives the user and meta left out.
    pub fn invocation(&self, caller: &Caller) -> Result<Invocation> {
        let act = |action: Result<Action>| {
            Ok(Invocation::Act {
                action: action?,
                store: self.store_options(),
            })
        };
        match &self.command {
            Command::Init => act(Ok(Action::Init)),
            Command::Locks(LocksArgs { command, env }) => match command {
                // `arg_required_else_help` leaves only `--env` when there is no subcommand.
                None => act(ListArgs { env: env.clone() }.action()),
                Some(LocksCommand::List(flags)) => act(ListArgs::from(flags).action()),
                Some(LocksCommand::History(flags)) => {
                    act(HistoryArgs::try_from(flags).and_then(|args| args.action()))
                }
                Some(LocksCommand::Lock(flags)) => {
                    act(LockArgs::try_from(flags).and_then(|args| args.action(caller)))
                }
                Some(LocksCommand::Release(flags)) => act(ReleaseArgs::from(flags).action(caller)),
                Some(LocksCommand::Run(flags)) => {
                    act(RunArgs::try_from(flags).and_then(|args| args.action(caller)))
                }
            },
            Command::Lock(flags) => {
                act(LockArgs::try_from(flags).and_then(|args| args.action(caller)))
            }
            Command::Release(flags) => act(ReleaseArgs::from(flags).action(caller)),
            Command::Jobs(JobsCommand::Start(flags)) => act(StartArgs::from(flags).action(caller)),
            Command::Jobs(JobsCommand::Get(flags)) => act(GetArgs::from(flags).action()),
            Command::Jobs(JobsCommand::End(flags)) => act(EndArgs::from(flags).action()),
            Command::Jobs(JobsCommand::Active(flags)) => {
                act(WindowArgs::try_from(flags).and_then(|args| args.active()))
            }
            Command::Jobs(JobsCommand::Skipped(flags)) => {
                act(WindowArgs::try_from(flags).and_then(|args| args.skipped()))
            }
            Command::Serve(flags) => Ok(Invocation::Serve {
                request: flags.args(false).request()?,
                store: self.store_options(),
            }),
            Command::Slack(SlackCommand::Serve(flags)) => Ok(Invocation::Serve {
                request: flags.args(true).request()?,
                store: self.store_options(),
            }),
            Command::Completions { shell } => Ok(Invocation::Completions(match shell {
                clap_complete::Shell::Bash => Shell::Bash,
                clap_complete::Shell::Zsh => Shell::Zsh,
                clap_complete::Shell::Fish => Shell::Fish,
                clap_complete::Shell::Elvish => Shell::Elvish,
                clap_complete::Shell::PowerShell => Shell::PowerShell,
                other => return Err(Error::usage(format!("no completions for {other}"))),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::testing::FakeMachine;
    use crate::locks::{self, Wait};
    use std::time::Duration;

    fn action(args: &[&str]) -> Result<Action> {
        let cli = Cli::try_parse_from(std::iter::once("daplaya").chain(args.iter().copied()))
            .map_err(|e| Error::usage(e.to_string()))?;
        let nothing_known = FakeMachine {
            git: None,
            login: None,
        };
        let caller = Caller {
            env: &|_| None,
            machine: &nothing_known,
            door_meta: "CLI",
        };
        match cli.invocation(&caller)? {
            Invocation::Act { action, .. } => Ok(action),
            other => panic!("not a store action: {other:?}"),
        }
    }

    #[test]
    fn every_flag_and_argument_says_what_it_is_in_help() {
        use clap::CommandFactory;
        fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                undocumented(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "daplaya", &mut missing);
        assert!(missing.is_empty(), "no help for: {missing:?}");
    }

    #[test]
    fn lock_defaults_follow_the_contract() {
        let Action::Lock {
            request, policy, ..
        } = action(&["locks", "lock", "--env", " Prod ", "--user", "Me"]).unwrap()
        else {
            panic!("a lock action")
        };
        assert_eq!(
            (request.envs.as_slice(), request.user.as_str()),
            (&["prod".to_string()][..], "me")
        );
        assert!(!request.supersede);
        assert_eq!(request.meta, locks::Meta::Default("CLI".into()));
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
    fn env_repeats_in_order_and_supersede_is_a_flag_of_lock_and_run() {
        let Action::Lock {
            request, listed, ..
        } = action(&[
            "locks",
            "lock",
            "--env",
            "US",
            "--env",
            "eu",
            "--user",
            "u",
            "--supersede",
        ])
        .unwrap()
        else {
            panic!("a lock action")
        };
        assert_eq!(request.envs, ["us", "eu"]);
        assert!(request.supersede && listed);
        let Action::Run {
            request, listed, ..
        } = action(&[
            "locks",
            "run",
            "--env",
            "e",
            "--user",
            "u",
            "--supersede",
            "--",
            "true",
        ])
        .unwrap()
        else {
            panic!("a run action")
        };
        assert!(request.lock.supersede && !listed);
        let Action::Release {
            request, listed, ..
        } = action(&[
            "locks", "release", "--env", "a", "--env", "b", "--user", "u",
        ])
        .unwrap()
        else {
            panic!("a release action")
        };
        assert_eq!(
            (request.envs.as_slice(), listed),
            (&["a".to_string(), "b".into()][..], true)
        );
        for (args, message) in [
            (
                &["locks", "lock", "--env", "a", "--env", "A", "--user", "u"][..],
                "env a is given twice",
            ),
            (
                &["locks", "release", "--user", "u"][..],
                "the following required arguments were not provided:",
            ),
            (
                &["locks", "release", "--env", "a", "--supersede"][..],
                "unexpected argument '--supersede' found",
            ),
        ] {
            let error = action(args).unwrap_err();
            assert_eq!(error.code(), "INVALID_ARGUMENT", "{args:?}");
            assert!(error.to_string().contains(message), "{args:?}: {error}");
        }
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
        let Action::Run { request: run, .. } = action(&[
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
        assert_eq!(run.lock.envs, ["prod"]);
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
