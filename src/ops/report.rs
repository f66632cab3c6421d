//! What an operation did, before any front door shows it, and its JSON document: the API
//! returns it, the CLI prints it with `--json`, and a JSON route can serve it, so the shapes
//! stay the same by construction.

use crate::caller::UserSource;
use crate::error::Error;
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
        let mut document = self.to_json();
        let Some(source) = user_source else {
            return document;
        };
        let documents = match &mut document {
            Value::Array(documents) => documents.iter_mut().collect(),
            single => vec![single],
        };
        for document in documents {
            if let Value::Object(fields) = document {
                fields.insert("userSource".into(), source.name().into());
            }
        }
        document
    }
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

/// The document of a failure, where a report would have been.
pub fn error_document(error: &Error) -> Value {
    json!({ "error": {
        "code": error.code(),
        "message": error.to_string(),
        "hint": error.hint(),
        "exitCode": error.exit_code(),
    }})
}
