//! The shared store on DynamoDB. Locks are keyed by env, so a lock decision is one consistent
//! GetItem and one conditional PutItem. Jobs are keyed by version with a time-ordered UUIDv7
//! id, and a `ByJobname` index answers the recent-jobs window. Every listing is a Query, never a
//! Scan: active locks come from a sparse index that holds only active rows.

use super::{JobEnd, Store, Swap, TableStatus};
use crate::config::DynamoSettings;
use crate::error::{Error, Result};
use crate::model::{Job, Lock};
use async_trait::async_trait;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, IndexStatus,
    KeySchemaElement, KeyType, Projection, ProjectionType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TableDescription, TableStatus as DynamoTableStatus,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);
const TABLE_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Signing needs some region even when an endpoint override makes it meaningless.
const ENDPOINT_OVERRIDE_REGION: &str = "us-east-1";

/// Written only on active lock rows, so the `ActiveLocks` index holds active rows and nothing else.
const ACTIVE_SHARD_ATTRIBUTE: &str = "activeShard";
const ACTIVE_SHARD: &str = "active";

type Item = HashMap<String, AttributeValue>;

/// A key schema: the hash attribute and, for composite keys, the range attribute.
struct Key {
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

struct Index {
    name: &'static str,
    key: Key,
}

struct TableSpec<'a> {
    name: &'a str,
    key: Key,
    index: Index,
}

const LOCKS_KEY: Key = Key {
    hash: ("env", ScalarAttributeType::S),
    range: None,
};
const ACTIVE_LOCKS_INDEX: Index = Index {
    name: "ActiveLocks",
    key: Key {
        hash: (ACTIVE_SHARD_ATTRIBUTE, ScalarAttributeType::S),
        range: None,
    },
};
const JOBS_KEY: Key = Key {
    hash: ("version", ScalarAttributeType::S),
    range: Some(("id", ScalarAttributeType::S)),
};
const BY_JOBNAME_INDEX: Index = Index {
    name: "ByJobname",
    key: Key {
        hash: ("jobname", ScalarAttributeType::S),
        range: Some(("started", ScalarAttributeType::N)),
    },
};

pub struct DynamoStore {
    client: Client,
    region: String,
    endpoint: Option<String>,
    locks_table: String,
    jobs_table: String,
}

impl DynamoStore {
    /// Builds the client without sending anything; the first request reveals whether DynamoDB is
    /// reachable and the credentials are good.
    pub async fn connect(settings: &DynamoSettings) -> Result<DynamoStore> {
        if let Some(endpoint) = &settings.endpoint {
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return Err(Error::Config(format!(
                    "DynamoDB endpoint '{endpoint}' is not a URL; use one such as http://localhost:8000"
                )));
            }
        }
        let static_credentials = credentials_from_environment();
        let region = resolve_region(settings, static_credentials.is_some()).await?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .timeout_config(timeouts);
        if let Some(credentials) = static_credentials {
            loader = loader.credentials_provider(credentials);
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Ok(DynamoStore {
            client: Client::new(&loader.load().await),
            region: region.to_string(),
            endpoint: settings.endpoint.clone(),
            locks_table: settings.locks_table.clone(),
            jobs_table: settings.jobs_table.clone(),
        })
    }

