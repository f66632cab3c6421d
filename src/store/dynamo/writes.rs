//! The items of the transaction that writes one lock row, each conditional on what the write
//! expects of the row ([`Expect`]), and the hold rows it records.

use super::items::{
    hold_item, lock_item, Item, ACQUISITIONS_ATTRIBUTE, NEXT_TICKET_ATTRIBUTE, QUEUE_ATTRIBUTE,
};
use super::DynamoStore;
use crate::model::Lock;
use crate::store::{Expect, LockWrite};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

impl DynamoStore {
    /// The items of a transaction that writes one lock row, conditional on what it expects of
    /// the row (its first item), and the hold rows it records.
    ///
    /// A write that changes the line puts the row whole: a waiter's heartbeat that lands between
    /// this writer's read and this write is undone (its `seenAt` goes back to the value read, at
    /// most a round trip old), which the three poll intervals a waiter may miss absorb. A
    /// holder's write ([`LockWrite::keeps_queue`]) updates the holder's attributes only, so it
    /// can come from the copy the holder last wrote, minutes old, without a read. A lock written
    /// unread updates the holder's attributes too (the line is empty, by its condition) and
    /// counts the acquisition in the row. A write claiming a copy kept on this machine sets only
    /// what it changes, on the condition that the row is that copy.
    pub(super) fn lock_write_items(
        &self,
        expected: &Expect,
        write: &LockWrite,
    ) -> Vec<TransactWriteItem> {
        let lock = match expected {
            Expect::Revision(revision) if write.keeps_queue => TransactWriteItem::builder()
                .update(Self::on_revision(
                    self.holder_update(write, false, None),
                    *revision,
                ))
                .build(),
            Expect::Claimed(copy) => {
                let update = claim(self.holder_update(write, false, Some(copy)), copy)
                    .build()
                    .expect("table, key and expression are set");
                TransactWriteItem::builder().update(update).build()
            }
            Expect::FreeBefore(stamp) => {
                let update = self
                    .holder_update(write, true, None)
                    // Expect::admits, as a condition; a row from before the count (no
                    // `acquisitions`) is read first, once, to count on from its fencing token.
                    .condition_expression(
                        "attribute_not_exists(#env) OR (#active = :false \
                         AND (attribute_not_exists(#queue) OR size(#queue) = :zero) \
                         AND #revision < :stamp AND #token < :stamp AND #updatedAt < :stamp \
                         AND attribute_exists(#acquisitions))",
                    )
                    .expression_attribute_names("#env", "env")
                    .expression_attribute_names("#active", "active")
                    .expression_attribute_names("#queue", QUEUE_ATTRIBUTE)
                    .expression_attribute_names("#revision", "revision")
                    .expression_attribute_names("#token", "fencingToken")
                    .expression_attribute_names("#updatedAt", "updatedAt")
                    .expression_attribute_values(":false", AttributeValue::Bool(false))
                    .expression_attribute_values(":stamp", AttributeValue::N(stamp.to_string()))
                    .build()
                    .expect("table, key and expression are set");
                TransactWriteItem::builder().update(update).build()
            }
            Expect::Absent | Expect::Revision(_) => {
                let put = Put::builder()
                    .table_name(&self.locks_table)
                    .set_item(Some(lock_item(&write.lock)))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    );
                let put = match expected {
                    Expect::Revision(revision) => put
                        .condition_expression("#revision = :expected")
                        .expression_attribute_names("#revision", "revision")
                        .expression_attribute_values(
                            ":expected",
                            AttributeValue::N(revision.to_string()),
                        ),
                    _ => put
                        .condition_expression("attribute_not_exists(#env)")
                        .expression_attribute_names("#env", "env"),
                };
                let put = put.build().expect("table name and item are set");
                TransactWriteItem::builder().put(put).build()
            }
        };
        let restamped = write.restamped.iter().map(|hold| {
            let delete = Delete::builder()
                .table_name(&self.history_table)
                .key("env", AttributeValue::S(write.lock.env.clone()))
                .key("hold", AttributeValue::S(hold.clone()))
                .build()
                .expect("table name and key are set");
            TransactWriteItem::builder().delete(delete).build()
        });
        let holds = write.holds.iter().map(|hold| {
            let put = Put::builder()
                .table_name(&self.history_table)
                .set_item(Some(hold_item(hold, self.history_retention)))
                .build()
                .expect("table name and item are set");
            TransactWriteItem::builder().put(put).build()
        });
        std::iter::once(lock)
            .chain(restamped)
            .chain(holds)
            .collect()
    }

    /// Sets every attribute of the lock row but its line and its count of acquisitions (and
    /// removes the lease of a row that has none), or, against a `claimed` row, only those that
    /// differ from it; with `counted`, adds one acquisition. The caller adds the condition.
    fn holder_update(
        &self,
        write: &LockWrite,
        counted: bool,
        claimed: Option<&Lock>,
    ) -> UpdateBuilder {
        let mut item = holder_attributes(&write.lock);
        if let Some(claimed) = claimed {
            let before = holder_attributes(claimed);
            item.retain(|name, value| before.get(name) != Some(value));
        }
        let key = AttributeValue::S(write.lock.env.clone());
        let mut update = Update::builder()
            .table_name(&self.locks_table)
            .key("env", key)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut sets = Vec::with_capacity(item.len() + 1);
        for (index, (name, value)) in item.into_iter().enumerate() {
            sets.push(format!("#a{index} = :a{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":a{index}"), value);
        }
        if counted {
            sets.push("#acquisitions = if_not_exists(#acquisitions, :zero) + :one".into());
            update = update
                .expression_attribute_names("#acquisitions", ACQUISITIONS_ATTRIBUTE)
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        let lease_removed = claimed.is_none_or(|claimed| claimed.expires_at.is_some());
        if write.lock.expires_at.is_none() && lease_removed {
            expression.push_str(" REMOVE #expiresAt");
            update = update.expression_attribute_names("#expiresAt", "expiresAt");
        }
        update.update_expression(expression)
    }

    /// A transaction item of `update`, on the row of revision `expected`.
    fn on_revision(update: UpdateBuilder, expected: u64) -> Update {
        update
            .condition_expression("#revision = :expected")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .expect("table, key and expression are set")
    }
}

/// The attributes of a lock item a holder's write sets: all but the key, the line and the
/// count of acquisitions.
fn holder_attributes(lock: &Lock) -> Item {
    let mut item = lock_item(lock);
    for name in [
        "env",
        QUEUE_ATTRIBUTE,
        NEXT_TICKET_ATTRIBUTE,
        ACQUISITIONS_ATTRIBUTE,
    ] {
        item.remove(name);
    }
    item
}

/// `update` on the condition that the row is `copy` (as `Expect::admits` checks a claim): at
/// its revision, held, and equal to it in every holder attribute. A row from before holders
/// (no `holder`) is held by its user.
fn claim(update: UpdateBuilder, copy: &Lock) -> UpdateBuilder {
    let string = |value: &str| AttributeValue::S(value.to_string());
    let number = |value: String| AttributeValue::N(value);
    let lease = match copy.expires_at {
        Some(_) => "#c_expiresAt = :c_expiresAt",
        None => "attribute_not_exists(#c_expiresAt)",
    };
    let mut update = update
        .condition_expression(format!(
            "#c_revision = :c_revision AND #c_active = :c_true AND #c_id = :c_id \
             AND #c_user = :c_user AND (#c_holder = :c_holder OR \
             (attribute_not_exists(#c_holder) AND #c_user = :c_holder)) \
             AND #c_createdAt = :c_createdAt AND #c_updatedAt = :c_updatedAt \
             AND #c_uberlock = :c_uberlock AND #c_meta = :c_meta \
             AND #c_fencingToken = :c_fencingToken AND {lease}"
        ))
        .expression_attribute_values(":c_true", AttributeValue::Bool(true));
    let values = [
        ("revision", Some(number(copy.revision.to_string()))),
        ("active", None),
        ("id", Some(string(&copy.id))),
        ("user", Some(string(&copy.user))),
        ("holder", Some(string(&copy.holder))),
        ("createdAt", Some(number(copy.created_at.to_string()))),
        ("updatedAt", Some(number(copy.updated_at.to_string()))),
        ("uberlock", Some(AttributeValue::Bool(copy.uberlock))),
        ("meta", Some(string(&copy.meta))),
        ("fencingToken", Some(number(copy.fencing_token.to_string()))),
        (
            "expiresAt",
            copy.expires_at.map(|at| number(at.to_string())),
        ),
    ];
    for (name, value) in values {
        update = update.expression_attribute_names(format!("#c_{name}"), name);
        if let Some(value) = value {
            update = update.expression_attribute_values(format!(":c_{name}"), value);
        }
    }
    update
}
