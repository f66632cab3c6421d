//! How results take shape: one object of a lock and its acquisition, `userSource` on a result
//! (or on each of a list), one result per env or a list, and each function's result from the
//! report of its operation.

use super::results::*;
use crate::ops::Report;
use napi::bindgen_prelude::{Array, Either, FromNapiValue, Object, ToNapiValue};
use napi::sys;
use napi_derive::napi;

/// One object with the fields of both: `lock` resolves to the lock row and how it was got.
pub struct Merged<A, B>(pub A, pub B);

/// What `lock` resolves to for each env: the lock row with how it was got.
pub type LockResult = Merged<Lock, Acquisition>;

impl<A: ToNapiValue, B: ToNapiValue> ToNapiValue for Merged<A, B> {
    unsafe fn to_napi_value(env: sys::napi_env, merged: Self) -> napi::Result<sys::napi_value> {
        let Merged(first, second) = merged;
        let first = unsafe { A::to_napi_value(env, first) }?;
        let second = Object::from_raw(env, unsafe { B::to_napi_value(env, second) }?);
        let mut target = Object::from_raw(env, first);
        for key in Object::keys(&second)? {
            let value: Option<napi::bindgen_prelude::Unknown> = second.get(&key)?;
            target.set(&key, value)?;
        }
        Ok(first)
    }
}

/// Where the user came from, on the results of calls that default it.
#[napi(object, object_from_js = false)]
pub struct DefaultedUser {
    /// Present when `user` was not given: `'DAPLAYA_USER'`, the CI's variable
    /// (`'GITHUB_ACTOR'`, ...), `'git config user.email'` or `'login name'`.
    pub user_source: Option<String>,
}

/// A result and, when the user was defaulted, its `userSource` (no such key otherwise, as in
/// the `--json` document): on the result, or on each result of a list.
pub struct WithUserSource<T>(pub T, pub DefaultedUser);

impl<T: ToNapiValue> ToNapiValue for WithUserSource<T> {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let WithUserSource(result, defaulted) = value;
        let raw = unsafe { T::to_napi_value(env, result) }?;
        let Some(source) = defaulted.user_source else {
            return Ok(raw);
        };
        match unsafe { Array::from_napi_value(env, raw) } {
            Ok(list) => {
                for i in 0..list.len() {
                    if let Some(mut element) = list.get::<Object>(i)? {
                        element.set("userSource", source.as_str())?;
                    }
                }
            }
            Err(_) => Object::from_raw(env, raw).set("userSource", source)?,
        }
        Ok(raw)
    }
}

/// One result for one env, or a list of them when the caller gave a list (see
/// `ops::input::Envs`).
pub enum PerEnv<T> {
    One(T),
    Listed(Vec<T>),
}

impl<T> PerEnv<T> {
    fn of(mut results: Vec<T>, listed: bool) -> Option<Self> {
        match (results.len(), listed) {
            (_, true) => Some(PerEnv::Listed(results)),
            (1, false) => Some(PerEnv::One(results.remove(0))),
            _ => None,
        }
    }
}

impl<T: ToNapiValue> ToNapiValue for PerEnv<T> {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        match value {
            PerEnv::One(result) => unsafe { T::to_napi_value(env, result) },
            PerEnv::Listed(results) => unsafe { Vec::<T>::to_napi_value(env, results) },
        }
    }
}

/// The result of a function, from the report of its operation (`None`: another operation's).
pub trait FromReport: Sized {
    fn from_report(report: Report) -> Option<Self>;
}

impl FromReport for InitResult {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Init { store, tables } => Some(InitResult {
                store,
                tables: tables.into_iter().map(TableStatus::from).collect(),
            }),
            _ => None,
        }
    }
}

impl FromReport for Vec<Lock> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Locks { locks, .. } => Some(locks.into_iter().map(Lock::from).collect()),
            _ => None,
        }
    }
}

impl FromReport for Vec<Hold> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::History { holds, .. } => Some(holds.into_iter().map(Hold::from).collect()),
            _ => None,
        }
    }
}

