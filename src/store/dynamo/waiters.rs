//! A waiter's heartbeat: its `seenAt` in the line of each env it waits for, written only where
//! its entry still is, and never moving a row's revision (a heartbeat is not a lock change).

use super::items::QUEUE_ATTRIBUTE;
use super::transactions::{condition_failed, Transacted};
use super::DynamoStore;
use crate::error::Result;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

impl DynamoStore {
    /// Sets a waiter's `seenAt` on the rows of `envs` where its entry is; `false` when it is gone
    /// from one of them.
    pub(super) async fn touch_waiter_rows(
        &self,
        envs: &[String],
        waiter: &str,
        seen_at: i64,
    ) -> Result<bool> {
        let [env] = envs else {
            return self.touch_waiter_on_all(envs, waiter, seen_at).await;
        };
        let table = &self.locks_table;
        let update = self.touch_update(env, waiter, seen_at);
        let request = self
            .client
            .update_item()
            .table_name(table)
            .key("env", AttributeValue::S(env.clone()))
            .set_update_expression(update.get_update_expression().clone())
            .set_condition_expression(update.get_condition_expression().clone())
            .set_expression_attribute_names(update.get_expression_attribute_names().clone())
            .set_expression_attribute_values(update.get_expression_attribute_values().clone());
        self.conditional(table, request.send().await)
    }

    /// One waiter's heartbeat on several envs: one transaction of conditional updates.
    async fn touch_waiter_on_all(
        &self,
        envs: &[String],
        waiter: &str,
        seen_at: i64,
    ) -> Result<bool> {
        let items = envs
            .iter()
            .map(|env| {
                let update = self
                    .touch_update(env, waiter, seen_at)
                    .build()
                    .expect("table, key and expression are set");
                TransactWriteItem::builder().update(update).build()
            })
            .collect();
        Ok(match self.transact(items).await? {
            Transacted::Done => true,
            // A failed condition: its entry is gone from a row. Any other collision with
            // another write skips this heartbeat, which the waiter's margin of three poll
            // intervals absorbs; the next poll reads the rows.
            Transacted::LostRace(reasons) => !reasons.iter().any(condition_failed),
        })
    }

    /// Sets a waiter's `seenAt` on one env's row if its entry is there; the revision stays.
    fn touch_update(&self, env: &str, waiter: &str, seen_at: i64) -> UpdateBuilder {
        Update::builder()
            .table_name(&self.locks_table)
            .key("env", AttributeValue::S(env.to_string()))
            .update_expression("SET #queue.#waiter.#seenAt = :seenAt")
            .condition_expression("attribute_exists(#queue.#waiter)")
            .expression_attribute_names("#queue", QUEUE_ATTRIBUTE)
            .expression_attribute_names("#waiter", waiter)
            .expression_attribute_names("#seenAt", "seenAt")
            .expression_attribute_values(":seenAt", AttributeValue::N(seen_at.to_string()))
    }
}
