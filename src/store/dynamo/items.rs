//! Lock and job rows as DynamoDB items, keeping the first spec's attribute names; a malformed item
//! names the attribute at fault.

use super::tables::{released_shard, ACTIVE_SHARD, ACTIVE_SHARD_ATTRIBUTE, QUEUED_SHARD};
use crate::error::{Error, Result};
use crate::model::{Hold, HoldEnd, Job, Lock, Waiter};
use crate::store::valid;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::str::FromStr;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn lock_item(lock: &Lock) -> Item {
    let mut item = Item::from([
        ("env".into(), AttributeValue::S(lock.env.clone())),
        ("id".into(), AttributeValue::S(lock.id.clone())),
        ("user".into(), AttributeValue::S(lock.user.clone())),
        ("holder".into(), AttributeValue::S(lock.holder.clone())),
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
        (
            ACQUISITIONS_ATTRIBUTE.into(),
            AttributeValue::N(lock.acquisitions.to_string()),
        ),
        (QUEUE_ATTRIBUTE.into(), queue_value(&lock.queue)),
        (
            NEXT_TICKET_ATTRIBUTE.into(),
            AttributeValue::N(lock.next_ticket.to_string()),
        ),
    ]);
    if let Some(expires_at) = lock.expires_at {
        item.insert(
            "expiresAt".into(),
            AttributeValue::N(expires_at.to_string()),
        );
    }
    // A row nobody holds but someone waits for is listed too.
    let shard = if lock.active {
        ACTIVE_SHARD.to_string()
    } else if !lock.queue.is_empty() {
        QUEUED_SHARD.to_string()
    } else {
        released_shard(lock.updated_at)
    };
    item.insert(ACTIVE_SHARD_ATTRIBUTE.into(), AttributeValue::S(shard));
    item
}

/// A lock row, every number checked; a row from before holders reads as held by its user.
pub(super) fn lock_from_item(table: &str, item: &Item) -> Result<Lock> {
    let fields = Fields { table, item };
    let env = fields.string("env")?;
    let place = format!("table {table}");
    let row = valid::Row::lock(&env, &place);
    let stamp = |name| row.stamp(name, fields.wide(name, &row)?);
    let count = |name| row.count(name, fields.wide(name, &row)?);
    let user = fields.string("user")?;
    Ok(Lock {
        id: fields.string("id")?,
        holder: fields
            .optional_string("holder")?
            .unwrap_or_else(|| user.clone()),
        user,
        created_at: stamp("createdAt")?,
        updated_at: stamp("updatedAt")?,
        active: fields.boolean("active")?,
        uberlock: fields.boolean("uberlock")?,
        meta: fields.string("meta")?,
        expires_at: row.optional_stamp("expiresAt", fields.optional_wide("expiresAt", &row)?)?,
        fencing_token: count("fencingToken")?,
        // Rows written before the count have their fencing token, which counted acquisitions.
        acquisitions: match fields.optional_wide(ACQUISITIONS_ATTRIBUTE, &row)? {
            Some(count) => row.count(ACQUISITIONS_ATTRIBUTE, count)?,
            None => count("fencingToken")?,
        },
        revision: count("revision")?,
        queue: fields.queue(&row)?,
        // Rows written before the queue have neither attribute: an empty line, no ticket yet.
        next_ticket: match fields.optional_wide(NEXT_TICKET_ATTRIBUTE, &row)? {
            Some(ticket) => row.count(NEXT_TICKET_ATTRIBUTE, ticket)?,
            None => 0,
        },
        env: env.clone(),
    })
}

/// The map attribute of a lock row that holds its queue: waiter id -> entry.
pub(super) const QUEUE_ATTRIBUTE: &str = "queue";
pub(super) const NEXT_TICKET_ATTRIBUTE: &str = "nextTicket";
pub(super) const ACQUISITIONS_ATTRIBUTE: &str = "acquisitions";

pub(super) fn queue_value(queue: &[Waiter]) -> AttributeValue {
    AttributeValue::M(
        queue
            .iter()
            .map(|waiter| (waiter.id.clone(), waiter_value(waiter)))
            .collect(),
    )
}

