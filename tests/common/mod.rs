//! Fixtures shared by the Rust integration tests: fresh stores of each kind, and records.
#![allow(dead_code)] // each test crate uses its own part of this module

use daplaya::config::DynamoSettings;
use daplaya::locks::{Authority, LockRequest, Meta, ReleaseRequest};
use daplaya::model::{Hold, Job, Lock};
use daplaya::store::dynamo::DynamoStore;
use daplaya::store::sqlite::SqliteStore;
use daplaya::store::{Expect, LockWrite, Store};
use std::path::PathBuf;
use std::time::Duration;

pub const REGION: &str = "us-east-1";

/// One test function, run once per store (each test crate imports `Fixture` at its root).
#[allow(unused_macros)] // dynamo_store.rs runs against DynamoDB only
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(fixture) = super::Fixture::dynamodb(stringify!($name)).await {
                        super::$name(fixture).await
                    }
                }
            )*
        }
    };
}

/// A store nobody else uses; `connect` may be called many times for separate clients of it.
pub enum Fixture {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Dynamo(DynamoSettings),
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks.db");
        Fixture::Sqlite { _dir: dir, path }
    }

    /// `None` (after a note) when no DynamoDB endpoint is configured for tests.
    pub async fn dynamodb(test: &str) -> Option<Fixture> {
        let settings = fresh_settings(test)?;
        DynamoStore::connect(&settings)
            .await
            .unwrap()
            .init()
            .await
            .unwrap();
        Some(Fixture::Dynamo(settings))
    }

    pub async fn connect(&self) -> Box<dyn Store> {
        match self {
            Fixture::Sqlite { path, .. } => Box::new(SqliteStore::open(path).await.unwrap()),
            Fixture::Dynamo(settings) => Box::new(DynamoStore::connect(settings).await.unwrap()),
        }
    }
}

/// A plain SDK client on the same endpoint, for setting up tables the store would refuse. The
/// SDK's default HTTP client is not compiled in (the addon sets its own), so it gets one here.
pub async fn raw_client(settings: &DynamoSettings) -> aws_sdk_dynamodb::Client {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(settings.endpoint.clone().unwrap())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

impl Fixture {
    /// Writes the lock row of `env` by hand, as another tool (or an older daplaya) might: held
    /// by `user` for a minute more, its fencing token and revision `token` (any number, as
    /// text), and a `holder` attribute only when one is given.
    pub async fn write_row_by_hand(
        &self,
        env: &str,
        user: &str,
        token: &str,
        holder: Option<&str>,
    ) {
        let now = daplaya::model::now_ms();
        match self {
            Fixture::Sqlite { path, .. } => {
                drop(self.connect().await); // the schema, made by the store
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute(
                    "INSERT OR REPLACE INTO locks (env, id, user, createdAt, updatedAt, active, \
                     uberlock, meta, expiresAt, fencingToken, revision, queue, nextTicket, \
                     acquisitions, holder) VALUES (?1, 'by-hand', ?2, ?3, ?3, 1, 0, 'CLI', ?4, \
                     CAST(?5 AS INTEGER), CAST(?5 AS INTEGER), '[]', 0, 1, ?6)",
                    rusqlite::params![env, user, now, now + 60_000, token, holder],
                )
                .unwrap();
            }
            Fixture::Dynamo(settings) => {
                use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
                let mut put = raw_client(settings)
                    .await
                    .put_item()
                    .table_name(&settings.locks_table)
                    .item("env", S(env.into()))
                    .item("id", S("by-hand".into()))
                    .item("user", S(user.into()))
                    .item("createdAt", N(now.to_string()))
                    .item("updatedAt", N(now.to_string()))
                    .item("active", Bool(true))
                    .item("uberlock", Bool(false))
                    .item("meta", S("CLI".into()))
                    .item("expiresAt", N((now + 60_000).to_string()))
                    .item("fencingToken", N(token.into()))
                    .item("revision", N(token.into()))
                    .item("acquisitions", N("1".into()))
                    .item("activeShard", S("active".into()));
                if let Some(holder) = holder {
                    put = put.item("holder", S(holder.into()));
                }
                put.send().await.unwrap();
            }
        }
    }
}

/// Settings with fresh table names, or `None` (after a note) when no endpoint is configured.
pub fn fresh_settings(test: &str) -> Option<DynamoSettings> {
    let Some(endpoint) = std::env::var("DAPLAYA_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        eprintln!("skipping {test}: set DAPLAYA_TEST_DYNAMODB_ENDPOINT to run it");
        return None;
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    Some(DynamoSettings {
        region: Some(REGION.into()),
        endpoint: Some(endpoint),
        locks_table: format!("TestLocks-{suffix}"),
        jobs_table: format!("TestJobs-{suffix}"),
        history_table: format!("TestHistory-{suffix}"),
        history_retention: Duration::from_secs(90 * 86_400),
    })
}

/// A lock row taken a moment ago (recent, so that no history retention forgets its hold).
pub fn lock(env: &str, user: &str, revision: u64) -> Lock {
    let now = daplaya::model::now_ms();
    Lock {
        id: uuid::Uuid::now_v7().to_string(),
        user: user.into(),
        holder: user.into(),
        env: env.into(),
        created_at: now - 2_000,
        updated_at: now - 1_000,
        active: true,
        uberlock: false,
        meta: "CLI".into(),
        expires_at: Some(now + 60_000),
        fencing_token: 7,
        acquisitions: 7,
        revision,
        queue: Vec::new(),
        next_ticket: 0,
    }
}

pub fn job(jobname: &str, version: &str, started: i64) -> Job {
    Job {
        id: uuid::Uuid::now_v7().to_string(),
        user: "alice".into(),
        jobname: jobname.into(),
        version: version.into(),
        started,
        ended: None,
        skipped: false,
    }
}

pub fn request(env: &str, user: &str, uberlock: bool) -> LockRequest {
    LockRequest {
        envs: vec![env.into()],
        user: user.into(),
        holder: user.into(),
        meta: Meta::Default("CLI".into()),
        uberlock,
        ttl: Duration::from_secs(60),
        supersede: false,
    }
}

/// `user`'s release of `envs` from their own run.
pub fn release_request(envs: &[&str], user: &str) -> ReleaseRequest {
    ReleaseRequest {
        envs: envs.iter().map(|env| env.to_string()).collect(),
        user: user.into(),
        holder: user.into(),
        uberlock: false,
        authority: Authority::Holder,
    }
}

/// Writes `lock` as the first row of its env, with its hold.
pub async fn put_first(store: &dyn Store, lock: &Lock) {
    store
        .swap_lock(Expect::Absent, &holding(lock))
        .await
        .unwrap();
}

/// A lock row written with the hold it records, as the rules write a fresh or renewed lock.
pub fn holding(lock: &Lock) -> LockWrite {
    LockWrite {
        lock: lock.clone(),
        holds: vec![Hold::of(lock)],
        keeps_queue: false,
        restamped: None,
    }
}