impl FromReport for PerEnv<LockResult> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Locked { locks, listed } => PerEnv::of(
                locks
                    .into_iter()
                    .map(|(lock, acquired)| Merged(lock.into(), acquired.into()))
                    .collect(),
                listed,
            ),
            _ => None,
        }
    }
}

impl FromReport for PerEnv<ReleaseResult> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Released { released, listed } => {
                PerEnv::of(released.into_iter().map(Into::into).collect(), listed)
            }
            _ => None,
        }
    }
}

impl FromReport for Either<RunLockedResult, RunLockedManyResult> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Ran {
                exit_code,
                locks,
                listed: true,
            } => Some(Either::B(RunLockedManyResult {
                exit_code,
                locks: locks.into_iter().map(Lock::from).collect(),
            })),
            Report::Ran {
                exit_code, locks, ..
            } => Some(Either::A(RunLockedResult {
                exit_code,
                lock: locks.into_iter().next()?.into(),
            })),
            _ => None,
        }
    }
}

impl FromReport for Job {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::JobStarted(job) | Report::Job(job) => Some(job.into()),
            _ => None,
        }
    }
}

impl FromReport for EndJobResult {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::JobEnded(ended) => Some(ended.into()),
            _ => None,
        }
    }
}

impl FromReport for Vec<Job> {
    fn from_report(report: Report) -> Option<Self> {
        match report {
            Report::Jobs { jobs, .. } => Some(jobs.into_iter().map(Job::from).collect()),
            _ => None,
        }
    }
}

/// The results as JSON, for the tests: serde's view of each result type (derived under
/// `cfg(test)` in `results.rs`), so the tests compare it with the report's document.
#[cfg(test)]
mod json {
    use super::{Merged, PerEnv, WithUserSource};
    use crate::ops::report::with_user_source;
    use serde::ser::{Error, Serialize, Serializer};
    use serde_json::Value;

