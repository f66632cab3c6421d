//! The Node API behind `require('daplaya')`: one async function per operation, a typed options
//! object in, the document `--json` prints out. napi generates `binding.d.ts` from these
//! signatures and types; index.js adds `error.code`, `AbortError` and the `signal` handle.
//!
//! Adding a function: write it here (options type in options.rs, result in results.rs) and
//! name it once in index.mjs.

mod abort;
mod given;
mod options;
mod results;
mod shapes;

use crate::caller::{Caller, ThisMachine};
use crate::config::{self, StoreOptions};
use crate::error::{Error, Result};
use crate::ops::input::{
    self, EndArgs, GetArgs, HistoryArgs, ListArgs, LockArgs, ReleaseArgs, RunArgs, StartArgs,
    WindowArgs,
};
use crate::ops::open::{ChosenStore, Lifetime};
use crate::ops::{perform, Action};
use abort::Abort;
use napi::bindgen_prelude::Either;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Status;
use napi_derive::napi;
use options::*;
use results::*;
use shapes::*;

/// Errors cross to JS as `[CODE] message`, then the fields of a lock refusal as JSON after a
/// line break and an ASCII record separator; index.js turns the prefix into `error.code` and
/// the fields into properties of the error, which async napi functions cannot set themselves.
pub(crate) fn js_error(error: &Error) -> napi::Error {
    let fields = crate::ops::report::error_fields(error);
    let fields = match fields.is_empty() {
        true => String::new(),
        false => format!("\n\x1e{}", serde_json::Value::Object(fields)),
    };
    napi::Error::new(
        Status::GenericFailure,
        format!("[{}] {error}{fields}", error.code()),
    )
}

/// Creates the tables (safe to run again).
#[napi]
pub async fn init(options: Option<InitOptions>) -> napi::Result<InitResult> {
    let options = options.unwrap_or_default();
    call(&options.store_options(), |_| Ok(Action::Init)).await
}

/// Active locks, sorted by env.
#[napi]
pub async fn list_locks(options: Option<ListLocksOptions>) -> napi::Result<Vec<Lock>> {
    let options = options.unwrap_or_default();
    let args = ListArgs {
        env: options.env.clone(),
    };
    call(&options.store_options(), move |_| args.action()).await
}

/// The holds of an env, newest first (an env never locked has none); one store read.
#[napi]
pub async fn lock_history(options: LockHistoryOptions) -> napi::Result<Vec<Hold>> {
    let args = positive_duration("since", &options.since).map(|since| HistoryArgs {
        env: options.env.clone(),
        limit: options.limit,
        since,
    });
    call(&options.store_options(), move |_| args?.action()).await
}

/// Takes the lock on an env (or on several, all or none), waiting in line while someone else
/// holds it: silently, or telling `onWait` at each poll.
// index.d.ts declares it resolving to `LockResult` (or a list of them for a list of envs),
// which adds `DefaultedUser`.
#[napi(ts_return_type = "Promise<(Lock & Acquisition) | Array<Lock & Acquisition>>")]
pub async fn lock(options: LockOptions) -> napi::Result<WithUserSource<PerEnv<LockResult>>> {
    let args = lock_args(&options);
    let runs_nothing = options.kill_after.is_none();
    let validate = move |caller: &Caller| match runs_nothing {
        true => args?.action(caller),
        false => Err(Error::usage(
            "killAfter is an option of runLocked: lock runs no command",
        )),
    };
    let hooks = Hooks {
        abort: options.signal.as_ref(),
        on_wait: options.on_wait.as_ref(),
    };
    call_as(&options.store_options(), validate, hooks).await
}

/// Releases your lock on an env (or on several at once: one result per env).
#[napi(
    ts_return_type = "Promise<(ReleaseResult & DefaultedUser) | Array<ReleaseResult & DefaultedUser>>"
)]
pub async fn release(
    options: ReleaseOptions,
) -> napi::Result<WithUserSource<PerEnv<ReleaseResult>>> {
    let args = ReleaseArgs {
        env: options.env.envs(),
        user: options.user.clone(),
        holder: options.holder.clone(),
        uberlock: options.uberlock.unwrap_or_default(),
        force: options.force.unwrap_or_default(),
        reason: options.reason.clone(),
    };
    call_as(
        &options.store_options(),
        move |caller| args.action(caller),
        Hooks::NONE,
    )
    .await
}

