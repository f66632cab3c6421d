//! What an operation did, before any front door shows it, and its JSON document: the API
//! returns it, the CLI prints it with `--json`, and a JSON route can serve it, so the shapes
//! stay the same by construction.

use crate::caller::UserSource;
use crate::error::{Error, LostTo};
use crate::jobs::Ended;
use crate::locks::{Acquired, Released};
use crate::model::{Hold, Job, Lock};
use crate::store::TableStatus;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobList {
    Active,
    Skipped,
}

/// The result of a command, before it is shown.
#[derive(Debug, Clone)]
pub enum Report {
    Init {
        store: String,
        tables: Vec<TableStatus>,
    },
    Locks {
        env: Option<String>,
        locks: Vec<Lock>,
    },
    /// An env's holds, newest first.
    History {
        env: String,
        holds: Vec<Hold>,
    },
    /// One lock per env, in the order asked; `listed`: shown as a list even of one.
    Locked {
        locks: Vec<(Lock, Acquired)>,
        listed: bool,
    },
    /// A single attempt found someone else holding an env (`holders`), or others waiting in
    /// line for free envs (`holders` empty); `waiting` counts them.
    Busy {
        holders: Vec<Lock>,
        waiting: usize,
    },
    /// One per env, in the order asked.
    Released {
        released: Vec<Released>,
        listed: bool,
    },
    /// `locks run` (JS `runLocked`): the command ran under the locks, which are now released.
    Ran {
        exit_code: i32,
        locks: Vec<Lock>,
        listed: bool,
    },
    JobStarted(Job),
    Job(Job),
    JobEnded(Ended),
    Jobs {
        jobname: String,
        list: JobList,
        window: Duration,
        jobs: Vec<Job>,
    },
    /// A server is answering requests (`serve`, `slack serve`).
    Serving(Serving),
}

/// Where a server listens, and on which store.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Serving {
    /// What the command is for: the page (`serve`) or the slash-command URL (`slack serve`).
    pub url: String,
    pub page_url: String,
    /// `None` without a Slack signing secret.
    pub slack_url: Option<String>,
    pub host: String,
    pub port: u16,
    pub store: String,
}

#[derive(Serialize)]
struct LockedDocument<'a> {
    #[serde(flatten)]
    lock: &'a Lock,
    #[serde(flatten)]
    acquired: &'a Acquired,
}

impl Report {
    /// The report as the one JSON document every front door returns (the API's value, the
    /// CLI's `--json`).
    pub fn to_json(&self) -> Value {
        match self {
            Report::Init { store, tables } => json!({ "store": store, "tables": tables }),
            Report::Locks { locks, .. } => to_value(locks),
            Report::History { holds, .. } => to_value(holds),
            Report::Locked { locks, listed } => per_env(
                locks
                    .iter()
                    .map(|(lock, acquired)| to_value(&LockedDocument { lock, acquired })),
                *listed,
            ),
            Report::Busy { holders, waiting } => json!({
                "outcome": "busy",
                "holder": holders.first(),
                "holders": holders,
                "waiting": waiting,
            }),
            Report::Released { released, listed } => {
                per_env(released.iter().map(released_document), *listed)
            }
            Report::Ran {
                exit_code,
                locks,
                listed: true,
            } => json!({ "exitCode": exit_code, "locks": locks }),
            Report::Ran {
                exit_code, locks, ..
            } => json!({ "exitCode": exit_code, "lock": locks.first() }),
            Report::JobStarted(job) | Report::Job(job) => to_value(job),
            Report::JobEnded(Ended { job, changed }) => json!({ "changed": changed, "job": job }),
            Report::Jobs { jobs, .. } => to_value(jobs),
            Report::Serving(serving) => to_value(serving),
        }
    }

    /// The JSON document, saying where the user came from when the caller did not give it
    /// (`userSource`; see `Action::defaulted_user`): on the document, or on each document of a
    /// list.
    pub fn to_json_from(&self, user_source: Option<UserSource>) -> Value {
        let document = self.to_json();
        match user_source {
            Some(source) => with_user_source(document, source.name()),
            None => document,
        }
    }
}

/// `document` with `userSource` set to `source`: on the document, or on each document of a list.
pub fn with_user_source(mut document: Value, source: &str) -> Value {
    let documents = match &mut document {
        Value::Array(documents) => documents.iter_mut().collect(),
        single => vec![single],
    };
    for document in documents {
        if let Value::Object(fields) = document {
            fields.insert("userSource".into(), source.into());
        }
    }
    document
}

/// The documents of a call on several envs: a list when the caller asked for one, else the
/// one document.
fn per_env(documents: impl Iterator<Item = Value>, listed: bool) -> Value {
    let mut documents: Vec<Value> = documents.collect();
    match documents.len() {
        1 if !listed => documents.remove(0),
        _ => Value::Array(documents),
    }
}

fn released_document(released: &Released) -> Value {
    match released {
        Released::Released(lock) => {
            json!({ "released": true, "forced": false, "reason": null, "lock": lock })
        }
        Released::Forced(lock) => {
            json!({ "released": true, "forced": true, "reason": null, "lock": lock })
        }
        Released::Nothing(reason, lock) => {
            json!({ "released": false, "forced": false, "reason": reason, "lock": lock })
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Our records hold only strings, numbers and booleans: serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The document of a failure, where a report would have been: its code, message, hint and
/// exit code, and the fields of a lock refusal ([`error_fields`]).
pub fn error_document(error: &Error) -> Value {
    let mut document = serde_json::Map::new();
    document.insert("code".into(), error.code().into());
    document.insert("message".into(), error.to_string().into());
    document.insert("hint".into(), error.hint().into());
    document.insert("exitCode".into(), error.exit_code().into());
    document.extend(error_fields(error));
    json!({ "error": document })
}

/// What a program needs to act on a lock refusal, as JS errors and `--json` error documents
/// carry it: the env, the lock in the way (`holder`, as `locks list` shows it: user, meta,
/// `expiresAt`...), the env's line (`queue`), how long the call waited (`waitedMs`), the
/// newer waiter a `--supersede` call gave way to (`by`). Empty for other errors.
pub fn error_fields(error: &Error) -> serde_json::Map<String, Value> {
    let fields = match error {
        Error::LockBusy(busy) => json!({
            "env": busy.env,
            "holder": busy.holder,
            "queue": busy.queue,
            "waitedMs": busy.waited.map(|waited| waited.as_millis() as u64),
        }),
        Error::Uberlocked(holder) => json!({ "env": holder.env, "holder": holder }),
        Error::Superseded { env, by } => json!({ "env": env, "by": by }),
        Error::LeaseLost { env, to } => json!({
            "env": env,
            "holder": match to {
                LostTo::Holder(lock) => Some(lock),
                LostTo::Released | LostTo::Gone => None,
            },
        }),
        _ => return serde_json::Map::new(),
    };
    match fields {
        Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    }
}
