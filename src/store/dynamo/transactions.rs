//! Lock writes as DynamoDB transactions: sent in one place, and their failures mapped once. A
//! transaction that lost a race (a condition failed, or another transaction held one of its
//! items) is an answer the caller decides on; anything else is an error naming the table at
//! fault.

use super::items::lock_from_item;
use super::{errors, DynamoStore};
use crate::error::{Error, Result};
use crate::store::{Expect, LockWrite, Store, Swap, SwapAll};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

/// What a transaction came to.
pub(super) enum Transacted {
    Done,
    /// Cancelled by a lost race: why each item was refused, in the order of the items.
    LostRace(Vec<CancellationReason>),
}

/// Whether a cancellation reason is a failed condition (the item is not as expected), as
/// opposed to a collision with another transaction or no failure at all.
pub(super) fn condition_failed(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

impl DynamoStore {
    /// One lock row's write and its hold rows, in one transaction. A lost race is a conflict
    /// with the row as it is now: the lock row is the transaction's first item, which DynamoDB
    /// returns when its condition failed; else it is read again (the contended path).
    pub(super) async fn transact_lock_write(
        &self,
        expected: &Expect,
        write: &LockWrite,
    ) -> Result<Swap> {
        let items = self.lock_write_items(expected, write);
        let reasons = match self.transact(items).await? {
            Transacted::Done => return Ok(Swap::Done),
            Transacted::LostRace(reasons) => reasons,
        };
        let returned = reasons
            .first()
            .filter(|reason| condition_failed(reason))
            .and_then(|reason| reason.item());
        let current = match returned {
            Some(item) => Some(lock_from_item(&self.locks_table, item)?),
            None => self.load_lock(&write.lock.env).await?,
        };
        Ok(Swap::Conflict(current))
    }

    /// Several lock rows' writes and their hold rows, in one transaction: all, or none.
    pub(super) async fn transact_lock_writes(
        &self,
        writes: &[(Expect, LockWrite)],
    ) -> Result<SwapAll> {
        let items = writes
            .iter()
            .flat_map(|(expected, write)| self.lock_write_items(expected, write))
            .collect();
        Ok(match self.transact(items).await? {
            Transacted::Done => SwapAll::Done,
            Transacted::LostRace(_) => SwapAll::Conflict,
        })
    }

    /// Writes `items` all at once, or none of them.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transacted> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let error = match sent {
            Ok(_) => return Ok(Transacted::Done),
            Err(error) => error,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        {
            let reasons = cancelled.cancellation_reasons();
            let lost_race = reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                )
            });
            if lost_race {
                return Ok(Transacted::LostRace(reasons.to_vec()));
            }
        }
        Err(self.transaction_error(error).await)
    }

    /// A failed transaction that did not lose a race, as one line naming the table at fault.
    async fn transaction_error(&self, error: SdkError<TransactWriteItemsError>) -> Error {
        let table = &self.locks_table;
        match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Error::Store(format!(
                    "DynamoDB cancelled a lock write on tables {table} / {}: {}",
                    self.history_table,
                    errors::one_line(cancelled.message().unwrap_or("no reason given"))
                ))
            }
            Some(TransactWriteItemsError::ResourceNotFoundException(_)) => {
                // One of the two tables is missing: name the one that is.
                match self.describe_table(&self.history_table).await {
                    Ok(None) => Error::TableMissing {
                        table: self.history_table.clone(),
                    },
                    Ok(Some(_)) => Error::TableMissing {
                        table: table.clone(),
                    },
                    Err(error) => error,
                }
            }
            _ => self.store_error(table, error),
        }
    }
}