/// `daplaya locks run` as a function: takes the lock (waiting silently, as `lock` does), runs
/// `command` (`[program, ...args]`, no shell; stdio inherited) with `DAPLAYA_LOCK_ID`,
/// `DAPLAYA_ENV` and `DAPLAYA_FENCING_TOKEN` in its environment (several envs: all of them, and
/// `DAPLAYA_FENCING_TOKENS`; resolving to `{ exitCode, locks }`), renews the lease every third
/// of `ttl` while it runs, and releases the lock when it exits. Rejects with `LEASE_LOST` (or
/// `STORE_UNAVAILABLE` when no renewal got through before the lease ran out) after sending the
/// command SIGTERM (and SIGKILL `killAfter` later if it is still running), and with the
/// errors of `lock` before the command starts (`COMMAND_NOT_FOUND` or `CANNOT_EXECUTE` when it
/// cannot start; nothing stays locked). The command runs in its own process group; on Linux it
/// gets SIGTERM if this Node process dies. Signals to this Node process are not forwarded.
#[napi(
    ts_args_type = "options: LockOptions, command: Array<string>",
    ts_return_type = "Promise<(RunLockedResult | RunLockedManyResult) & DefaultedUser>"
)]
pub async fn run_locked(
    options: LockOptions,
    Command(command): Command,
) -> napi::Result<WithUserSource<Either<RunLockedResult, RunLockedManyResult>>> {
    let args = lock_args(&options).and_then(|lock| {
        Ok(RunArgs {
            lock,
            kill_after: positive_duration("killAfter", &options.kill_after)?,
            command,
        })
    });
    let abort = options.signal.as_ref();
    let hooks = Hooks {
        abort,
        on_wait: options.on_wait.as_ref(),
    };
    let result = call_as(
        &options.store_options(),
        move |caller| args?.action(caller),
        hooks,
    )
    .await?;
    if abort.is_some_and(|abort| abort.0.token().is_cancelled()) {
        // Aborted while the command ran: it was stopped and the lock released; the caller
        // asked for the call to end, so it ends as an abort.
        return Err(js_error(&Error::Interrupted));
    }
    Ok(result)
}

/// Records a running job.
#[napi(ts_return_type = "Promise<Job & DefaultedUser>")]
pub async fn start_job(options: StartJobOptions) -> napi::Result<WithUserSource<Job>> {
    let args = StartArgs {
        jobname: options.jobname.clone(),
        user: options.user.clone(),
        gitversion: options.gitversion.clone(),
    };
    call_as(
        &options.store_options(),
        move |caller| args.action(caller),
        Hooks::NONE,
    )
    .await
}

/// The most recent job of a jobname at a version; rejects with `NOT_FOUND`.
#[napi]
pub async fn get_job(options: GetJobOptions) -> napi::Result<Job> {
    let args = GetArgs {
        jobname: options.jobname.clone(),
        gitversion: options.gitversion.clone(),
    };
    call(&options.store_options(), move |_| args.action()).await
}

/// Ends the most recent running job of a version.
#[napi]
pub async fn end_job(options: EndJobOptions) -> napi::Result<EndJobResult> {
    let args = EndArgs {
        words: Vec::new(),
        gitversion: Some(options.gitversion.clone()),
        jobname: options.jobname.clone(),
        user: options.user.clone(),
        skipped: options.skipped.unwrap_or_default(),
    };
    call(&options.store_options(), move |_| args.action()).await
}

/// Jobs of a jobname not ended, started within `ttl`, newest first.
#[napi]
pub async fn active_jobs(options: JobWindowOptions) -> napi::Result<Vec<Job>> {
    let args = window_args(&options);
    call(&options.store_options(), move |_| args?.active()).await
}

/// Skipped jobs of a jobname started within `ttl`, newest first.
#[napi]
pub async fn skipped_jobs(options: JobWindowOptions) -> napi::Result<Vec<Job>> {
    let args = window_args(&options);
    call(&options.store_options(), move |_| args?.skipped()).await
}

/// Answers a Slack slash command (`request`: `{ headers, body }`, the body raw) as
/// `daplaya slack serve` does. Verifies the signature and timestamp first; a refused request
/// touches no store. The member acts as the user `options` make them; a copy of a request acted
/// on already is answered `409` and changes nothing. Never waits on a lock; telling who the
/// member is and store work are bounded by 2.5 s. Rejects with `INVALID_ARGUMENT` when no
/// signing secret is configured.
#[napi(
    ts_args_type = "request: { headers?: Record<string, string | string[] | undefined>, body?: string }, options?: SlackHandlerOptions"
)]
pub async fn handle_slack_command(
    request: SlackRequest,
    options: Option<SlackHandlerOptions>,
) -> napi::Result<SlackResponse> {
    let request = serde_json::json!({ "headers": request.headers, "body": request.body });
    let options = options.unwrap_or_default();
    let settings = serde_json::json!({
        "signingSecret": options.signing_secret,
        "appId": options.app_id,
        "botToken": options.bot_token,
        "apiUrl": options.api_url,
        "users": options.users,
        "store": options.store,
        "region": options.region,
        "endpoint": options.endpoint,
        "locksTable": options.locks_table,
        "jobsTable": options.jobs_table,
        "historyTable": options.history_table,
    });
    let response = crate::slack::handle_js(request, settings, &config::process_env)
        .await
        .map_err(|e| js_error(&e))?;
    Ok(SlackResponse::from_json(response))
}

