//! What a lock request is and what it comes to: the values every rule of `locks` shares, and
//! nothing that decides.

use crate::error::{Error, Result};
use crate::model::Lock;
use serde::Serialize;
use std::time::Duration;

pub const DEFAULT_TTL: Duration = Duration::from_secs(20 * 60);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The most envs one request takes at once (DynamoDB writes them in one transaction).
pub const MAX_ENVS: usize = 25;

#[derive(Debug, Clone)]
pub struct LockRequest {
    /// 1..=25 distinct envs, validated by the front door: all are taken at once, or none.
    pub envs: Vec<String>,
    pub user: String,
    /// The run taking it: a lock it holds already is renewed, anyone else's waited for.
    pub holder: String,
    pub meta: Meta,
    pub uberlock: bool,
    pub ttl: Duration,
    /// Give way to any newer waiter on the same env (`Error::Superseded`).
    pub supersede: bool,
}

/// Where a waiting request stands, told to the caller on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitProgress {
    pub envs: Vec<String>,
    /// 1-based place in line, the worst over the envs (1 = next).
    pub position: usize,
    /// Live waiters on those envs, this one included (the most on any env).
    pub waiting: usize,
    /// The other holders' locks in the way (empty when the envs are free but others are first).
    pub holders: Vec<Lock>,
    pub waited: Duration,
    /// This poll joined again after its entry was pruned (it had stalled too long).
    pub rejoined: bool,
}

/// What a lock is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// The caller said: it replaces the lock's meta, on a renewal too.
    Given(String),
    /// The caller said nothing: the default (the CI run's URL, or the front door: `CLI`, `API`,
    /// `Slack`) for a fresh acquisition; a renewal or an upgrade keeps the meta the lock has.
    Default(String),
}

impl Meta {
    /// What a fresh acquisition would record.
    pub fn text(&self) -> &str {
        match self {
            Meta::Given(meta) | Meta::Default(meta) => meta,
        }
    }

    pub(super) fn for_fresh(&self) -> String {
        match self {
            Meta::Given(meta) => meta.clone(),
            Meta::Default(meta) => meta.clone(),
        }
    }

    pub(super) fn for_renewal(&self, current: &str) -> String {
        match self {
            Meta::Given(meta) => meta.clone(),
            Meta::Default(_) => current.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// One attempt only.
    No,
    /// Retry until this much time has passed.
    Until(Duration),
    #[default]
    Forever,
}

#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub wait: Wait,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Acquired {
    /// The env was free, released or expired.
    Acquired,
    /// The caller's run held it already; the lease was renewed and the lock id kept.
    Renewed,
    /// The caller's run held a normal lock and now holds an uberlock, same lock id.
    Upgraded,
    /// An uberlock took the env from another holder's normal lock.
    Preempted { preempted_user: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Every env, in request order.
    Acquired(Vec<(Lock, Acquired)>),
    /// Not taken. `holders`: the other holders' locks in the way (empty when the envs are free
    /// but others wait); `waiting`: the live waiters in line (the most on any env), who would
    /// be served first.
    Busy { holders: Vec<Lock>, waiting: usize },
}

/// A request names 1..=MAX_ENVS distinct envs; the front doors check this first, with their
/// own words, so this only guards the rules.
pub(super) fn check_envs(envs: &[String]) -> Result<()> {
    let distinct = envs
        .iter()
        .enumerate()
        .all(|(i, env)| !envs[..i].contains(env));
    if envs.is_empty() || envs.len() > MAX_ENVS || !distinct {
        return Err(Error::usage(format!(
            "a lock needs 1 to {MAX_ENVS} distinct envs, got {}",
            envs.join(", ")
        )));
    }
    Ok(())
}
