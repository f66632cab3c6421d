//! `locks run` on the command line. The command owns stdout (with `--json` its stdout goes to
//! stderr, and ours carries one document at the end); our progress goes to stderr; the exit
//! code is the command's (see `run::RunOutcome::exit_code`).

use super::console::Console;
use super::render;
use super::{failure, open_store, show_waiting};
use crate::caller::UserSource;
use crate::config::StoreOptions;
use crate::model::now_ms;
use crate::ops::report::{error_document, Report};
use crate::run::{self, ChildStdout, Event, Interrupt, RunRequest};

/// How the end of a run is shown: with `--json`, one document (saying where a defaulted user
/// came from).
pub struct Output {
    pub json: bool,
    pub user_source: Option<UserSource>,
    /// Several `--env`: the document lists the locks.
    pub listed: bool,
}

pub async fn run(
    request: &RunRequest,
    store: &StoreOptions,
    output: Output,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    interrupt: &Interrupt,
) -> i32 {
    let json = output.json;
    let store = match open_store(store, console, env).await {
        Ok(store) => store,
        Err(error) => return failure(&error, json, console),
    };
    let stdout = if json {
        ChildStdout::ToStderr
    } else {
        ChildStdout::Inherit
    };
    let style = console.err_style;
    let result = run::run_locked(store.as_ref(), request, interrupt, stdout, &mut |event| {
        let line = |event| render::run_event(event, now_ms(), style);
        match event {
            Event::Waiting(progress) => show_waiting(progress, console),
            Event::Locked(_) | Event::Released(_) => console.progress(&line(&event)),
            _ => console.err(&line(&event)),
        }
    })
    .await;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return failure(&error, json, console),
    };
    // A lost lock or a failed release was announced on stderr as it happened.
    if json {
        let document = match outcome.failure_error() {
            Some(error) => error_document(error),
            None => Report::Ran {
                exit_code: outcome.command_exit,
                locks: outcome.locks.clone(),
                listed: output.listed,
            }
            .to_json_from(output.user_source),
        };
        console.out(&document.to_string());
    }
    outcome.exit_code()
}
