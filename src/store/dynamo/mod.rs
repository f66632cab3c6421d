//! The shared store on DynamoDB. Locks are keyed by env, so a lock decision is one
//! TransactWriteItems (after a consistent GetItem, unless it takes a free env unread): the lock
//! row's conditional write and the Puts of the hold rows it records in the history table
//! (keyed by env and acquisition, so an env's newest holds are one Query). Jobs are keyed by version with a time-ordered UUIDv7 id, and a `ByJobname`
//! index answers the recent-jobs window. Every listing is a Query, never a Scan: active locks
//! come from a sparse index that holds only active rows.

mod client;
mod clock;
mod errors;
mod items;
mod seen;
mod tables;
mod transactions;
mod waiters;
mod writes;

use super::clock::{ServerClock, StoreTime};
use super::{Expect, JobEnd, LockWrite, Store, Swap, SwapAll, TableStatus};
use crate::error::{Error, Result};
use crate::model::{hold_key, now_ms, Hold, Job, Lock};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};
use aws_sdk_dynamodb::Client;
use items::{hold_from_item, job_from_item, job_item, lock_from_item, Item, HISTORY_TTL_ATTRIBUTE};
use std::sync::Arc;
use std::time::Duration;
use tables::{
    released_shards, TableSpec, ACTIVE_LOCKS_INDEX, ACTIVE_SHARD, ACTIVE_SHARD_ATTRIBUTE,
    BY_JOBNAME_INDEX, HISTORY_KEY, JOBS_KEY, LOCKS_KEY, QUEUED_SHARD,
};

pub struct DynamoStore {
    client: Client,
    /// DynamoDB's clock, learned from the responses of this client.
    clock: Arc<ServerClock>,
    region: String,
    endpoint: Option<String>,
    locks_table: String,
    jobs_table: String,
    history_table: String,
    history_retention: Duration,
}

impl DynamoStore {
    async fn query_all(&self, table: &str, query: QueryFluentBuilder) -> Result<Vec<Item>> {
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| self.store_error(table, error))
    }

    /// The rows of one `ActiveLocks` partition.
    async fn locks_in_shard(&self, shard: &str) -> Result<Vec<Lock>> {
        let table = &self.locks_table;
        let query = self
            .client
            .query()
            .table_name(table)
            .index_name(ACTIVE_LOCKS_INDEX.name)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", ACTIVE_SHARD_ATTRIBUTE)
            .expression_attribute_values(":shard", AttributeValue::S(shard.into()));
        self.query_all(table, query)
            .await?
            .iter()
            .map(|item| lock_from_item(table, item))
            .collect()
    }

    async fn query_jobs(&self, query: QueryFluentBuilder) -> Result<Vec<Job>> {
        let table = &self.jobs_table;
        let mut jobs = self
            .query_all(table, query.table_name(table))
            .await?
            .iter()
            .map(|item| job_from_item(table, item))
            .collect::<Result<Vec<_>>>()?;
        // Jobs started in the same millisecond come back in no particular order; the id breaks the tie.
        jobs.sort_by(|a, b| (b.started, &b.id).cmp(&(a.started, &a.id)));
        Ok(jobs)
    }
}

#[async_trait]
impl Store for DynamoStore {
    fn describe(&self) -> String {
        let endpoint = self
            .endpoint
            .as_ref()
            .map(|endpoint| format!(", endpoint {endpoint}"))
            .unwrap_or_default();
        format!(
            "dynamodb (region {}{endpoint}, tables {} / {} / {})",
            self.region, self.locks_table, self.jobs_table, self.history_table
        )
    }

    /// DynamoDB's clock as its responses told it; this machine's clock until one has.
    fn now(&self) -> StoreTime {
        self.clock
            .now()
            .unwrap_or_else(|| StoreTime::exact(now_ms()))
    }

    fn knows_clock(&self) -> bool {
        self.clock.now().is_some()
    }

    async fn init(&self) -> Result<Vec<TableStatus>> {
        let locks = TableSpec {
            name: &self.locks_table,
            key: LOCKS_KEY,
            index: Some(ACTIVE_LOCKS_INDEX),
        };
        let jobs = TableSpec {
            name: &self.jobs_table,
            key: JOBS_KEY,
            index: Some(BY_JOBNAME_INDEX),
        };
        let history = TableSpec {
            name: &self.history_table,
            key: HISTORY_KEY,
            index: None,
        };
        let tables = vec![
            self.ensure_table(&locks).await?,
            self.ensure_table(&jobs).await?,
            self.ensure_table(&history).await?,
        ];
        self.ensure_ttl(&self.history_table, HISTORY_TTL_ATTRIBUTE)
            .await?;
        Ok(tables)
    }

