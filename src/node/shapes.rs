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