    impl<A: Serialize, B: Serialize> Serialize for Merged<A, B> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let object = |value: &dyn erased::Object| value.fields().map_err(S::Error::custom);
            let mut fields = object(&self.0)?;
            fields.extend(object(&self.1)?);
            Value::Object(fields).serialize(serializer)
        }
    }

    impl<T: Serialize> Serialize for PerEnv<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self {
                PerEnv::One(result) => result.serialize(serializer),
                PerEnv::Listed(results) => results.serialize(serializer),
            }
        }
    }

    impl<T: Serialize> Serialize for WithUserSource<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let WithUserSource(result, defaulted) = self;
            let document = serde_json::to_value(result).map_err(S::Error::custom)?;
            match &defaulted.user_source {
                Some(source) => with_user_source(document, source).serialize(serializer),
                None => document.serialize(serializer),
            }
        }
    }

    mod erased {
        use serde_json::{Map, Value};

        /// A value whose JSON is an object.
        pub trait Object {
            fn fields(&self) -> Result<Map<String, Value>, String>;
        }

        impl<T: serde::Serialize> Object for T {
            fn fields(&self) -> Result<Map<String, Value>, String> {
                match serde_json::to_value(self) {
                    Ok(Value::Object(fields)) => Ok(fields),
                    Ok(other) => Err(format!("not an object: {other}")),
                    Err(error) => Err(error.to_string()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::UserSource;
    use crate::jobs::Ended;
    use crate::locks::{Acquired, NotReleased, Released};
    use crate::model::{self, HoldEnd};
    use crate::ops::JobList;
    use crate::store;
    use serde::Serialize;
    use std::time::Duration;

    fn waiter(user: &str, supersede: bool) -> model::Waiter {
        model::Waiter {
            id: format!("w-{user}"),
            ticket: 3,
            user: user.into(),
            meta: "https://ci/7".into(),
            joined_at: 1_700_000_000_500,
            seen_at: 1_700_000_000_900,
            stale_after: 30_000,
            supersede,
            envs: vec!["prod".into()],
        }
    }

    fn lock(env: &str, uberlock: bool, queue: Vec<model::Waiter>) -> model::Lock {
        model::Lock {
            id: format!("id-{env}"),
            user: "alice".into(),
            holder: "ci-run-42".into(),
            env: env.into(),
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_100,
            active: true,
            uberlock,
            meta: "CLI".into(),
            expires_at: (!uberlock).then_some(1_700_000_300_000),
            fencing_token: 12,
            acquisitions: 12,
            revision: 4,
            queue,
            next_ticket: 5,
        }
    }

    fn hold(end: Option<HoldEnd>) -> model::Hold {
        let mut hold = model::Hold::of(&lock("prod", false, vec![]));
        if let Some(end) = end {
            hold = hold.ended(end, 1_700_000_200_000, Some("bob".into()));
        }
        hold
    }

    fn job(ended: Option<i64>) -> model::Job {
        model::Job {
            id: "0190-job".into(),
            user: "alice".into(),
            jobname: "deploy-prod".into(),
            version: "abc123".into(),
            started: 1_700_000_000_000,
            ended,
            skipped: false,
        }
    }

    /// The API's result of `report`, as JSON, equals the report's JSON document, with and
    /// without a defaulted user.
    fn same<T: FromReport + Serialize>(report: Report) {
        let source = UserSource::Variable("GITHUB_ACTOR");
        for user_source in [None, Some(source)] {
            let result = T::from_report(report.clone()).expect("the function's own report");
            let defaulted = DefaultedUser {
                user_source: user_source.map(|source| source.name().to_string()),
            };
            let api = serde_json::to_value(WithUserSource(result, defaulted)).unwrap();
            assert_eq!(api, report.to_json_from(user_source), "{report:?}");
        }
    }

    #[test]
    fn every_result_of_the_api_is_the_document_of_its_report() {
        let waiting = vec![waiter("bob", false), waiter("carol", true)];
        let held = [
            lock("prod", false, waiting.clone()),
            lock("qa", true, vec![]),
        ];
        same::<InitResult>(Report::Init {
            store: "SQLite at /tmp/locks.db".into(),
            tables: vec![store::TableStatus {
                name: "locks".into(),
                created: true,
            }],
        });
        same::<Vec<Lock>>(Report::Locks {
            env: None,
            locks: held.to_vec(),
        });
        let ends = [None, Some(HoldEnd::Released), Some(HoldEnd::Expired)];
        let more_ends = [Some(HoldEnd::Preempted), Some(HoldEnd::Forced)];
        same::<Vec<Hold>>(Report::History {
            env: "prod".into(),
            holds: ends.into_iter().chain(more_ends).map(hold).collect(),
        });
        let acquisitions = [
            Acquired::Acquired,
            Acquired::Renewed,
            Acquired::Upgraded,
            Acquired::Preempted {
                preempted_user: "bob".into(),
            },
        ];
        for acquired in acquisitions {
            for listed in [false, true] {
                same::<PerEnv<LockResult>>(Report::Locked {
                    locks: vec![(held[0].clone(), acquired.clone())],
                    listed,
                });
            }
        }
        let releases = vec![
            Released::Released(held[0].clone()),
            Released::Forced(held[1].clone()),
            Released::Nothing(NotReleased::NotLocked, None),
            Released::Nothing(NotReleased::HeldByOther, Some(held[0].clone())),
        ];
        for released in &releases {
            same::<PerEnv<ReleaseResult>>(Report::Released {
                released: vec![released.clone()],
                listed: false,
            });
        }
        same::<PerEnv<ReleaseResult>>(Report::Released {
            released: releases,
            listed: true,
        });
        for listed in [false, true] {
            same::<Either<RunLockedResult, RunLockedManyResult>>(Report::Ran {
                exit_code: 3,
                locks: vec![held[0].clone()],
                listed,
            });
        }
        same::<Job>(Report::JobStarted(job(None)));
        same::<EndJobResult>(Report::JobEnded(Ended {
            job: job(Some(1_700_000_100_000)),
            changed: true,
        }));
        same::<Vec<Job>>(Report::Jobs {
            jobname: "deploy-prod".into(),
            list: JobList::Active,
            window: Duration::from_secs(60),
            jobs: vec![job(None), job(Some(1_700_000_100_000))],
        });
    }
}
