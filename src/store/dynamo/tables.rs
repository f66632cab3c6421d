//! Table provisioning for `init`: the key schemas and indexes daplaya needs, creating them
//! (on-demand billing), waiting until they are ACTIVE, and refusing a table of the same name
//! with another schema.

use super::DynamoStore;
use crate::error::{Error, Result};
use crate::store::TableStatus;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableDescription,
    TableStatus as DynamoTableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use std::time::Duration;

const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);
const TABLE_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The `ActiveLocks` index key: `active` on active rows; `queued` on inactive rows with anyone
/// in their queue; `released#<UTC day>` on the other released rows, so the envs released in a
/// window are a Query per day of it (and of `queued`), and `locks list` (which reads only the
/// `active` and `queued` partitions) never sees them.
pub(super) const ACTIVE_SHARD_ATTRIBUTE: &str = "activeShard";
pub(super) const ACTIVE_SHARD: &str = "active";
pub(super) const QUEUED_SHARD: &str = "queued";
/// How far a writer's clock may run ahead of or behind ours when picking the days to read.
const RELEASED_DAY_MARGIN_MS: i64 = 10 * 60_000;
const DAY_MS: i64 = 86_400_000;

pub(super) fn released_shard(updated_at: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(updated_at)
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    format!("released#{day}")
}

/// The day partitions a release at or after `since` can be in, given our clock `now`.
pub(super) fn released_shards(since: i64, now: i64) -> Vec<String> {
    let first = (since - RELEASED_DAY_MARGIN_MS).div_euclid(DAY_MS);
    let last = (now.max(since) + RELEASED_DAY_MARGIN_MS).div_euclid(DAY_MS);
    (first..=last)
        .map(|day| released_shard(day * DAY_MS))
        .collect()
}

/// A key schema: the hash attribute and, for composite keys, the range attribute.
pub(super) struct Key {
    hash: (&'static str, ScalarAttributeType),
    range: Option<(&'static str, ScalarAttributeType)>,
}

impl Key {
    fn attributes(&self) -> impl Iterator<Item = &(&'static str, ScalarAttributeType)> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    fn elements(&self) -> Vec<KeySchemaElement> {
        let hash = std::iter::once((self.hash.0, KeyType::Hash));
        let range = self.range.iter().map(|(name, _)| (*name, KeyType::Range));
        hash.chain(range)
            .map(|(name, key_type)| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(key_type)
                    .build()
                    .expect("name and key type are set")
            })
            .collect()
    }
}

pub(super) struct Index {
    pub(super) name: &'static str,
    pub(super) key: Key,
}

pub(super) struct TableSpec<'a> {
    pub(super) name: &'a str,
    pub(super) key: Key,
    pub(super) index: Option<Index>,
}

impl TableSpec<'_> {
    /// Every attribute a key of the table or its index names, with its type.
    fn key_attributes(&self) -> impl Iterator<Item = &(&'static str, ScalarAttributeType)> {
        self.key
            .attributes()
            .chain(self.index.iter().flat_map(|index| index.key.attributes()))
    }
}

pub(super) const LOCKS_KEY: Key = Key {
    hash: ("env", ScalarAttributeType::S),
    range: None,
};
pub(super) const ACTIVE_LOCKS_INDEX: Index = Index {
    name: "ActiveLocks",
    key: Key {
        hash: (ACTIVE_SHARD_ATTRIBUTE, ScalarAttributeType::S),
        range: None,
    },
};
pub(super) const JOBS_KEY: Key = Key {
    hash: ("version", ScalarAttributeType::S),
    range: Some(("id", ScalarAttributeType::S)),
};
/// One row per hold: the env's partition, sorted by acquisition (`model::Hold::key`).
pub(super) const HISTORY_KEY: Key = Key {
    hash: ("env", ScalarAttributeType::S),
    range: Some(("hold", ScalarAttributeType::S)),
};
pub(super) const BY_JOBNAME_INDEX: Index = Index {
    name: "ByJobname",
    key: Key {
        hash: ("jobname", ScalarAttributeType::S),
        range: Some(("started", ScalarAttributeType::N)),
    },
};

