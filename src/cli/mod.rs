//! The command line: parse, validate, run, render. `run` can be called any number of times in
//! one process (the Node addon lives as long as the process) and leaves no state behind.

pub mod args;
pub mod console;
mod locks_run;
pub mod render;
mod usage;

use crate::caller::{Caller, ThisMachine, UserSource};
use crate::config::StoreOptions;
use crate::error::{exit, Error, Result};
use crate::locks::WaitProgress;
use crate::model::now_ms;
use crate::ops::open::{ChosenStore, Lifetime};
use crate::ops::report::{error_document, Report};
use crate::ops::{self, Action, Invocation, ServeRequest};
use crate::server::{self, ServerEvent};
use crate::store::Store;
use args::Cli;
use clap::Parser;
use console::Console;
use std::sync::Arc;
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
    let program = std::iter::once("daplaya".to_string());
    let cli = match Cli::try_parse_from(program.chain(argv.iter().cloned())) {
        Ok(cli) => cli,
        Err(error) => return clap_failure(&error, &argv, console, wants_json),
    };
    console.quiet = cli.quiet;
    let caller = Caller {
        env,
        machine: &ThisMachine,
        door_meta: "CLI",
    };
    let invocation = match cli.invocation(&caller) {
        Ok(invocation) => invocation,
        Err(error) => return failure(&error, cli.json, console),
    };
    let mut user_source = None;
    if let Invocation::Act { action, .. } = &invocation {
        if let Some((user, source)) = action.defaulted_user() {
            console.progress(&render::defaulted_user(user, source));
            user_source = Some(source);
        }
    }
    let result = match invocation {
        Invocation::Completions(shell) => {
            console.out(&args::completions(shell));
            return exit::OK;
        }
        Invocation::Act {
            action: Action::Run {
                request, listed, ..
            },
            store,
        } => {
            // The command owns stdout and its exit code becomes ours.
            let output = locks_run::Output {
                json: cli.json,
                user_source,
                listed,
            };
            return locks_run::run(&request, &store, output, console, env, interrupt).await;
        }
        Invocation::Serve { request, store } => {
            serve(&request, &store, cli.json, console, env, cancel).await
        }
        Invocation::Act { action, store } => {
            match execute(action, &store, console, env, interrupt).await {
                Ok(report) => {
                    show(&report, user_source, cli.json, console);
                    Ok(())
                }
                Err(error) => Err(error),
            }
        }
    };
    match result {
        Ok(()) => exit::OK,
        Err(error) => failure(&error, cli.json, console),
    }
}

/// A report on stdout: its JSON document with `--json`, else as text.
fn show(report: &Report, user_source: Option<UserSource>, json: bool, console: &mut Console) {
    if json {
        console.out(&report.to_json_from(user_source).to_string());
    } else {
        let text = render::human(report, now_ms(), console.out_style);
        console.out(&text);
    }
}

/// Shows an error (also as JSON with --json) and gives its exit code.
fn failure(error: &Error, json: bool, console: &mut Console) -> i32 {
    if json {
        console.out(&error_document(error).to_string());
    }
    let text = render::human_error(error, console.err_style);
    console.err(&text);
    error.exit_code()
}

/// Help and version are answers, not failures; any other clap error becomes our one-line form
/// (see [`usage`]).
fn clap_failure(
    error: &clap::Error,
    argv: &[String],
    console: &mut Console,
    wants_json: bool,
) -> i32 {
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
    let error = usage::usage_error(error, argv);
    if wants_json {
        console.out(&error_document(&error).to_string());
    }
    let text = render::human_error(&error, console.err_style);
    console.err(&text);
    error.exit_code()
}

async fn execute(
    action: Action,
    store: &StoreOptions,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    interrupt: &crate::run::Interrupt,
) -> Result<Report> {
    let store = open_store(store, console, env).await?;
    let mut on_wait = |progress: &WaitProgress| show_waiting(progress, console);
    ops::perform(action, store.as_ref(), Some(interrupt), &mut on_wait).await
}

/// A waiter's progress at a poll: its place in line and who is in the way, as the live line at
/// a terminal or a plain line in a CI log; and once, when it had to join the line again.
fn show_waiting(progress: &WaitProgress, console: &mut Console) {
    if progress.rejoined {
        console.progress(&render::rejoined(progress));
    }
    let live = render::waiting_status(progress, now_ms(), console.err_style);
    console.waiting(&live, &render::still_locked(progress))
}

/// `serve` / `slack serve`: answers until cancelled (the JS shim cancels on SIGINT / SIGTERM).
async fn serve(
    request: &ServeRequest,
    store: &StoreOptions,
    json: bool,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    cancel: &CancellationToken,
) -> Result<()> {
    // Checked before the store is opened: a missing Slack secret (`slack serve`) and an open
    // address without a dashboard token are refused first.
    let config = server::Config::from_env(request, env)?;
    let bound = server::bind(request, &config).await?;
    let store = open_store(store, console, env).await?;
    server::run(
        bound,
        request,
        config,
        store,
        cancel,
        &mut |event| match event {
            ServerEvent::Listening(serving) => {
                show(&Report::Serving(serving.clone()), None, json, console)
            }
            ServerEvent::Log(line) => console.err(line),
        },
    )
    .await?;
    console.err("daplaya: server stopped");
    Ok(())
}

/// Opens the store the flags and environment choose, saying so when nothing chose it.
async fn open_store(
    options: &StoreOptions,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Arc<dyn Store>> {
    let chosen = ChosenStore::choose(options, env)?;
    if let Some(notice) = chosen.notice() {
        console.progress(&render::notice(&notice));
    }
    chosen.open(Lifetime::Call).await
}
