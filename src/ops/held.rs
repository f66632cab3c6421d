//! The locks this machine took, remembered on disk so that a later release of them by another
//! process of the same user (a CI job's cleanup step, the GitHub Action's post step) can go
//! out as one write on the copy, without reading the rows first ([`locks::release_from`]).
//!
//! A copy is only ever a guess: the release lands only if the row is still exactly the copy
//! (same revision), and anything else makes it read and decide as always. So a missing,
//! stale or unreadable copy costs a read, never a wrong release, and failing to remember
//! is not an error.
//!
//! One small JSON file per store, env and user, under `DAPLAYA_STATE_DIR`, else
//! `$XDG_RUNTIME_DIR/daplaya`, else `~/.cache/daplaya` (none of them set: nothing is
//! remembered).

use crate::model::Lock;
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Where copies are kept, if anywhere.
fn dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = std::env::var_os("DAPLAYA_STATE_DIR") {
        // Set but empty: remember nothing.
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    set("XDG_RUNTIME_DIR")
        .map(|dir| PathBuf::from(dir).join("daplaya"))
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache").join("daplaya")))
}

/// The file of one env's copy: named by a hash of the store (where it is, and whose
/// credentials reach it), the env and the user.
fn file(store: &dyn Store, env: &str, user: &str) -> Option<PathBuf> {
    let mut hash = Sha256::new();
    for part in [
        store.describe(),
        std::env::var("AWS_PROFILE").unwrap_or_default(),
        std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
        env.to_string(),
        user.to_string(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let name = format!("held-{}.json", hex::encode(&hash.finalize()[..16]));
    dir().map(|dir| dir.join(name))
}

/// Remembers the locks just taken (each as written: its revision is what a release expects).
/// A lock others wait behind is not remembered: its release reads the line it hands over.
pub fn remember<'a>(store: &dyn Store, locks: impl IntoIterator<Item = &'a Lock>) {
    for lock in locks.into_iter().filter(|lock| lock.queue.is_empty()) {
        let Some(path) = file(store, &lock.env, &lock.user) else {
            return;
        };
        let _remembering_is_optional = write(&path, &Copy::of(lock));
    }
}

fn write(path: &std::path::Path, copy: &Copy) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        // Only its user may read or change the copies: a release writes what they say.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    // Written whole under another name, then renamed: a reader never sees half a copy.
    let partial = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&partial, serde_json::to_vec(copy)?)?;
    std::fs::rename(&partial, path)
}

/// The copies of `envs` held by `user`, in order, if this machine remembers every one.
pub fn recall(store: &dyn Store, envs: &[String], user: &str) -> Option<Vec<Lock>> {
    envs.iter()
        .map(|env| {
            let text = std::fs::read(file(store, env, user)?).ok()?;
            let copy: Copy = serde_json::from_slice(&text).ok()?;
            Some(copy.into_lock()).filter(|lock| &lock.env == env && lock.user == user)
        })
        .collect()
}

/// Forgets the copies of `envs` held by `user` (released, or found stale).
pub fn forget(store: &dyn Store, envs: &[String], user: &str) {
    for env in envs {
        if let Some(path) = file(store, env, user) {
            let _gone_already_is_fine = std::fs::remove_file(path);
        }
    }
}

/// A lock row as remembered: every field, the ones `--json` leaves out included.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Copy {
    id: String,
    user: String,
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

impl Copy {
    fn of(lock: &Lock) -> Copy {
        Copy {
            id: lock.id.clone(),
            user: lock.user.clone(),
            env: lock.env.clone(),
            created_at: lock.created_at,
            updated_at: lock.updated_at,
            active: lock.active,
            uberlock: lock.uberlock,
            meta: lock.meta.clone(),
            expires_at: lock.expires_at,
            fencing_token: lock.fencing_token,
            acquisitions: lock.acquisitions,
            revision: lock.revision,
        }
    }

    /// The row as it was written, nobody in line.
    fn into_lock(self) -> Lock {
        Lock {
            queue: Vec::new(),
            id: self.id,
            user: self.user,
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
