//! The Node API behind `require('daplaya')`: one async function per operation, a typed options
//! object in, the document `--json` prints out. napi generates `binding.d.ts` from these
//! signatures and types; index.js adds `error.code`, `AbortError` and the `signal` handle.
//!
//! Adding a function: write it here (options type in options.rs, result in results.rs) and
//! name it once in index.mjs.

mod abort;
mod options;
mod results;

use crate::config::{self, StoreOptions};
use crate::error::{Error, Result};
use crate::ops::input::{
    EndArgs, GetArgs, ListArgs, LockArgs, ReleaseArgs, RunArgs, StartArgs, WindowArgs,
};
use crate::ops::open::{ChosenStore, Lifetime};
use crate::ops::{perform, Action};
use crate::run::Interrupt;
use abort::Abort;
use napi::Status;
use napi_derive::napi;
use options::*;
use results::*;

/// Errors cross to JS as `[CODE] message`; index.js turns the prefix into `error.code`, which
/// async napi functions cannot set themselves.
pub(crate) fn js_error(error: &Error) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("[{}] {error}", error.code()),
    )
}

/// Creates the tables (safe to run again).
#[napi]
pub async fn init(options: Option<InitOptions>) -> napi::Result<InitResult> {
    let options = options.unwrap_or_default();
    call(&options.store_options(), Ok(Action::Init), None).await
}

/// Active locks, sorted by env.
#[napi]
pub async fn list_locks(options: Option<ListLocksOptions>) -> napi::Result<Vec<Lock>> {
    let options = options.unwrap_or_default();
    let action = ListArgs {
        env: options.env.clone(),
    }
    .action();
    call(&options.store_options(), action, None).await
}

/// Takes the lock on an env, waiting (silently) while someone else holds it.
#[napi(ts_return_type = "Promise<Lock & Acquisition>")]
pub async fn lock(options: LockOptions) -> napi::Result<LockResult> {
    let action = match options.kill_after {
        Some(_) => Err(Error::usage(
            "killAfter is an option of runLocked: lock runs no command",
        )),
        None => lock_args(&options).action(),
    };
    call(&options.store_options(), action, options.signal.as_ref()).await
}

/// Releases your lock on an env.
#[napi]
pub async fn release(options: ReleaseOptions) -> napi::Result<ReleaseResult> {
    let action = ReleaseArgs {
        env: options.env.clone(),
        user: options.user.clone(),
        uberlock: options.uberlock.unwrap_or_default(),
    }
    .action();
    call(&options.store_options(), action, None).await
}

/// `daplaya locks run` as a function: takes the lock (waiting silently, as `lock` does), runs
/// `command` (`[program, ...args]`, no shell; stdio inherited) with `DAPLAYA_LOCK_ID`,
/// `DAPLAYA_ENV` and `DAPLAYA_FENCING_TOKEN` in its environment, renews the lease every third
/// of `ttl` while it runs, and releases the lock when it exits. Rejects with `LEASE_LOST` (or
/// `STORE_UNAVAILABLE` when no renewal got through before the lease ran out) after sending the
/// command SIGTERM (and SIGKILL `killAfter` later if it is still running), and with the
/// errors of `lock` before the command starts (`COMMAND_NOT_FOUND` or `CANNOT_EXECUTE` when it
/// cannot start; nothing stays locked). The command runs in its own process group; on Linux it
/// gets SIGTERM if this Node process dies. Signals to this Node process are not forwarded.
#[napi]
pub async fn run_locked(
    options: LockOptions,
    command: Vec<String>,
) -> napi::Result<RunLockedResult> {
    let action = RunArgs {
        lock: lock_args(&options),
        kill_after: duration_text(&options.kill_after),
        command,
    }
    .action();
    let abort = options.signal.as_ref();
    let result = call(&options.store_options(), action, abort).await?;
    if abort.is_some_and(|abort| abort.0.token().is_cancelled()) {
        // Aborted while the command ran: it was stopped and the lock released; the caller
        // asked for the call to end, so it ends as an abort.
        return Err(js_error(&Error::Interrupted));
    }
    Ok(result)
}

/// Records a running job.
#[napi]
pub async fn start_job(options: StartJobOptions) -> napi::Result<Job> {
    let action = StartArgs {
        jobname: options.jobname.clone(),
        user: options.user.clone(),
        gitversion: options.gitversion.clone(),
    }
    .action();
    call(&options.store_options(), action, None).await
}

