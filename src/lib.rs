//! daplaya: deploy locks and a registry of running jobs.
//!
//! This file holds the napi exports only: thin conversions between JS values and the core.
//! Everything else is plain Rust that `cargo test` reaches without Node.

pub mod caller;
pub mod cli;
pub mod config;
pub mod duration;
pub mod error;
pub mod events;
pub mod human_time;
pub mod jobs;
pub mod locks;
pub mod model;
pub mod node;
pub mod ops;
pub mod run;
pub mod server;
pub mod slack;
pub mod store;

use napi::bindgen_prelude::{External, PromiseRaw};
use napi::{Env, Status};
use napi_derive::napi;

/// One Tokio worker thread instead of one per core: the addon's work is waiting on the network,
/// a child process or a timer (SQLite runs on blocking threads), and every worker costs resident
/// memory in each CLI process. Built when Node loads the addon, before napi would build its own.
#[napi_derive::module_init]
fn start_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("cannot start the Tokio runtime");
    napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
}

/// A handle JS raises to stop a running call: the CLI shim on SIGINT / SIGTERM (Node-API has no
/// signal API), index.js when a caller's `AbortSignal` aborts. Internal: not in the typings.
#[napi(skip_typescript)]
pub fn new_interrupt() -> External<run::Interrupt> {
    External::new(run::Interrupt::default())
}

/// Cancels waiting for a lock (the command exits 130, the call rejects). `signal`
/// (`'SIGINT'`, `'SIGTERM'`, `'SIGHUP'`; default `'SIGTERM'`) is passed on to the command
/// `locks run` (or `runLocked`) is running. Returns true when such a command receives it,
/// false when the signal only cancelled.
#[napi(skip_typescript)]
pub fn interrupt(handle: &External<run::Interrupt>, signal: Option<String>) -> napi::Result<bool> {
    let number = match signal.as_deref() {
        None => run::SIGTERM,
        Some(name) => run::signal_number(name).ok_or_else(|| {
            napi::Error::new(Status::InvalidArg, format!("unknown signal '{name}'"))
        })?,
    };
    Ok(handle.raise(number))
}

/// Runs a command line (arguments after the program name) and resolves to its exit code.
#[napi(skip_typescript)]
pub fn run_cli<'env>(
    env: &'env Env,
    argv: Vec<String>,
    interrupt: &External<run::Interrupt>,
) -> napi::Result<PromiseRaw<'env, i32>> {
    let interrupt = run::Interrupt::clone(interrupt);
    env.spawn_future(async move {
        let mut console = cli::console::Console::stdio(&config::process_env);
        let code = cli::run(argv, &mut console, &config::process_env, &interrupt).await;
        // Told and shown already: only the events still being delivered hold the exit back.
        events::settle(events::SETTLE_BOUND).await;
        Ok(code)
    })
}

/// Resolves once the events this process announced are delivered, or after
/// `events::SETTLE_BOUND`: index.js starts it after each call, unawaited, so that Node stays up
/// for their delivery without the call waiting for it. Internal: not in the typings.
#[napi(skip_typescript)]
pub fn settle_events(env: &Env) -> napi::Result<PromiseRaw<'_, ()>> {
    env.spawn_future(async {
        events::settle(events::SETTLE_BOUND).await;
        Ok(())
    })
}
