//! The locks this machine took, remembered on disk so that a later release of them by another
//! process of the same run (a CI job's cleanup step, the GitHub Action's post step) can go out
//! as one write on the copy, without reading the rows first ([`locks::release_from`]).
//!
//! A copy is only ever a claim: the release lands only if the row is still exactly the copy
//! (the store checks every attribute the copy claims, not just its revision), and anything else
//! makes it read and decide as always. So a missing, stale, unreadable or forged copy costs a
//! read, never a wrong release, and failing to remember is not an error. The directory is
//! another matter: one that others may write to is refused before anything is done
//! ([`state_dir`]).
//!
//! One small JSON file per store, env and holder, under `DAPLAYA_STATE_DIR`, else
//! `$XDG_RUNTIME_DIR/daplaya`, else `~/.cache/daplaya` (none of them set: nothing is
//! remembered).

mod state_dir;

use crate::config;
use crate::error::Result;
use crate::model::Lock;
use crate::store::Store;
use sha2::{Digest, Sha256};
use state_dir::StateDir;

/// This machine's copies of one store's locks.
pub struct Copies<'a> {
    dir: StateDir,
    store: &'a dyn Store,
}

/// The copies of `store`'s locks in the state dir the environment names, checked (an
/// existing dir that is not the user's alone is an error); `None` when copies are kept nowhere.
pub fn open(store: &dyn Store) -> Result<Option<Copies<'_>>> {
    let Some(path) = state_dir::configured(&config::process_env) else {
        return Ok(None);
    };
    Ok(StateDir::open(&path)?.map(|dir| Copies { dir, store }))
}

impl Copies<'_> {
    /// The file of one env's copy: named by a hash of the store (where it is, and whose
    /// credentials reach it), the env and the holder.
    fn name(&self, env: &str, holder: &str) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.store.describe(),
            std::env::var("AWS_PROFILE").unwrap_or_default(),
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            env.to_string(),
            holder.to_string(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        format!("held-{}.json", hex::encode(&hash.finalize()[..16]))
    }

    /// Remembers the locks just taken (each as written: its revision is what a release
    /// expects). A lock others wait behind is not remembered: its release reads the line it
    /// hands over.
    pub fn remember<'l>(&self, locks: impl IntoIterator<Item = &'l Lock>) {
        for lock in locks.into_iter().filter(|lock| lock.queue.is_empty()) {
            let Ok(bytes) = serde_json::to_vec(&RememberedLock::of(lock)) else {
                continue;
            };
            let _remembering_is_optional =
                self.dir.write(&self.name(&lock.env, &lock.holder), &bytes);
        }
    }

    /// The copies of `envs` held by `holder` for `user`, in order, if this machine remembers
    /// every one.
    pub fn recall(&self, envs: &[String], user: &str, holder: &str) -> Option<Vec<Lock>> {
        envs.iter()
            .map(|env| {
                let bytes = self.dir.read(&self.name(env, holder))?;
                let remembered: RememberedLock = serde_json::from_slice(&bytes).ok()?;
                Some(remembered.into_lock())
                    .filter(|lock| &lock.env == env && lock.user == user && lock.holder == holder)
            })
            .collect()
    }

    /// Forgets the copies of `envs` held by `holder` (released, or found stale).
    pub fn forget(&self, envs: &[String], holder: &str) {
        for env in envs {
            self.dir.remove(&self.name(env, holder));
        }
    }
}

/// A lock row as remembered: every field its holder wrote, the ones `--json` leaves out
/// included, but its line (`queue`, `next_ticket`: a lock others wait behind is not
/// remembered). Both conversions name every field of [`Lock`], so a field added to it does not
/// compile until it is remembered here or left out on purpose.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RememberedLock {
    id: String,
    user: String,
    holder: String,
    env: String,
    created_at: i64,
    updated_at: i64,
    active: bool,
    uberlock: bool,
    meta: String,
    expires_at: Option<i64>,
    fencing_token: u64,
    acquisitions: u64,
    revision: u64,
}

impl RememberedLock {
    fn of(lock: &Lock) -> RememberedLock {
        let Lock {
            id,
            user,
            holder,
            env,
            created_at,
            updated_at,
            active,
            uberlock,
            meta,
            expires_at,
            fencing_token,
            acquisitions,
            revision,
            queue: _,
            next_ticket: _,
        } = lock;
        RememberedLock {
            id: id.clone(),
            user: user.clone(),
            holder: holder.clone(),
            env: env.clone(),
            created_at: *created_at,
            updated_at: *updated_at,
            active: *active,
            uberlock: *uberlock,
            meta: meta.clone(),
            expires_at: *expires_at,
            fencing_token: *fencing_token,
            acquisitions: *acquisitions,
            revision: *revision,
        }
    }

    /// The row as its holder wrote it, nobody in line: what the release claims of the row.
    fn into_lock(self) -> Lock {
        Lock {
            queue: Vec::new(),
            id: self.id,
            user: self.user,
            holder: self.holder,
            env: self.env,
            created_at: self.created_at,
            updated_at: self.updated_at,
            active: self.active,
            uberlock: self.uberlock,
            meta: self.meta,
            expires_at: self.expires_at,
            fencing_token: self.fencing_token,
            acquisitions: self.acquisitions,
            revision: self.revision,
            next_ticket: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_lock_reads_back_as_the_row_its_holder_wrote() {
        let lock = Lock {
            id: "0190a2b3-lock".into(),
            user: "alice".into(),
            holder: "github:acme/shop/runs/9/attempts/1".into(),
            env: "production".into(),
            created_at: 1_000,
            updated_at: 2_000,
            active: true,
            uberlock: false,
            meta: "https://ci/9".into(),
            expires_at: Some(62_000),
            fencing_token: 1_000,
            acquisitions: 7,
            revision: 3,
            queue: Vec::new(),
            next_ticket: 0,
        };
        let bytes = serde_json::to_vec(&RememberedLock::of(&lock)).unwrap();
        let read: RememberedLock = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(read.into_lock(), lock);
    }
}
