//! `locks run` on the command line. The command owns stdout (with `--json` its stdout goes to
//! stderr, and ours carries one document at the end); our progress goes to stderr; the exit
//! code is the command's (see `run::RunOutcome::exit_code`).

use super::args::{Cli, RunArgs};
use super::console::Console;
use super::render::{self, Report};
use super::{failure, open_store};
use crate::model::now_ms;
use crate::run::{self, ChildStdout, Event, Interrupt};

pub async fn run(
    cli: &Cli,
    args: &RunArgs,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    interrupt: &Interrupt,
) -> i32 {
    let request = match args.request() {
        Ok(request) => request,
        Err(error) => return failure(&error, cli.json, console),
    };
    let store = match open_store(cli, console, env).await {
        Ok(store) => store,
        Err(error) => return failure(&error, cli.json, console),
    };
    let stdout = if cli.json {
        ChildStdout::ToStderr
    } else {
        ChildStdout::Inherit
    };
    let style = console.err_style;
    let result = run::run_locked(store.as_ref(), &request, interrupt, stdout, &mut |event| {
        let now = now_ms();
        let line = render::run_event(&event, now, style);
        match event {
            Event::Busy(holder, waited) => {
                console.waiting(&render::waiting_status(holder, waited, now, style), &line)
            }
            Event::Locked(..) | Event::Released(_) => console.progress(&line),
            _ => console.err(&line),
        }
    })
    .await;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return failure(&error, cli.json, console),
    };
    // A lost lock or a failed release was announced on stderr as it happened.
    if cli.json {
        let document = match outcome.failure_error() {
            Some(error) => render::error_json(error),
            None => render::json(&Report::Ran {
                exit_code: outcome.command_exit,
                lock: outcome.lock.clone(),
            }),
        };
        console.out(&document.to_string());
    }
    outcome.exit_code()
}
