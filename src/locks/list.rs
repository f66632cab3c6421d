//! The envs someone holds or waits for now.

use super::queue::line::as_listed;
use super::time::is_held;
use crate::error::Result;
use crate::model::Lock;
use crate::store::Store;

/// The envs someone holds or waits for now, sorted by env, each with its live waiters in
/// serving order. An env that is free while others wait for it (they want another env too)
/// is listed with `active: false`.
pub async fn list(store: &dyn Store, env: Option<&str>) -> Result<Vec<Lock>> {
    let rows = match env {
        Some(env) => store.load_lock(env).await?.into_iter().collect(),
        None => {
            let mut rows = store.active_locks().await?;
            rows.extend(store.waited_locks().await?);
            rows
        }
    };
    let time = store.now();
    let mut locks: Vec<Lock> = rows
        .into_iter()
        .map(|row| Lock {
            active: is_held(&row, time),
            ..as_listed(row, time)
        })
        .filter(|lock| lock.active || !lock.queue.is_empty())
        .collect();
    locks.sort_by(|a, b| a.env.cmp(&b.env));
    Ok(locks)
}
