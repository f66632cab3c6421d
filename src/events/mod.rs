//! What happened to a lock, told to the people and systems that wait on it. The process that
//! makes a change announces it (no daemon): [`from_taken`], [`from_released`] and
//! [`superseded`] turn the rules' outcomes into [`Event`]s (pure), and [`announce`] hands them
//! to [`deliver`], which posts them to the configured webhooks and Slack in the background:
//! the lock decision they report is never delayed by a slow receiver, nor failed by a broken
//! one. [`settle`] waits, within a bound, for what is still being delivered before a process
//! ends.
//!
//! An event's id is derived from the hold it is about (the lock id) and what happened to it,
//! so the same event told twice, by a retry or by two processes, carries the same id and a
//! receiver keeps the first.

mod deliver;
pub mod http;
pub mod sign;
mod slack;
mod targets;

pub use deliver::{announce, settle, SETTLE_BOUND};
pub use sign::{signature, SIGNATURE_VERSION};
pub use targets::{check, Targets};

use crate::error::{Error, Result};
use crate::locks::queue::as_listed;
use crate::locks::{Acquired, Authority, LockRequest, ReleaseRequest, Released};
use crate::model::{Lock, Waiter};
use crate::store::StoreTime;
use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// An env was taken (free, released, or its last lease had lapsed).
    Taken,
    /// A holder's normal lock became an uberlock.
    Uberlocked,
    /// An uberlock took the env from another holder (`by` says whose hold ended).
    Preempted,
    /// Its holder released it.
    Released,
    /// Someone broke another holder's lock on purpose (`by`, `reason`).
    Forced,
    /// A waiter that asked to give way to newer ones left the line for one (`by`).
    Superseded,
    /// A waiter is first in line for an env that was just released (`by`: who released it).
    Turn,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Taken => "taken",
            Kind::Uberlocked => "uberlocked",
            Kind::Preempted => "preempted",
            Kind::Released => "released",
            Kind::Forced => "forced",
            Kind::Superseded => "superseded",
            Kind::Turn => "turn",
        }
    }
}

/// One thing that happened to one env, as webhooks receive it (JSON, camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The same for every telling of this event: `<lock id>.<kind>`, or `<waiter id>.<kind>`
    /// for a waiter's.
    pub id: String,
    pub kind: Kind,
    pub env: String,
    /// When, on the store's clock (epoch ms).
    pub at: i64,
    /// Whom it is about: the holder's user, or the waiter's.
    pub user: String,
    /// What the lock (or the wait) is for: a CI run's URL, a note.
    pub meta: String,
    /// The hold's lock id (for a turn or a superseding, the hold that was released or waited for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_id: Option<String>,
    /// The run holding the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<u64>,
    /// Who else took part: the preempting user, who forced it, who released before a turn,
    /// the newer waiter a superseding waiter gave way to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event {
    fn of_lock(kind: Kind, lock: &Lock, at: i64) -> Event {
        Event {
            id: format!("{}.{}", lock.id, kind.as_str()),
            kind,
            env: lock.env.clone(),
            at,
            user: lock.user.clone(),
            meta: lock.meta.clone(),
            lock_id: Some(lock.id.clone()),
            holder: Some(lock.holder.clone()),
            fencing_token: Some(lock.fencing_token),
            by: None,
            reason: None,
        }
    }

    /// One line a person reads (Slack, logs).
    pub fn summary(&self) -> String {
        let env = &self.env;
        let user = &self.user;
        let by = self.by.as_deref().unwrap_or("someone");
        match self.kind {
            Kind::Taken => format!("{user} locked {env}"),
            Kind::Uberlocked => format!("{user} uberlocked {env}"),
            Kind::Preempted => format!("{user} took {env} with an uberlock from {by}"),
            Kind::Released => format!("{user} released {env}"),
            Kind::Forced => match &self.reason {
                Some(reason) => format!("{by} forced {user}'s lock on {env} open: {reason}"),
                None => format!("{by} forced {user}'s lock on {env} open"),
            },
            Kind::Superseded => format!("{user} gave way on {env} to a newer deploy by {by}"),
            Kind::Turn => format!("{user}'s turn on {env}: {by} released it"),
        }
    }
}