/// The most recent job of a jobname at a version; rejects with `NOT_FOUND`.
#[napi]
pub async fn get_job(options: GetJobOptions) -> napi::Result<Job> {
    let action = GetArgs {
        jobname: options.jobname.clone(),
        gitversion: options.gitversion.clone(),
    }
    .action();
    call(&options.store_options(), action, None).await
}

/// Ends the most recent running job of a version.
#[napi]
pub async fn end_job(options: EndJobOptions) -> napi::Result<EndJobResult> {
    let action = EndArgs {
        words: Vec::new(),
        gitversion: Some(options.gitversion.clone()),
        jobname: options.jobname.clone(),
        user: options.user.clone(),
        skipped: options.skipped.unwrap_or_default(),
    }
    .action();
    call(&options.store_options(), action, None).await
}

/// Jobs of a jobname not ended, started within `ttl`, newest first.
#[napi]
pub async fn active_jobs(options: JobWindowOptions) -> napi::Result<Vec<Job>> {
    let action = window_args(&options).active();
    call(&options.store_options(), action, None).await
}

/// Skipped jobs of a jobname started within `ttl`, newest first.
#[napi]
pub async fn skipped_jobs(options: JobWindowOptions) -> napi::Result<Vec<Job>> {
    let action = window_args(&options).skipped();
    call(&options.store_options(), action, None).await
}

/// Answers a Slack slash command (`request`: `{ headers, body }`, the body raw) as
/// `daplaya slack serve` does. Verifies the signature and timestamp first; a refused request
/// touches no store. Never waits on a lock; store work is bounded by 2.5 s. Rejects with
/// `INVALID_ARGUMENT` when no signing secret is configured.
#[napi(
    ts_args_type = "request: { headers?: Record<string, string | string[] | undefined>, body?: string }, options?: SlackHandlerOptions"
)]
pub async fn handle_slack_command(
    request: serde_json::Value,
    options: Option<SlackHandlerOptions>,
) -> napi::Result<SlackResponse> {
    let options = options.unwrap_or_default();
    let settings = serde_json::json!({
        "signingSecret": options.signing_secret,
        "appId": options.app_id,
        "store": options.store,
        "region": options.region,
        "endpoint": options.endpoint,
        "locksTable": options.locks_table,
        "jobsTable": options.jobs_table,
    });
    let response = crate::slack::handle_js(request, settings, &config::process_env)
        .await
        .map_err(|e| js_error(&e))?;
    Ok(SlackResponse::from_json(response))
}

/// Locks taken from scripts say so unless the caller says more.
fn lock_args(options: &LockOptions) -> LockArgs {
    LockArgs {
        env: options.env.clone(),
        user: options.user.clone(),
        meta: options.meta.clone().or_else(|| Some("API".into())),
        uberlock: options.uberlock.unwrap_or_default(),
        ttl: duration_text(&options.ttl),
        timeout: duration_text(&options.timeout),
        no_wait: options.no_wait.unwrap_or_default(),
        poll_interval: duration_text(&options.poll_interval),
    }
}

fn window_args(options: &JobWindowOptions) -> WindowArgs {
    WindowArgs {
        jobname: options.jobname.clone(),
        ttl: duration_text(&options.ttl),
    }
}

/// Carries out one validated action and gives its report as the function's result. The API
/// prints nothing: waiting is silent, bounded by `timeout` or ended by `signal`.
async fn call<T: FromReport>(
    store_options: &StoreOptions,
    action: Result<Action>,
    abort: Option<&Abort>,
) -> napi::Result<T> {
    let never = Interrupt::default();
    let interrupt = abort.map_or(&never, |abort| &abort.0);
    let report = async {
        let action = action?;
        let chosen = ChosenStore::choose(store_options, &config::process_env)?;
        // Shared: a script's calls reuse one DynamoDB client and its kept-alive connection.
        let store = chosen.open(Lifetime::Shared).await?;
        perform(action, store.as_ref(), interrupt, &mut |_, _| {}).await
    }
    .await
    .map_err(|e| js_error(&e))?;
    T::from_report(report).ok_or_else(|| js_error(&Error::Store("unexpected report".into())))
}
