//! The programmatic API behind `require('daplaya')`: JS option objects in, the same JSON
//! documents as `--json` out. Options are the CLI's argument structs, so validation is shared.

use crate::config::{self, StoreOptions};
use crate::error::{Error, Result};
use crate::ops::input::{
    EndArgs, GetArgs, ListArgs, LockArgs, ReleaseArgs, RunArgs, StartArgs, WindowArgs,
};
use crate::ops::open::{ChosenStore, Lifetime};
use crate::ops::{perform, Action};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Init,
    ListLocks,
    Lock,
    Release,
    /// `locks run`; the options carry the command as `command`.
    RunLocked,
    StartJob,
    GetJob,
    EndJob,
    ActiveJobs,
    SkippedJobs,
}

#[derive(Deserialize)]
struct WithStore<T> {
    #[serde(flatten)]
    args: T,
    #[serde(flatten)]
    store: StoreOptions,
}

fn parse<T: DeserializeOwned>(options: Value) -> Result<(T, StoreOptions)> {
    let options = if options.is_null() {
        Value::Object(Default::default())
    } else {
        options
    };
    let parsed: WithStore<T> = serde_json::from_value(options)
        .map_err(|e| Error::usage(format!("invalid options: {e}")))?;
    Ok((parsed.args, parsed.store))
}

fn action(operation: Operation, options: Value) -> Result<(Action, StoreOptions)> {
    fn with<T: DeserializeOwned>(
        options: Value,
        to_action: impl FnOnce(&T) -> Result<Action>,
    ) -> Result<(Action, StoreOptions)> {
        let (args, store) = parse::<T>(options)?;
        Ok((to_action(&args)?, store))
    }
    match operation {
        Operation::Init => Ok((Action::Init, parse::<Empty>(options)?.1)),
        Operation::ListLocks => with(options, ListArgs::action),
        Operation::Lock => with(options, |args: &LockArgs| from_script(args).action()),
        Operation::Release => with(options, ReleaseArgs::action),
        Operation::RunLocked => with(options, |args: &RunArgs| {
            RunArgs {
                lock: from_script(&args.lock),
                ..args.clone()
            }
            .action()
        }),
        Operation::StartJob => with(options, StartArgs::action),
        Operation::GetJob => with(options, GetArgs::action),
        Operation::EndJob => with(options, EndArgs::action),
        Operation::ActiveJobs => with(options, WindowArgs::active),
        Operation::SkippedJobs => with(options, WindowArgs::skipped),
    }
}

#[derive(Deserialize, Default)]
struct Empty {}

/// Locks taken from scripts say so unless the caller says more.
fn from_script(lock: &LockArgs) -> LockArgs {
    LockArgs {
        meta: lock.meta.clone().or_else(|| Some("API".into())),
        ..lock.clone()
    }
}

/// Runs one API call. The API prints nothing: waiting is silent, bounded by `timeout`.
pub async fn call(
    operation: Operation,
    options: Value,
    cancel: &CancellationToken,
) -> Result<Value> {
    let (action, store_options) = action(operation, options)?;
    let chosen = ChosenStore::choose(&store_options, &config::process_env)?;
    // Shared: a script's calls reuse one DynamoDB client and its kept-alive connection.
    let store = chosen.open(Lifetime::Shared).await?;
    let report = perform(action, store.as_ref(), cancel, &mut |_, _| {}).await?;
    Ok(report.to_json())
}