/// A script's caller: the process's environment and machine; locks taken from scripts outside
/// CI say so (`API`) unless the caller says more.
const SCRIPT: Caller<'static> = Caller {
    env: &config::process_env,
    machine: &ThisMachine,
    door_meta: "API",
};

/// The options of `lock` and `runLocked` as the one lock request every door fills.
fn lock_args(options: &LockOptions) -> Result<LockArgs> {
    let timeout = duration("timeout", &options.timeout)?;
    Ok(LockArgs {
        env: options.env.envs(),
        user: options.user.clone(),
        holder: options.holder.clone(),
        meta: options.meta.clone(),
        uberlock: options.uberlock.unwrap_or_default(),
        ttl: positive_duration("ttl", &options.ttl)?,
        wait: input::wait(
            timeout,
            options.no_wait.unwrap_or_default(),
            "timeout and noWait",
        )?,
        poll_interval: positive_duration("pollInterval", &options.poll_interval)?,
        supersede: options.supersede.unwrap_or_default(),
    })
}

fn window_args(options: &JobWindowOptions) -> Result<WindowArgs> {
    Ok(WindowArgs {
        jobname: options.jobname.clone(),
        ttl: positive_duration("ttl", &options.ttl)?,
    })
}

/// [`call_as`] for the functions that take no user and never wait.
async fn call<T: FromReport>(
    store_options: &StoreOptions,
    validate: impl FnOnce(&Caller) -> Result<Action> + Send + 'static,
) -> napi::Result<T> {
    let WithUserSource(result, _) = call_as(store_options, validate, Hooks::NONE).await?;
    Ok(result)
}

/// What a call that may wait listens to: the caller's `signal`, and its `onWait`.
#[derive(Clone, Copy)]
struct Hooks<'a> {
    abort: Option<&'a Abort>,
    on_wait: Option<&'a OnWait>,
}

impl Hooks<'_> {
    const NONE: Hooks<'static> = Hooks {
        abort: None,
        on_wait: None,
    };
}

/// Validates the options (what they leave out of user and meta comes from [`SCRIPT`]), carries
/// out the action and gives its report as the function's result, with `userSource` when the
/// user was defaulted. The API prints nothing: waiting is silent, bounded by `timeout` or ended
/// by `signal`.
async fn call_as<T: FromReport>(
    store_options: &StoreOptions,
    validate: impl FnOnce(&Caller) -> Result<Action> + Send + 'static,
    hooks: Hooks<'_>,
) -> napi::Result<WithUserSource<T>> {
    let interrupt = hooks.abort.map(|abort| &abort.0);
    // Called on the JS thread when it is free; the poll goes on meanwhile (index.js catches
    // what `onWait` throws and ends the call).
    let mut on_wait = |progress: &crate::locks::WaitProgress| {
        if let Some(on_wait) = hooks.on_wait {
            let progress = serde_json::to_value(WaitProgress::from(progress));
            if let Ok(progress) = progress {
                on_wait.call(progress, ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    };
    let mut user_source = None;
    let report = async {
        // A defaulted user may ask git, a child process: off the async workers.
        let action = tokio::task::spawn_blocking(move || validate(&SCRIPT))
            .await
            .map_err(|e| Error::Store(format!("validating the options failed: {e}")))??;
        user_source = action
            .defaulted_user()
            .map(|(_, source)| source.name().to_string());
        let chosen = ChosenStore::choose(store_options, &config::process_env)?;
        // Shared: a script's calls reuse one DynamoDB client and its kept-alive connection.
        let store = chosen.open(Lifetime::Shared).await?;
        perform(action, store.as_ref(), interrupt, &mut on_wait).await
    }
    .await
    .map_err(|e| js_error(&e))?;
    let result = T::from_report(report)
        .ok_or_else(|| js_error(&Error::Store("unexpected report".into())))?;
    Ok(WithUserSource(result, DefaultedUser { user_source }))
}
