//! The command line: parse, validate, run, render. `run` can be called any number of times in
//! one process (the Node addon lives as long as the process) and leaves no state behind.

pub mod args;
pub mod console;
mod locks_run;
pub mod render;

use crate::config::{self, StoreChoice};
use crate::error::{exit, Error, Result};
use crate::model::{now_ms, Lock};
use crate::store::Store;
use crate::{jobs, locks, store};
use args::{Action, Cli};
use clap::Parser;
use console::Console;
use render::{JobList, Report};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs one command line (without the program name) and returns its exit code.
pub async fn run(
    argv: Vec<String>,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    interrupt: &crate::run::Interrupt,
) -> i32 {
    let cancel = interrupt.token();
    let wants_json = argv.iter().any(|a| a == "--json");
    let cli = match Cli::try_parse_from(std::iter::once("daplaya".to_string()).chain(argv)) {
        Ok(cli) => cli,
        Err(error) => return clap_failure(&error, console, wants_json),
    };
    console.quiet = cli.quiet;
    if let args::Command::Completions { shell } = &cli.command {
        console.out(&args::completions(*shell));
        return exit::OK;
    }
    if let args::Command::Locks(args::LocksCommand::Run(run_args)) = &cli.command {
        // The command owns stdout and its exit code becomes ours.
        return locks_run::run(&cli, run_args, console, env, interrupt).await;
    }
    if let args::Command::Slack(args::SlackCommand::Serve(serve)) = &cli.command {
        return match crate::server::run(serve, &cli, console, env, cancel).await {
            Ok(()) => exit::OK,
            Err(error) => failure(&error, cli.json, console),
        };
    }
    match execute(&cli, console, env, cancel).await {
        Ok(report) => {
            if cli.json {
                console.out(&render::json(&report).to_string());
            } else {
                let text = render::human(&report, now_ms(), console.out_style);
                console.out(&text);
            }
            exit::OK
        }
        Err(error) => failure(&error, cli.json, console),
    }
}

/// Shows an error (also as JSON with --json) and gives its exit code.
fn failure(error: &Error, json: bool, console: &mut Console) -> i32 {
    if json {
        console.out(&render::error_json(error).to_string());
    }
    let text = render::human_error(error, console.err_style);
    console.err(&text);
    error.exit_code()
}

/// Help and version are answers, not failures; any other clap error becomes our one-line form.
fn clap_failure(error: &clap::Error, console: &mut Console, wants_json: bool) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        console.out(error.to_string().trim_end());
        return exit::OK;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        console.err(error.to_string().trim_end());
        return exit::USAGE;
    }
    let rendered = error.to_string();
    // clap lists some details (the missing arguments) on indented lines under the first.
    let message = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.trim().trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ");
    let usage = rendered
        .lines()
        .find_map(|line| line.strip_prefix("Usage: "))
        .map(|usage| format!("usage: {usage} (see --help)"));
    let error = Error::Usage {
        message,
        hint: usage,
    };
    if wants_json {
        console.out(&render::error_json(&error).to_string());
    }
    let text = render::human_error(&error, console.err_style);
    console.err(&text);
    error.exit_code()
}

async fn execute(
    cli: &Cli,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    cancel: &CancellationToken,
) -> Result<Report> {
    let action = cli.action()?;
    let store = open_store(cli, console, env).await?;
    let style = console.err_style;
    let mut on_busy = |holder: &Lock, waited| {
        let live = render::waiting_status(holder, waited, now_ms(), style);
        console.waiting(&live, &render::still_locked(holder))
    };
    perform(action, store.as_ref(), cancel, &mut on_busy).await
}

/// Opens the store the flags and environment choose, saying so when nothing chose it.
pub async fn open_store(
    cli: &Cli,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Box<dyn Store>> {
    let choice = config::resolve(&cli.store_options(), env)?;
    if let StoreChoice::Sqlite {
        path,
        implicit: true,
    } = &choice
    {
        console.progress(&format!(
            "daplaya: using the embedded store at {} (set DAPLAYA_STORE or AWS settings to share locks)",
            path.display()
        ));
    }
    store::open(&choice).await
}

/// Carries out a validated action on a store; shared by the CLI and the JS API.
pub async fn perform(
    action: Action,
    store: &dyn Store,
    cancel: &CancellationToken,
    on_busy: &mut (dyn FnMut(&Lock, Duration) + Send),
) -> Result<Report> {
    Ok(match action {
        Action::Init => Report::Init {
            store: store.describe(),
            tables: store.init().await?,
        },
        Action::ListLocks { env } => Report::Locks {
            locks: locks::list(store, env.as_deref()).await?,
            env,
        },
        Action::Lock { request, policy } => {
            let (lock, acquired) = locks::lock(store, &request, policy, cancel, on_busy).await?;
            Report::Locked { lock, acquired }
        }
        Action::Release {
            env,
            user,
            uberlock,
        } => Report::Released(locks::release(store, &env, &user, uberlock).await?),
        Action::Run(request) => {
            // The JS API's `runLocked`: silent, the command's stdout is the caller's.
            let interrupt = crate::run::Interrupt::with_token(cancel.clone());
            let mut events = |event: crate::run::Event<'_>| {
                if let crate::run::Event::Busy(holder, waited) = event {
                    on_busy(holder, waited)
                }
            };
            let outcome = crate::run::run_locked(
                store,
                &request,
                &interrupt,
                crate::run::ChildStdout::Inherit,
                &mut events,
            )
            .await?;
            match outcome.failure {
                Some(crate::run::Failure::Lost(error) | crate::run::Failure::Release(error)) => {
                    return Err(error)
                }
                None => Report::Ran {
                    exit_code: outcome.command_exit,
                    lock: outcome.lock,
                },
            }
        }
        Action::StartJob {
            jobname,
            user,
            version,
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
