//! Requests a store remembers for a while, so that each is acted on once: a signed Slack
//! request replayed within its signature's window is refused (docs/slack.md). Both stores keep
//! the record where every server and serverless instance using them sees it, across restarts,
//! and forget it by themselves: DynamoDB's TTL, a prune in SQLite.

use crate::error::Result;
use async_trait::async_trait;

#[async_trait]
pub trait SeenRequests {
    /// Records `key` as seen until `forget_at` (epoch ms) and says whether it was news: `false`
    /// (and nothing written) when a record of it is kept already. A record may outlive
    /// `forget_at` until the store gets round to forgetting it, so a key must never be used
    /// again for another request.
    async fn first_sight(&self, key: &str, forget_at: i64) -> Result<bool>;
}