    async fn load_lock(&self, env: &str) -> Result<Option<Lock>> {
        let table = &self.locks_table;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("env", AttributeValue::S(env.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.store_error(table, error))?;
        output
            .item()
            .map(|item| lock_from_item(table, item))
            .transpose()
    }

    async fn swap_lock(&self, expected: Expect, write: &LockWrite) -> Result<Swap> {
        self.transact_lock_write(&expected, write).await
    }

    async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>> {
        if let [env] = envs {
            return Ok(vec![self.load_lock(env).await?]);
        }
        let table = &self.locks_table;
        let keys = |envs: &[String]| {
            KeysAndAttributes::builder()
                .set_keys(Some(
                    envs.iter()
                        .map(|env| Item::from([("env".into(), AttributeValue::S(env.clone()))]))
                        .collect(),
                ))
                .consistent_read(true)
                .build()
                .expect("keys are set")
        };
        let mut found: Vec<Lock> = Vec::with_capacity(envs.len());
        let mut wanted = Some(keys(envs));
        // DynamoDB may leave keys unprocessed under load: they are asked for again.
        while let Some(request) = wanted.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|error| self.store_error(table, error))?;
            for item in output
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
            {
                found.push(lock_from_item(table, item)?);
            }
            wanted = output
                .unprocessed_keys()
                .and_then(|unprocessed| unprocessed.get(table))
                .filter(|left| !left.keys().is_empty())
                .cloned();
        }
        Ok(envs
            .iter()
            .map(|env| {
                found
                    .iter()
                    .position(|lock| &lock.env == env)
                    .map(|at| found.swap_remove(at))
            })
            .collect())
    }

    async fn swap_locks(&self, writes: &[(Expect, LockWrite)]) -> Result<SwapAll> {
        if let [(expected, write)] = writes {
            return Ok(match self.transact_lock_write(expected, write).await? {
                Swap::Done => SwapAll::Done,
                Swap::Conflict(_) => SwapAll::Conflict,
            });
        }
        self.transact_lock_writes(writes).await
    }

    async fn touch_waiter(&self, envs: &[String], waiter: &str, seen_at: i64) -> Result<bool> {
        self.touch_waiter_rows(envs, waiter, seen_at).await
    }

    async fn holds(&self, env: &str, since: Option<i64>, limit: usize) -> Result<Vec<Hold>> {
        let table = &self.history_table;
        let output = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("#env = :env AND #hold >= :from")
            .expression_attribute_names("#env", "env")
            .expression_attribute_names("#hold", "hold")
            .expression_attribute_values(":env", AttributeValue::S(env.to_string()))
            .expression_attribute_values(":from", AttributeValue::S(hold_key(since.unwrap_or(0))))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.store_error(table, error))?;
        output
            .items()
            .iter()
            .map(|item| hold_from_item(table, item))
            .collect()
    }

    async fn active_locks(&self) -> Result<Vec<Lock>> {
        self.locks_in_shard(ACTIVE_SHARD).await
    }

    async fn waited_locks(&self) -> Result<Vec<Lock>> {
        self.locks_in_shard(QUEUED_SHARD).await
    }

    async fn released_locks(&self, since: i64) -> Result<Vec<Lock>> {
        let mut locks = Vec::new();
        // A released env someone waits for sits in the queued partition meanwhile.
        let shards = released_shards(since, crate::model::now_ms())
            .into_iter()
            .chain([QUEUED_SHARD.to_string()]);
        for shard in shards {
            locks.extend(
                self.locks_in_shard(&shard)
                    .await?
                    .into_iter()
                    .filter(|lock| !lock.active && lock.updated_at >= since),
            );
        }
        locks.sort_by(|a, b| (b.updated_at, &a.env).cmp(&(a.updated_at, &b.env)));
        Ok(locks)
    }

    async fn insert_job(&self, job: &Job) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.jobs_table)
            .set_item(Some(job_item(job)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", "id")
            .send()
            .await
            .map_err(|error| self.store_error(&self.jobs_table, error))?;
        Ok(())
    }

    async fn jobs_for_version(&self, version: &str) -> Result<Vec<Job>> {
        let query = self
            .client
            .query()
            .key_condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::S(version.to_string()))
            .consistent_read(true)
            .scan_index_forward(false);
        self.query_jobs(query).await
    }

    async fn end_job(&self, job: &Job, ended: i64, skipped: bool) -> Result<JobEnd> {
        let table = &self.jobs_table;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .key("version", AttributeValue::S(job.version.clone()))
            .key("id", AttributeValue::S(job.id.clone()))
            .update_expression("SET #ended = :ended, #skipped = :skipped")
            // attribute_exists keeps UpdateItem from creating a stub row for a vanished job.
            .condition_expression("attribute_exists(#id) AND attribute_not_exists(#ended)")
            .expression_attribute_names("#id", "id")
            .expression_attribute_names("#ended", "ended")
            .expression_attribute_names("#skipped", "skipped")
            .expression_attribute_values(":ended", AttributeValue::N(ended.to_string()))
            .expression_attribute_values(":skipped", AttributeValue::Bool(skipped))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let error = match request.send().await {
            Ok(_) => return Ok(JobEnd::Done),
            Err(error) => error,
        };
        if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) =
            error.as_service_error()
        {
            return match failed.item() {
                Some(item) => Ok(JobEnd::AlreadyEnded(job_from_item(table, item)?)),
                None => Err(Error::NotFound(format!(
                    "job {} at version {} no longer exists",
                    job.id, job.version
                ))),
            };
        }
        Err(self.store_error(table, error))
    }

    async fn recent_jobs(&self, jobname: &str, since: i64) -> Result<Vec<Job>> {
        let query = self
            .client
            .query()
            .index_name(BY_JOBNAME_INDEX.name)
            .key_condition_expression("#jobname = :jobname AND #started >= :since")
            .expression_attribute_names("#jobname", "jobname")
            .expression_attribute_names("#started", "started")
            .expression_attribute_values(":jobname", AttributeValue::S(jobname.to_string()))
            .expression_attribute_values(":since", AttributeValue::N(since.to_string()))
            .scan_index_forward(false);
        self.query_jobs(query).await
    }
}
