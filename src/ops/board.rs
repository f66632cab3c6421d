//! What the page of `serve` shows, read from the store: every env held now or recently, and the
//! jobs of the jobnames asked for. Whether an env is held is the rules' judgement on the store's
//! clock ([`locks::is_held`]), never this machine's. How it looks is the server's `page.rs`.

use crate::error::Result;
use crate::jobs::{self, Overview};
use crate::locks::{self, queue};
use crate::model::Lock;
use crate::store::{Store, StoreTime};
use std::time::Duration;

/// How long after its lock ended an env stays on the page.
pub const RECENT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvState {
    /// Someone holds it now.
    Held,
    /// The lease ran out without a release (the holder stopped renewing).
    Expired,
    Released,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCard {
    pub lock: Lock,
    pub state: EnvState,
}

impl EnvCard {
    /// When the lock stopped holding the env (`None` while held).
    pub fn ended_at(&self) -> Option<i64> {
        match self.state {
            EnvState::Held => None,
            EnvState::Expired => self.lock.expires_at,
            EnvState::Released => Some(self.lock.updated_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsOf {
    pub jobname: String,
    pub jobs: Overview,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// When the store was read (epoch ms, the earliest reading of the store's clock).
    pub read_at: i64,
    /// Held envs by name, then recently held ones, the most recently ended first.
    pub envs: Vec<EnvCard>,
    pub jobs: Vec<JobsOf>,
}

impl Board {
    pub fn held(&self) -> impl Iterator<Item = &EnvCard> {
        self.envs.iter().filter(|card| card.state == EnvState::Held)
    }
}

/// Reads the board: its envs ([`envs`]), and the running and skipped jobs of each of
/// `jobnames`.
pub async fn read(store: &dyn Store, jobnames: &[String]) -> Result<Board> {
    let time = store.now();
    let envs = cards_at(store, time).await?;
    let mut jobs = Vec::with_capacity(jobnames.len());
    for jobname in jobnames {
        jobs.push(JobsOf {
            jobname: jobname.clone(),
            jobs: jobs::overview(store, jobname, jobs::DEFAULT_WINDOW).await?,
        });
    }
    Ok(Board {
        read_at: time.earliest,
        envs,
        jobs,
    })
}

/// The envs the page lists: the `ActiveLocks` rows, and the locks released within [`RECENT`].
pub async fn envs(store: &dyn Store) -> Result<Vec<EnvCard>> {
    cards_at(store, store.now()).await
}

async fn cards_at(store: &dyn Store, time: StoreTime) -> Result<Vec<EnvCard>> {
    let since = time.earliest - RECENT.as_millis() as i64;
    // Each held env with its live line in serving order, as `locks list` shows it.
    let active = store
        .active_locks()
        .await?
        .into_iter()
        .map(|row| queue::as_listed(row, time))
        .collect();
    let released = store.released_locks(since).await?;
    Ok(cards(active, released, time, since))
}

/// Sorts rows into cards: held ones by env, then those that ended at or after `since`, the
/// most recent first. Older rows are dropped.
pub fn cards(active: Vec<Lock>, released: Vec<Lock>, time: StoreTime, since: i64) -> Vec<EnvCard> {
    let active = active.into_iter().map(|lock| {
        let state = if locks::is_held(&lock, time) {
            EnvState::Held
        } else {
            EnvState::Expired
        };
        EnvCard { lock, state }
    });
    let released = released.into_iter().map(|lock| EnvCard {
        lock,
        state: EnvState::Released,
    });
    let mut cards: Vec<EnvCard> = active
        .chain(released)
        .filter(|card| card.ended_at().is_none_or(|ended| ended >= since))
        .collect();
    cards.sort_by(|a, b| match (a.ended_at(), b.ended_at()) {
        (None, None) => a.lock.env.cmp(&b.lock.env),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.lock.env.cmp(&b.lock.env)),
    });
    cards
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(env: &str, active: bool, updated_at: i64, expires_at: Option<i64>) -> Lock {
        Lock {
            id: format!("id-{env}"),
            user: "alice".into(),
            holder: "alice".into(),
            env: env.into(),
            created_at: 0,
            updated_at,
            active,
            uberlock: expires_at.is_none(),
            meta: "CLI".into(),
            expires_at,
            fencing_token: 1,
            acquisitions: 1,
            revision: 1,
            queue: vec![],
            next_ticket: 0,
        }
    }

    #[test]
    fn held_envs_come_first_by_name_then_the_most_recently_ended() {
        let now = 10_000;
        let active = vec![
            lock("staging", true, 0, Some(20_000)),
            lock("prod", true, 0, None),
            lock("lapsed", true, 0, Some(9_000)),
            lock("long-lapsed", true, 0, Some(1_000)),
        ];
        let released = vec![lock("qa", false, 9_500, Some(30_000))];
        let cards = cards(active, released, StoreTime::exact(now), 5_000);
        let seen: Vec<_> = cards
            .iter()
            .map(|c| (c.lock.env.as_str(), c.state))
            .collect();
        assert_eq!(
            seen,
            [
                ("prod", EnvState::Held),
                ("staging", EnvState::Held),
                ("qa", EnvState::Released),
                ("lapsed", EnvState::Expired),
            ]
        );
    }
}
