//! daplaya: deploy locks and a registry of running jobs.
//!
//! This file holds the napi exports only: thin conversions between JS values and the core.
//! Everything else is plain Rust that `cargo test` reaches without Node.

pub mod api;
pub mod cli;
pub mod config;
pub mod duration;
pub mod error;
pub mod jobs;
pub mod locks;
pub mod model;
pub mod store;

use api::Operation;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Status};
use napi_derive::napi;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Lets JS stop a running command (the CLI shim calls `cancel()` on SIGINT / SIGTERM).
#[napi]
pub struct CancelSignal {
    token: CancellationToken,
}

#[napi]
impl CancelSignal {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CancelSignal {
            token: CancellationToken::new(),
        }
    }

    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// Runs a command line (arguments after the program name) and resolves to its exit code.
#[napi]
pub fn run_cli<'env>(
    env: &'env Env,
    argv: Vec<String>,
    signal: &CancelSignal,
) -> napi::Result<PromiseRaw<'env, i32>> {
    let token = signal.token.clone();
    env.spawn_future(async move {
        let mut console = cli::console::Console::stdio(&config::process_env);
        Ok(cli::run(argv, &mut console, &config::process_env, &token).await)
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
