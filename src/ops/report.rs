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
    Locked {
        lock: Lock,
        acquired: Acquired,
    },
    /// Someone else holds the env (a single attempt found it so).
    Busy(Lock),
    Released(Released),
    /// `locks run` (JS `runLocked`): the command ran under the lock, which is now released.
    Ran {
        exit_code: i32,
        lock: Lock,
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
            Report::Locked { lock, acquired } => to_value(&LockedDocument { lock, acquired }),
            Report::Busy(holder) => json!({ "outcome": "busy", "holder": holder }),
            Report::Released(Released::Released(lock)) => {
                json!({ "released": true, "reason": null, "lock": lock })
            }
            Report::Released(Released::Nothing(reason, lock)) => {
                json!({ "released": false, "reason": reason, "lock": lock })
            }
            Report::Ran { exit_code, lock } => json!({ "exitCode": exit_code, "lock": lock }),
            Report::JobStarted(job) | Report::Job(job) => to_value(job),
            Report::JobEnded(Ended { job, changed }) => json!({ "changed": changed, "job": job }),
            Report::Jobs { jobs, .. } => to_value(jobs),
            Report::Serving(serving) => to_value(serving),
        }
    }

    /// The JSON document, saying where the user came from when the caller did not give it
    /// (`userSource`; see `Action::defaulted_user`).
    pub fn to_json_from(&self, user_source: Option<UserSource>) -> Value {
        let mut document = self.to_json();
        if let (Some(source), Value::Object(fields)) = (user_source, &mut document) {
            fields.insert("userSource".into(), source.name().into());
        }
        document
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
