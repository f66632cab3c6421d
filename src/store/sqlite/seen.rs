//! The embedded store's record of seen requests: a table of its own, made the first time it is
//! needed, and pruned of forgotten records by each write to it.

use super::SqliteStore;
use crate::error::Result;
use crate::model::now_ms;
use crate::store::seen::SeenRequests;
use async_trait::async_trait;
use rusqlite::{params, TransactionBehavior};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seen_requests (
    key      TEXT PRIMARY KEY,
    forgetAt INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_requests_forget ON seen_requests (forgetAt);
";

#[async_trait]
impl SeenRequests for SqliteStore {
    async fn first_sight(&self, key: &str, forget_at: i64) -> Result<bool> {
        let key = key.to_string();
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.execute(
                "DELETE FROM seen_requests WHERE forgetAt < ?1",
                params![now_ms()],
            )?;
            let added = tx.execute(
                "INSERT INTO seen_requests (key, forgetAt) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![key, forget_at],
            )?;
            tx.commit()?;
            Ok(added == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_write_prunes_the_records_past_their_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("locks.db"))
            .await
            .unwrap();
        let now = now_ms();
        assert!(store.first_sight("old", now - 1).await.unwrap());
        assert!(store.first_sight("new", now + 60_000).await.unwrap());
        let kept = store
            .with_conn(|conn, _| {
                let keys = conn
                    .prepare("SELECT key FROM seen_requests ORDER BY key")?
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(keys)
            })
            .await
            .unwrap();
        assert_eq!(kept, ["new"]);
    }
}
