//! daplaya: deploy locks and a registry of running jobs.
//!
//! This file holds the napi exports only: thin conversions between JS values and the core.
//! Everything else is plain Rust that `cargo test` reaches without Node.

pub mod api;
pub mod cli;
pub mod config;
pub mod duration;
pub mod error;
pub mod human_time;
pub mod jobs;
pub mod locks;
pub mod model;
pub mod ops;
pub mod run;
pub mod server;
pub mod slack;
pub mod store;

use api::Operation;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Status};
use napi_derive::napi;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Lets JS stop a running command: the CLI shim calls `cancel(name)` on SIGINT / SIGTERM
/// (Node-API has no signal API).
#[napi]
pub struct CancelSignal {
    interrupt: run::Interrupt,
}

#[napi]
impl CancelSignal {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CancelSignal {
            interrupt: run::Interrupt::default(),
        }
    }

    /// Cancels waiting for a lock (the command exits 130). `signal` (`'SIGINT'`, `'SIGTERM'`,
    /// `'SIGHUP'`; default `'SIGTERM'`) is passed on to the command `locks run` is running.
    /// Returns true when such a command receives it, false when the signal only cancelled.
    #[napi]
    pub fn cancel(&self, signal: Option<String>) -> napi::Result<bool> {
        let number = match signal.as_deref() {
            None => run::SIGTERM,
            Some(name) => run::signal_number(name).ok_or_else(|| {
                napi::Error::new(Status::InvalidArg, format!("unknown signal '{name}'"))
            })?,
        };
        Ok(self.interrupt.raise(number))
    }
}

/// Runs a command line (arguments after the program name) and resolves to its exit code.
#[napi]
pub fn run_cli<'env>(
    env: &'env Env,
    argv: Vec<String>,
    signal: &CancelSignal,
) -> napi::Result<PromiseRaw<'env, i32>> {
    let interrupt = signal.interrupt.clone();
    env.spawn_future(async move {
        let mut console = cli::console::Console::stdio(&config::process_env);
        Ok(cli::run(argv, &mut console, &config::process_env, &interrupt).await)
    })
}

/// Errors cross to JS as `[CODE] message`; index.js turns the prefix into `error.code`, which
/// async napi functions cannot set themselves.
async fn call(operation: Operation, options: Option<Value>) -> napi::Result<Value> {
    let never = CancellationToken::new();
    api::call(operation, options.unwrap_or(Value::Null), &never)
        .await
        .map_err(|e| napi::Error::new(Status::GenericFailure, format!("[{}] {e}", e.code())))
}

#[napi(ts_args_type = "options?: object", ts_return_type = "Promise<unknown>")]
pub async fn init(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::Init, options).await
}

#[napi(ts_args_type = "options?: object", ts_return_type = "Promise<unknown>")]
pub async fn list_locks(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::ListLocks, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn lock(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::Lock, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn release(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::Release, options).await
}

/// `locks run` as a function: takes the lock, runs `command` (stdio inherited), releases.
#[napi(
    ts_args_type = "options: object, command: string[]",
    ts_return_type = "Promise<unknown>"
)]
pub async fn run_locked(options: Option<Value>, command: Vec<String>) -> napi::Result<Value> {
    let mut options = match options {
        Some(Value::Object(options)) => options,
        _ => Default::default(),
    };
    options.insert("command".into(), command.into());
    call(Operation::RunLocked, Some(Value::Object(options))).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn start_job(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::StartJob, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn get_job(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::GetJob, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn end_job(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::EndJob, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn active_jobs(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::ActiveJobs, options).await
}

#[napi(ts_args_type = "options: object", ts_return_type = "Promise<unknown>")]
pub async fn skipped_jobs(options: Option<Value>) -> napi::Result<Value> {
    call(Operation::SkippedJobs, options).await
}

/// Answers a Slack slash command: `request` is `{ headers, body }` (body: the raw string),
/// `options` the signing secret, app id and store options. Resolves to `{ status, headers, body }`.
#[napi(
    ts_args_type = "request: { headers?: Record<string, string | string[] | undefined>, body?: string }, options?: object",
    ts_return_type = "Promise<{ status: number, headers: Record<string, string>, body: string }>"
)]
pub async fn handle_slack_command(request: Value, options: Option<Value>) -> napi::Result<Value> {
    let options = options.unwrap_or(Value::Null);
    slack::handle_js(request, options, &config::process_env)
        .await
        .map_err(|e| napi::Error::new(Status::GenericFailure, format!("[{}] {e}", e.code())))
}