impl DynamoStore {
    /// Creates the table unless it exists, then waits until it and its index are ACTIVE. Checks
    /// the key schema on every look, so a mismatched table is refused before any waiting.
    pub(super) async fn ensure_table(&self, spec: &TableSpec<'_>) -> Result<TableStatus> {
        let deadline = tokio::time::Instant::now() + TABLE_READY_TIMEOUT;
        let mut created = None;
        loop {
            let status = match self.describe_table(spec.name).await? {
                Some(table) => {
                    if let Some(detail) = schema_difference(&table, spec) {
                        return Err(Error::SchemaMismatch {
                            table: spec.name.to_string(),
                            detail,
                        });
                    }
                    if is_ready(&table) {
                        return Ok(TableStatus {
                            name: spec.name.to_string(),
                            created: created.unwrap_or(false),
                        });
                    }
                    table
                        .table_status()
                        .map_or("unknown", |s| s.as_str())
                        .to_string()
                }
                None if created.is_none() => {
                    created = Some(self.create_table(spec).await?);
                    continue;
                }
                // Just created: DescribeTable may not see it yet.
                None => "not visible yet".to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Store(format!(
                    "table {} did not become ACTIVE within {} seconds (status {status})",
                    spec.name,
                    TABLE_READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(TABLE_POLL_INTERVAL).await;
        }
    }

    /// Switches on DynamoDB's TTL on `attribute`, unless it is on (or being switched on)
    /// already; a TTL on another attribute is refused, since a table has only one.
    pub(super) async fn ensure_ttl(&self, table: &str, attribute: &str) -> Result<()> {
        if self.ttl_is_on(table, attribute).await? {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attribute)
            .build()
            .expect("enabled and attribute name are set");
        let switched = self
            .client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(specification)
            .send()
            .await;
        match switched {
            Ok(_) => Ok(()),
            // A concurrent `init` switched it on first.
            Err(_) if self.ttl_is_on(table, attribute).await? => Ok(()),
            Err(error) => Err(self.store_error(table, error)),
        }
    }

    /// Whether TTL is on (or being switched on) on `attribute`; TTL on another one is a
    /// schema mismatch.
    async fn ttl_is_on(&self, table: &str, attribute: &str) -> Result<bool> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .map_err(|error| self.store_error(table, error))?;
        let ttl = described.time_to_live_description();
        let on = matches!(
            ttl.and_then(|ttl| ttl.time_to_live_status()),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        match ttl.and_then(|ttl| ttl.attribute_name()) {
            Some(current) if on && current != attribute => Err(Error::SchemaMismatch {
                table: table.to_string(),
                detail: format!("TTL is on attribute {current}, expected {attribute}"),
            }),
            _ => Ok(on),
        }
    }

    pub(super) async fn describe_table(&self, name: &str) -> Result<Option<TableDescription>> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(output) => Ok(output.table),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(self.store_error(name, error)),
        }
    }

    /// False when a concurrent `init` created the table first.
    async fn create_table(&self, spec: &TableSpec<'_>) -> Result<bool> {
        let definitions = spec
            .key_attributes()
            .map(|(name, kind)| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(kind.clone())
                    .build()
                    .expect("name and type are set")
            })
            .collect();
        let index = spec.index.as_ref().map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(index.key.elements()))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("name, key schema and projection are set")
        });
        let request = self
            .client
            .create_table()
            .table_name(spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .set_key_schema(Some(spec.key.elements()))
            .set_global_secondary_indexes(index.map(|index| vec![index]));
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(self.store_error(spec.name, error)),
        }
    }
}

fn is_ready(table: &TableDescription) -> bool {
    table.table_status() == Some(&DynamoTableStatus::Active)
        && table
            .global_secondary_indexes()
            .iter()
            .all(|index| index.index_status() == Some(&IndexStatus::Active))
}

/// What differs between an existing table and the one daplaya needs, in words.
fn schema_difference(table: &TableDescription, spec: &TableSpec<'_>) -> Option<String> {
    let expected_key = describe_key(&spec.key.elements());
    let actual_key = describe_key(table.key_schema());
    if actual_key != expected_key {
        return Some(format!("key is {actual_key}, expected {expected_key}"));
    }
    if let Some(difference) = spec
        .index
        .as_ref()
        .and_then(|index| index_difference(table, index))
    {
        return Some(difference);
    }
    spec.key_attributes().find_map(|(name, expected)| {
        let actual = table
            .attribute_definitions()
            .iter()
            .find(|definition| definition.attribute_name() == *name)?
            .attribute_type();
        (actual != expected).then(|| {
            format!(
                "attribute {name} is {}, expected {}",
                actual.as_str(),
                expected.as_str()
            )
        })
    })
}

fn index_difference(table: &TableDescription, index: &Index) -> Option<String> {
    let Some(found) = table
        .global_secondary_indexes()
        .iter()
        .find(|found| found.index_name() == Some(index.name))
    else {
        return Some(format!("index {} is missing", index.name));
    };
    let expected_key = describe_key(&index.key.elements());
    let actual_key = describe_key(found.key_schema());
    if actual_key != expected_key {
        return Some(format!(
            "index {} key is {actual_key}, expected {expected_key}",
            index.name
        ));
    }
    let projection = found.projection().and_then(|p| p.projection_type());
    (projection != Some(&ProjectionType::All)).then(|| {
        format!(
            "index {} projects {}, expected ALL",
            index.name,
            projection.map_or("nothing", |p| p.as_str())
        )
    })
}

fn describe_key(elements: &[KeySchemaElement]) -> String {
    elements
        .iter()
        .map(|e| format!("{} ({})", e.attribute_name(), e.key_type().as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_23_NOON: i64 = 1_795_435_200_000;

    #[test]
    fn a_release_is_filed_under_its_utc_day() {
        assert_eq!(released_shard(NOV_23_NOON), "released#2026-11-23");
    }

    #[test]
    fn a_window_reads_every_day_it_touches_plus_a_margin_for_skewed_clocks() {
        assert_eq!(
            released_shards(NOV_23_NOON - 3_600_000, NOV_23_NOON),
            ["released#2026-11-23"]
        );
        assert_eq!(
            released_shards(NOV_23_NOON - DAY_MS, NOV_23_NOON),
            ["released#2026-11-22", "released#2026-11-23"]
        );
        // Five minutes before midnight: a writer whose clock is ahead filed it under tomorrow.
        let before_midnight = NOV_23_NOON + 12 * 3_600_000 - 5 * 60_000;
        assert_eq!(
            released_shards(before_midnight - 60_000, before_midnight),
            ["released#2026-11-23", "released#2026-11-24"]
        );
    }
}