fn waiter_value(waiter: &Waiter) -> AttributeValue {
    let number = |n: i64| AttributeValue::N(n.to_string());
    AttributeValue::M(Item::from([
        (
            "ticket".into(),
            AttributeValue::N(waiter.ticket.to_string()),
        ),
        ("user".into(), AttributeValue::S(waiter.user.clone())),
        ("meta".into(), AttributeValue::S(waiter.meta.clone())),
        ("joinedAt".into(), number(waiter.joined_at)),
        ("seenAt".into(), number(waiter.seen_at)),
        ("staleAfter".into(), number(waiter.stale_after)),
        ("supersede".into(), AttributeValue::Bool(waiter.supersede)),
        (
            "envs".into(),
            AttributeValue::L(
                waiter
                    .envs
                    .iter()
                    .map(|env| AttributeValue::S(env.clone()))
                    .collect(),
            ),
        ),
    ]))
}

/// The attribute DynamoDB's TTL deletes history rows by (epoch seconds).
pub(super) const HISTORY_TTL_ATTRIBUTE: &str = "expiresTtl";

pub(super) fn hold_item(hold: &Hold, retention: std::time::Duration) -> Item {
    let mut item = Item::from([
        ("env".into(), AttributeValue::S(hold.env.clone())),
        ("hold".into(), AttributeValue::S(hold.key())),
        ("id".into(), AttributeValue::S(hold.id.clone())),
        ("user".into(), AttributeValue::S(hold.user.clone())),
        ("holder".into(), AttributeValue::S(hold.holder.clone())),
        ("meta".into(), AttributeValue::S(hold.meta.clone())),
        ("uberlock".into(), AttributeValue::Bool(hold.uberlock)),
        (
            "fencingToken".into(),
            AttributeValue::N(hold.fencing_token.to_string()),
        ),
        (
            "acquiredAt".into(),
            AttributeValue::N(hold.acquired_at.to_string()),
        ),
        (
            HISTORY_TTL_ATTRIBUTE.into(),
            AttributeValue::N((hold.forget_at(retention) / 1_000).to_string()),
        ),
    ]);
    let optional = [
        (
            "expiresAt",
            hold.expires_at.map(|at| AttributeValue::N(at.to_string())),
        ),
        (
            "endedAt",
            hold.ended_at.map(|at| AttributeValue::N(at.to_string())),
        ),
        (
            "end",
            hold.end.map(|end| AttributeValue::S(end.as_str().into())),
        ),
        ("endedBy", hold.ended_by.clone().map(AttributeValue::S)),
        ("reason", hold.reason.clone().map(AttributeValue::S)),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value?))),
    );
    item
}

