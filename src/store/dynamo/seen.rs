//! DynamoDB's record of seen requests: one item each in the history table, under a partition
//! key no env can have (env names are stored lowercased), with the table's TTL attribute set so
//! that DynamoDB deletes it by itself. Written with a condition, never read.

use super::items::HISTORY_TTL_ATTRIBUTE;
use super::DynamoStore;
use crate::error::Result;
use crate::store::seen::SeenRequests;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

/// The start of a seen request's partition key; the rest is the request's key.
const SEEN_PREFIX: &str = "Seen#";

#[async_trait]
impl SeenRequests for DynamoStore {
    async fn first_sight(&self, key: &str, forget_at: i64) -> Result<bool> {
        let table = &self.history_table;
        let written = self
            .client
            .put_item()
            .table_name(table)
            .item("env", AttributeValue::S(format!("{SEEN_PREFIX}{key}")))
            .item("hold", AttributeValue::S("seen".into()))
            .item(
                HISTORY_TTL_ATTRIBUTE,
                // TTL counts whole seconds: rounded up, so it is never forgotten early.
                AttributeValue::N(forget_at.div_euclid(1_000).saturating_add(1).to_string()),
            )
            .condition_expression("attribute_not_exists(#env)")
            .expression_attribute_names("#env", "env")
            .send()
            .await;
        self.conditional(table, written)
    }
}