    /// Every SDK failure becomes one short line here and nowhere else.
    fn store_error<E>(&self, table: &str, error: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        // A reply without an error code came from something that is not DynamoDB; that is
        // reported below as an unreachable endpoint.
        if let Some((service, code)) = error
            .as_service_error()
            .and_then(|service| Some((service, service.code()?)))
        {
            let message = one_line(service.message().unwrap_or(code));
            return match code {
                "ResourceNotFoundException" => Error::TableMissing {
                    table: table.to_string(),
                },
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException" => {
                    Error::Store(format!("DynamoDB rejected the credentials: {message}"))
                }
                "AccessDeniedException" => Error::Store(format!(
                    "DynamoDB denied access to table {table}: {message}"
                )),
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded" => Error::Store(format!(
                    "DynamoDB kept throttling requests to table {table}; try again shortly"
                )),
                _ => Error::Store(format!(
                    "DynamoDB refused a request to table {table} ({code}): {message}"
                )),
            };
        }
        if let Some(credentials) = find_source::<CredentialsError>(&error) {
            return credentials_error(credentials);
        }
        let reason = match &error {
            SdkError::TimeoutError(_) => "timed out".to_string(),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => "timed out".to_string(),
            SdkError::ResponseError(_) => format!("unreadable response: {}", root_cause(&error)),
            SdkError::ServiceError(reply) => format!(
                "it answered HTTP {}, which is not a DynamoDB reply",
                reply.raw().status().as_u16()
            ),
            _ => root_cause(&error),
        };
        Error::Store(format!(
            "cannot reach DynamoDB at {}: {reason}",
            self.location()
        ))
    }

    fn location(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("region {}", self.region),
        }
    }

    async fn query_all(&self, table: &str, query: QueryFluentBuilder) -> Result<Vec<Item>> {
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| self.store_error(table, error))
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

    /// Creates the table unless it exists, then waits until it and its index are ACTIVE. Checks
    /// the key schema on every look, so a mismatched table is refused before any waiting.
    async fn ensure_table(&self, spec: &TableSpec<'_>) -> Result<TableStatus> {
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

    async fn describe_table(&self, name: &str) -> Result<Option<TableDescription>> {
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
            .key
            .attributes()
            .chain(spec.index.key.attributes())
            .map(|(name, kind)| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(kind.clone())
                    .build()
                    .expect("name and type are set")
            })
            .collect();
        let index = GlobalSecondaryIndex::builder()
            .index_name(spec.index.name)
            .set_key_schema(Some(spec.index.key.elements()))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("name, key schema and projection are set");
        let request = self
            .client
            .create_table()
            .table_name(spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .set_key_schema(Some(spec.key.elements()))
            .global_secondary_indexes(index);
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

/// Static credentials from the environment skip the rest of the chain, so nothing probes
/// instance metadata before the first request.
fn credentials_from_environment() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// The standard region chain, except that instance metadata is only asked when the credentials
/// may come from it too: with environment credentials or an endpoint override, probing it would
/// only stall off EC2.
async fn resolve_region(settings: &DynamoSettings, static_credentials: bool) -> Result<Region> {
    if let Some(region) = &settings.region {
        return Ok(Region::new(region.clone()));
    }
    let mut chain = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::new());
    if !static_credentials && settings.endpoint.is_none() {
        chain = chain.or_else(ImdsRegionProvider::builder().build());
    }
    if let Some(region) = chain.region().await {
        return Ok(region);
    }
    if settings.endpoint.is_some() {
        return Ok(Region::from_static(ENDPOINT_OVERRIDE_REGION));
    }
    Err(Error::Config(
        "no AWS region configured for DynamoDB: set DAPLAYA_AWS_REGION or AWS_REGION".into(),
    ))
}

fn credentials_error(error: &CredentialsError) -> Error {
    match error {
        CredentialsError::CredentialsNotLoaded(_) => Error::Store(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into(),
        ),
        other => Error::Store(format!(
            "cannot load AWS credentials: {}",
            root_cause(other)
        )),
    }
}

fn find_source<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The innermost cause, which names the actual problem ("Connection refused (os error 111)")
/// where the outer layers only say "dispatch failure".
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    one_line(&innermost.to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
    let Some(index) = table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some(spec.index.name))
    else {
        return Some(format!("index {} is missing", spec.index.name));
    };
    let expected_key = describe_key(&spec.index.key.elements());
    let actual_key = describe_key(index.key_schema());
    if actual_key != expected_key {
        return Some(format!(
            "index {} key is {actual_key}, expected {expected_key}",
            spec.index.name
        ));
    }
    let projection = index.projection().and_then(|p| p.projection_type());
    if projection != Some(&ProjectionType::All) {
        return Some(format!(
            "index {} projects {}, expected ALL",
            spec.index.name,
            projection.map_or("nothing", |p| p.as_str())
        ));
    }
    spec.key
        .attributes()
        .chain(spec.index.key.attributes())
        .find_map(|(name, expected)| {
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

fn describe_key(elements: &[KeySchemaElement]) -> String {
    elements
        .iter()
        .map(|e| format!("{} ({})", e.attribute_name(), e.key_type().as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lock_item(lock: &Lock) -> Item {
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
    if lock.active {
        item.insert(
            ACTIVE_SHARD_ATTRIBUTE.into(),
            AttributeValue::S(ACTIVE_SHARD.into()),
        );
    }
    item
}

fn lock_from_item(table: &str, item: &Item) -> Result<Lock> {
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

fn job_item(job: &Job) -> Item {
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

fn job_from_item(table: &str, item: &Item) -> Result<Job> {
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

#[async_trait]
impl Store for DynamoStore {
    fn describe(&self) -> String {
        let endpoint = self
            .endpoint
            .as_ref()
            .map(|endpoint| format!(", endpoint {endpoint}"))
            .unwrap_or_default();
        format!(
            "dynamodb (region {}{endpoint}, tables {} / {})",
            self.region, self.locks_table, self.jobs_table
        )
    }

    async fn init(&self) -> Result<Vec<TableStatus>> {
        let locks = TableSpec {
            name: &self.locks_table,
            key: LOCKS_KEY,
            index: ACTIVE_LOCKS_INDEX,
        };
        let jobs = TableSpec {
            name: &self.jobs_table,
            key: JOBS_KEY,
            index: BY_JOBNAME_INDEX,
        };
        Ok(vec![
            self.ensure_table(&locks).await?,
            self.ensure_table(&jobs).await?,
        ])
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

    async fn swap_lock(&self, expected_revision: Option<u64>, next: &Lock) -> Result<Swap> {
        let table = &self.locks_table;
        let request = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(lock_item(next)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected_revision {
            None => request
                .condition_expression("attribute_not_exists(#env)")
                .expression_attribute_names("#env", "env"),
            Some(revision) => request
                .condition_expression("#revision = :expected")
                .expression_attribute_names("#revision", "revision")
                .expression_attribute_values(":expected", AttributeValue::N(revision.to_string())),
        };
        let error = match request.send().await {
            Ok(_) => return Ok(Swap::Done),
            Err(error) => error,
        };
        if let Some(PutItemError::ConditionalCheckFailedException(failed)) =
            error.as_service_error()
        {
            let current = failed.item().map(|item| lock_from_item(table, item));
            return Ok(Swap::Conflict(current.transpose()?));
        }
        Err(self.store_error(table, error))
    }

    async fn active_locks(&self) -> Result<Vec<Lock>> {
        let table = &self.locks_table;
        let query = self
            .client
            .query()
            .table_name(table)
            .index_name(ACTIVE_LOCKS_INDEX.name)
            .key_condition_expression("#shard = :active")
            .expression_attribute_names("#shard", ACTIVE_SHARD_ATTRIBUTE)
            .expression_attribute_values(":active", AttributeValue::S(ACTIVE_SHARD.into()));
        self.query_all(table, query)
            .await?
            .iter()
            .map(|item| lock_from_item(table, item))
            .collect()
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