/// A hold row, every number checked; a hold from before holders was held by its user.
pub(super) fn hold_from_item(table: &str, item: &Item) -> Result<Hold> {
    let fields = Fields { table, item };
    let env = fields.string("env")?;
    let place = format!("table {table}");
    let row = valid::Row::hold(&env, &place);
    let optional_stamp = |name| row.optional_stamp(name, fields.optional_wide(name, &row)?);
    let end = fields.optional_string("end")?;
    let user = fields.string("user")?;
    Ok(Hold {
        id: fields.string("id")?,
        holder: fields
            .optional_string("holder")?
            .unwrap_or_else(|| user.clone()),
        user,
        meta: fields.string("meta")?,
        uberlock: fields.boolean("uberlock")?,
        fencing_token: row.count("fencingToken", fields.wide("fencingToken", &row)?)?,
        acquired_at: row.stamp("acquiredAt", fields.wide("acquiredAt", &row)?)?,
        expires_at: optional_stamp("expiresAt")?,
        ended_at: optional_stamp("endedAt")?,
        end: end
            .map(|end| HoldEnd::parse(&end).ok_or_else(|| fields.malformed("end", "a known end")))
            .transpose()?,
        ended_by: fields.optional_string("endedBy")?,
        reason: fields.optional_string("reason")?,
        env: env.clone(),
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

    fn optional_string(&self, name: &str) -> Result<Option<String>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(_) => Err(self.malformed(name, "a string")),
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

    /// A number of a row, read wide so that one out of any range is told as such.
    fn optional_wide(&self, name: &str, row: &valid::Row) -> Result<Option<i128>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| row.invalid(format!("{name} is {value}, not an integer"))),
            Some(_) => Err(self.malformed(name, "a number")),
        }
    }

    fn wide(&self, name: &str, row: &valid::Row) -> Result<i128> {
        self.optional_wide(name, row)?
            .ok_or_else(|| self.malformed(name, "a number"))
    }

    /// A lock row's queue; a row written before the queue has none.
    fn queue(&self, row: &valid::Row) -> Result<Vec<Waiter>> {
        let entries = match self.item.get(QUEUE_ATTRIBUTE) {
            None => return Ok(Vec::new()),
            Some(AttributeValue::M(entries)) => entries,
            Some(_) => return Err(self.malformed(QUEUE_ATTRIBUTE, "a map")),
        };
        entries
            .iter()
            .map(|(id, entry)| {
                let AttributeValue::M(item) = entry else {
                    return Err(self.malformed(QUEUE_ATTRIBUTE, "a map of maps"));
                };
                let fields = Fields {
                    table: self.table,
                    item,
                };
                let envs = match item.get("envs") {
                    Some(AttributeValue::L(envs)) => envs
                        .iter()
                        .map(|env| match env {
                            AttributeValue::S(env) => Ok(env.clone()),
                            _ => Err(self.malformed("queue envs", "a list of strings")),
                        })
                        .collect::<Result<_>>()?,
                    _ => return Err(self.malformed("queue envs", "a list")),
                };
                let stamp =
                    |name: &str| row.stamp(&format!("queue {name}"), fields.wide(name, row)?);
                Ok(Waiter {
                    id: id.clone(),
                    ticket: row.count("queue ticket", fields.wide("ticket", row)?)?,
                    user: fields.string("user")?,
                    meta: fields.string("meta")?,
                    joined_at: stamp("joinedAt")?,
                    seen_at: stamp("seenAt")?,
                    stale_after: stamp("staleAfter")?,
                    supersede: fields.boolean("supersede")?,
                    envs,
                })
            })
            .collect()
    }

    fn malformed(&self, name: &str, kind: &str) -> Error {
        Error::Store(format!(
            "table {} holds a malformed item: attribute {name} is missing or not {kind}",
            self.table
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waited_lock() -> Lock {
        Lock {
            id: "l".into(),
            user: "alice".into(),
            holder: "github:acme/shop/runs/9/attempts/1".into(),
            env: "production".into(),
            created_at: 1_000,
            updated_at: 1_000,
            active: false,
            uberlock: false,
            meta: "CLI".into(),
            expires_at: Some(61_000),
            fencing_token: 3,
            acquisitions: 3,
            revision: 7,
            queue: vec![Waiter {
                id: "w".into(),
                ticket: 2,
                user: "bob".into(),
                meta: "https://ci/9".into(),
                joined_at: 2_000,
                seen_at: 2_500,
                stale_after: 15_000,
                supersede: true,
                envs: vec!["production".into(), "staging".into()],
            }],
            next_ticket: 3,
        }
    }

    #[test]
    fn a_lock_item_keeps_its_queue_and_stays_listed_while_anyone_waits() {
        let lock = waited_lock();
        let item = lock_item(&lock);
        assert_eq!(lock_from_item("Locks", &item).unwrap(), lock);
        let shard = |lock: &Lock| lock_item(lock)[ACTIVE_SHARD_ATTRIBUTE].clone();
        assert_eq!(shard(&lock), AttributeValue::S(QUEUED_SHARD.into()));
        let held = Lock {
            active: true,
            ..lock.clone()
        };
        assert_eq!(shard(&held), AttributeValue::S(ACTIVE_SHARD.into()));
        let nobody = Lock {
            queue: Vec::new(),
            ..lock
        };
        assert_eq!(shard(&nobody), AttributeValue::S(released_shard(1_000)));
    }

    #[test]
    fn a_row_written_before_the_queue_reads_as_nobody_waiting() {
        let lock = Lock {
            queue: Vec::new(),
            next_ticket: 0,
            ..waited_lock()
        };
        let mut item = lock_item(&lock);
        item.remove(QUEUE_ATTRIBUTE);
        item.remove(NEXT_TICKET_ATTRIBUTE);
        assert_eq!(lock_from_item("Locks", &item).unwrap(), lock);
    }
}