/// The events of locks just taken.
pub fn from_taken(taken: &[(Lock, Acquired)]) -> Vec<Event> {
    taken
        .iter()
        .filter_map(|(lock, how)| {
            let at = lock.updated_at;
            match how {
                Acquired::Acquired => Some(Event::of_lock(Kind::Taken, lock, at)),
                Acquired::Upgraded => Some(Event::of_lock(Kind::Uberlocked, lock, at)),
                Acquired::Preempted { preempted_user } => Some(Event {
                    by: Some(preempted_user.clone()),
                    ..Event::of_lock(Kind::Preempted, lock, at)
                }),
                // A renewal changes nothing anyone waits on.
                Acquired::Renewed => None,
            }
        })
        .collect()
}

/// The events of rows just released (as written, inactive): the release, forced when `forced`
/// names who broke it and why, and the turn of whoever is now first in line.
pub fn from_released(released: &[Lock], forced: Option<(&str, &str)>) -> Vec<Event> {
    released
        .iter()
        .flat_map(|lock| {
            let at = lock.updated_at;
            let ended = match forced {
                Some((by, reason)) => Event {
                    by: Some(by.to_string()),
                    reason: Some(reason.to_string()),
                    ..Event::of_lock(Kind::Forced, lock, at)
                },
                None => Event::of_lock(Kind::Released, lock, at),
            };
            let releaser = forced.map_or(lock.user.as_str(), |(by, _)| by);
            let turn = first_in_line(lock).map(|next| Event {
                id: format!("{}.{}", lock.id, Kind::Turn.as_str()),
                kind: Kind::Turn,
                env: lock.env.clone(),
                at,
                user: next.user.clone(),
                meta: next.meta.clone(),
                lock_id: Some(lock.id.clone()),
                holder: None,
                fencing_token: None,
                by: Some(releaser.to_string()),
                reason: None,
            });
            std::iter::once(ended).chain(turn)
        })
        .collect()
}

/// The events of a release's outcomes, env by env.
pub fn from_release(request: &ReleaseRequest, outcomes: &[Released]) -> Vec<Event> {
    let reason = match &request.authority {
        Authority::Force { reason } => reason.as_str(),
        Authority::Holder | Authority::User => "",
    };
    outcomes
        .iter()
        .flat_map(|outcome| match outcome {
            Released::Released(lock) => from_released(std::slice::from_ref(lock), None),
            Released::Forced(lock) => {
                from_released(std::slice::from_ref(lock), Some((&request.user, reason)))
            }
            Released::Nothing(..) => Vec::new(),
        })
        .collect()
}

/// The waiter now first in line on a released row, at the release's own time.
fn first_in_line(released: &Lock) -> Option<Waiter> {
    let time = StoreTime::exact(released.updated_at);
    as_listed(released.clone(), time).queue.into_iter().next()
}

/// The events of a lock request's outcome: the locks it took, or its giving way to a newer
/// waiter.
pub fn from_locking(request: &LockRequest, outcome: &Result<Vec<(Lock, Acquired)>>) -> Vec<Event> {
    match outcome {
        Ok(taken) => from_taken(taken),
        Err(Error::Superseded { env, by }) => {
            vec![superseded(env, &request.user, request.meta.text(), by)]
        }
        Err(_) => Vec::new(),
    }
}

/// A waiter of `user` that gave way on `env` to `by`, a newer waiter, as of its last poll.
pub fn superseded(env: &str, user: &str, meta: &str, by: &Waiter) -> Event {
    let at = by.seen_at;
    Event {
        id: format!("{}.{}.{env}.{user}", by.id, Kind::Superseded.as_str()),
        kind: Kind::Superseded,
        env: env.to_string(),
        at,
        user: user.to_string(),
        meta: meta.to_string(),
        lock_id: None,
        holder: None,
        fencing_token: None,
        by: Some(by.user.clone()),
        reason: None,
    }
}

#[cfg(test)]
mod tests;
