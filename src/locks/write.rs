//! The rows one decision writes, and their write: every row or none, each conditional on what
//! the decision read.

use crate::error::Result;
use crate::model::Lock;
use crate::store::{Expect, LockWrite, Store, Swap, SwapAll};

/// The rows a request writes at once, each with what it expects of the row.
pub type Writes = Vec<(Expect, LockWrite)>;

/// Writes every row or none. `None` once written; after a lost race, the rows of `envs` (the
/// envs the writes were decided on) as they are now: for one row, as the store returned it.
pub(super) async fn write_all(
    store: &dyn Store,
    writes: &Writes,
    envs: &[String],
) -> Result<Option<Vec<Option<Lock>>>> {
    if let ([(expected, write)], [_]) = (writes.as_slice(), envs) {
        return Ok(match store.swap_lock(expected.clone(), write).await? {
            Swap::Done => None,
            Swap::Conflict(row) => Some(vec![row]),
        });
    }
    Ok(match store.swap_locks(writes).await? {
        SwapAll::Done => None,
        SwapAll::Conflict => Some(store.load_locks(envs).await?),
    })
}
