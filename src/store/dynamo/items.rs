//! Lock and job rows as DynamoDB items, keeping the seeds' attribute names; a malformed item
//! names the attribute at fault.

use super::tables::{released_shard, ACTIVE_SHARD, ACTIVE_SHARD_ATTRIBUTE};
use crate::error::{Error, Result};
use crate::model::{Job, Lock};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::str::FromStr;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn lock_item(lock: &Lock) -> Item {
    let mut item = Item::from([
        ("env".into(), AttributeValue::S(lock.env.clone())),
        ("id".into(), AttributeValue::S(lock.id.clone())),
        ("user".into(), AttributeValue::S(lock.user.clone())),
        (
            "createdAt".into(),
            AttributeValue::N(lock.created_at.to_string()),
        ),
        (
            "updatedAt".into(),
            AttributeValue::N(lock.updated_at.to_string()),
        ),
        ("active".into(), AttributeValue::Bool(lock.active)),
        ("uberlock".into(), AttributeValue::Bool(lock.uberlock)),
        ("meta".into(), AttributeValue::S(lock.meta.clone())),
        (
            "fencingToken".into(),
            AttributeValue::N(lock.fencing_token.to_string()),
        ),
        (
            "revision".into(),
            AttributeValue::N(lock.revision.to_string()),
        ),
    ]);
    if let Some(expires_at) = lock.expires_at {
        item.insert(
            "expiresAt".into(),
            AttributeValue::N(expires_at.to_string()),
        );
    }
    let shard = if lock.active {
        ACTIVE_SHARD.to_string()
    } else {
        released_shard(lock.updated_at)
    };
    item.insert(ACTIVE_SHARD_ATTRIBUTE.into(), AttributeValue::S(shard));
    item
}

pub(super) fn lock_from_item(table: &str, item: &Item) -> Result<Lock> {
    let fields = Fields { table, item };
    Ok(Lock {
        id: fields.string("id")?,
        user: fields.string("user")?,
        env: fields.string("env")?,
        created_at: fields.number("createdAt")?,
        updated_at: fields.number("updatedAt")?,
        active: fields.boolean("active")?,
        uberlock: fields.boolean("uberlock")?,
        meta: fields.string("meta")?,
        expires_at: fields.optional_number("expiresAt")?,
        fencing_token: fields.number("fencingToken")?,
        revision: fields.number("revision")?,
    })
}

pub(super) fn job_item(job: &Job) -> Item {
    let mut item = Item::from([
        ("version".into(), AttributeValue::S(job.version.clone())),
        ("id".into(), AttributeValue::S(job.id.clone())),
        ("user".into(), AttributeValue::S(job.user.clone())),
        ("jobname".into(), AttributeValue::S(job.jobname.clone())),
        ("started".into(), AttributeValue::N(job.started.to_string())),
        ("skipped".into(), AttributeValue::Bool(job.skipped)),
    ]);
    if let Some(ended) = job.ended {
        item.insert("ended".into(), AttributeValue::N(ended.to_string()));
    }
    item
}

pub(super) fn job_from_item(table: &str, item: &Item) -> Result<Job> {
    let fields = Fields { table, item };
    Ok(Job {
        id: fields.string("id")?,
        user: fields.string("user")?,
        jobname: fields.string("jobname")?,
        version: fields.string("version")?,
        started: fields.number("started")?,
        ended: fields.optional_number("ended")?,
        skipped: fields.boolean("skipped")?,
    })
}

/// Typed reads of an item's attributes; a wrong or missing attribute names itself.
struct Fields<'a> {
    table: &'a str,
    item: &'a Item,
}

impl Fields<'_> {
    fn string(&self, name: &str) -> Result<String> {
        match self.item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(self.malformed(name, "a string")),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool> {
        match self.item.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            _ => Err(self.malformed(name, "a boolean")),
        }
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<T> {
        self.optional_number(name)?
            .ok_or_else(|| self.malformed(name, "a number"))
    }

    fn optional_number<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| self.malformed(name, "an integer")),
            Some(_) => Err(self.malformed(name, "a number")),
        }
    }

    fn malformed(&self, name: &str, kind: &str) -> Error {
        Error::Store(format!(
            "table {} holds a malformed item: attribute {name} is missing or not {kind}",
            self.table
        ))
    }
}
