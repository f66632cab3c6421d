//! The DynamoDB store against a real endpoint, usually DynamoDB Local:
//!
//! DAPLAYA_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 AWS_ACCESS_KEY_ID=test \
//! AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true cargo test --test dynamo_store
//!
//! Without DAPLAYA_TEST_DYNAMODB_ENDPOINT every test returns at once. Each test uses its own
//! tables, so the tests run in parallel.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use daplaya::config::DynamoSettings;
use daplaya::error::Error;
use daplaya::jobs::{self, EndRequest};
use daplaya::locks::{
    self, Acquired, Attempt, LockRequest, NotReleased, Released, Wait, WaitPolicy,
};
use daplaya::model::{now_ms, Job, Lock};
use daplaya::store::dynamo::DynamoStore;
use daplaya::store::{JobEnd, Store, Swap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const REGION: &str = "us-east-1";

/// Settings with fresh table names, or `None` (after a note) when no endpoint is configured.
fn fresh_settings(test: &str) -> Option<DynamoSettings> {
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
    })
}

async fn initialized_store(settings: &DynamoSettings) -> DynamoStore {
    let store = DynamoStore::connect(settings).await.unwrap();
    store.init().await.unwrap();
    store
}

/// A plain SDK client on the same endpoint, for setting up tables the store would refuse.
async fn raw_client(settings: &DynamoSettings) -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(settings.endpoint.clone().unwrap())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

async fn create_table_keyed_by(client: &aws_sdk_dynamodb::Client, table: &str, hash_key: &str) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(hash_key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(hash_key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn lock(env: &str, user: &str, revision: u64) -> Lock {
    Lock {
        id: uuid::Uuid::now_v7().to_string(),
        user: user.into(),
        env: env.into(),
        created_at: 1_000,
        updated_at: 2_000,
        active: true,
        uberlock: false,
        meta: "CLI".into(),
        expires_at: Some(3_000),
        fencing_token: 7,
        revision,
    }
}

fn job(jobname: &str, version: &str, started: i64) -> Job {
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

fn request(env: &str, user: &str, uberlock: bool) -> LockRequest {
    LockRequest {
        env: env.into(),
        user: user.into(),
        meta: "CLI".into(),
        uberlock,
        ttl: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn init_creates_both_tables_and_is_idempotent() {
    let Some(settings) = fresh_settings("init_creates_both_tables_and_is_idempotent") else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    let first = store.init().await.unwrap();
    let names: Vec<&str> = first.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [&settings.locks_table, &settings.jobs_table]);
    assert!(first.iter().all(|t| t.created));
    let second = store.init().await.unwrap();
    assert!(second.iter().all(|t| !t.created));
    assert_eq!(
        store.describe(),
        format!(
            "dynamodb (region us-east-1, endpoint {}, tables {} / {})",
            settings.endpoint.as_deref().unwrap(),
            settings.locks_table,
            settings.jobs_table
        )
    );
}

#[tokio::test]
async fn init_refuses_a_table_with_another_key_schema() {
    let Some(settings) = fresh_settings("init_refuses_a_table_with_another_key_schema") else {
        return;
    };
    create_table_keyed_by(&raw_client(&settings).await, &settings.locks_table, "id").await;
    let store = DynamoStore::connect(&settings).await.unwrap();
    match store.init().await {
        Err(Error::SchemaMismatch { table, detail }) => {
            assert_eq!(table, settings.locks_table);
            assert_eq!(detail, "key is id (HASH), expected env (HASH)");
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn init_refuses_a_table_without_the_index() {
    let Some(settings) = fresh_settings("init_refuses_a_table_without_the_index") else {
        return;
    };
    create_table_keyed_by(&raw_client(&settings).await, &settings.locks_table, "env").await;
    let store = DynamoStore::connect(&settings).await.unwrap();
    let err = store.init().await.unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { detail, .. } if detail == "index ActiveLocks is missing"),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_tables_are_named() {
    let Some(settings) = fresh_settings("missing_tables_are_named") else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    match store.load_lock("production").await {
        Err(Error::TableMissing { table }) => assert_eq!(table, settings.locks_table),
        other => panic!("expected TableMissing, got {other:?}"),
    }
    match store.jobs_for_version("v1").await {
        Err(Error::TableMissing { table }) => assert_eq!(table, settings.jobs_table),
        other => panic!("expected TableMissing, got {other:?}"),
    }
}

#[tokio::test]
async fn swap_lock_is_a_compare_and_swap() {
    let Some(settings) = fresh_settings("swap_lock_is_a_compare_and_swap") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let first = lock("production", "alice", 1);
    assert_eq!(store.swap_lock(None, &first).await.unwrap(), Swap::Done);
    let rival = lock("production", "bob", 1);
    assert_eq!(
        store.swap_lock(None, &rival).await.unwrap(),
        Swap::Conflict(Some(first.clone()))
    );
    let stale = lock("production", "bob", 3);
    assert_eq!(
        store.swap_lock(Some(2), &stale).await.unwrap(),
        Swap::Conflict(Some(first.clone()))
    );
    let renewed = Lock {
        updated_at: 5_000,
        revision: 2,
        ..first.clone()
    };
    assert_eq!(
        store.swap_lock(Some(1), &renewed).await.unwrap(),
        Swap::Done
    );
    assert_eq!(store.load_lock("production").await.unwrap(), Some(renewed));
    assert_eq!(
        store
            .swap_lock(Some(1), &lock("staging", "bob", 2))
            .await
            .unwrap(),
        Swap::Conflict(None)
    );
}

#[tokio::test]
async fn load_lock_round_trips_every_field() {
    let Some(settings) = fresh_settings("load_lock_round_trips_every_field") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let normal = lock("production", "alice", 4);
    let uber = Lock {
        uberlock: true,
        active: false,
        expires_at: None,
        meta: "release train ✈ \"quoted\"".into(),
        fencing_token: u64::MAX,
        ..lock("staging", "bob", 9)
    };
    for written in [&normal, &uber] {
        store.swap_lock(None, written).await.unwrap();
        assert_eq!(
            store.load_lock(&written.env).await.unwrap().as_ref(),
            Some(written)
        );
    }
    assert_eq!(store.load_lock("nowhere").await.unwrap(), None);
}

#[tokio::test]
async fn active_locks_lists_only_active_rows() {
    let Some(settings) = fresh_settings("active_locks_lists_only_active_rows") else {
        return;
    };
    let store = initialized_store(&settings).await;
    for env in ["a", "b", "c"] {
        store.swap_lock(None, &lock(env, "alice", 1)).await.unwrap();
    }
    let released = Lock {
        active: false,
        revision: 2,
        ..store.load_lock("b").await.unwrap().unwrap()
    };
    assert_eq!(
        store.swap_lock(Some(1), &released).await.unwrap(),
        Swap::Done
    );
    let mut envs: Vec<String> = store
        .active_locks()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.env)
        .collect();
    envs.sort();
    assert_eq!(envs, ["a", "c"]);
}

#[tokio::test]
async fn jobs_of_a_version_come_newest_first() {
    let Some(settings) = fresh_settings("jobs_of_a_version_come_newest_first") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let oldest = job("deploy", "v1", 100);
    let tied_first = job("deploy", "v1", 300);
    let tied_second = job("test", "v1", 300);
    let middle = job("deploy", "v1", 200);
    for job in [
        &oldest,
        &tied_first,
        &tied_second,
        &middle,
        &job("deploy", "v2", 400),
    ] {
        store.insert_job(job).await.unwrap();
    }
    let ids: Vec<String> = store
        .jobs_for_version("v1")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        ids,
        [&tied_second.id, &tied_first.id, &middle.id, &oldest.id].map(String::as_str)
    );
    assert!(store.jobs_for_version("v3").await.unwrap().is_empty());
    assert!(matches!(
        store.insert_job(&oldest).await,
        Err(Error::Store(_))
    ));
}

#[tokio::test]
async fn a_job_ends_once() {
    let Some(settings) = fresh_settings("a_job_ends_once") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let running = job("deploy", "v1", 100);
    store.insert_job(&running).await.unwrap();
    assert_eq!(
        store.end_job(&running, 500, true).await.unwrap(),
        JobEnd::Done
    );
    let ended = Job {
        ended: Some(500),
        skipped: true,
        ..running.clone()
    };
    assert_eq!(store.jobs_for_version("v1").await.unwrap(), [ended.clone()]);
    assert_eq!(
        store.end_job(&running, 900, false).await.unwrap(),
        JobEnd::AlreadyEnded(ended)
    );
    let vanished = job("deploy", "v1", 100);
    assert!(matches!(
        store.end_job(&vanished, 900, false).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.jobs_for_version("v1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn recent_jobs_cover_the_window_of_one_jobname() {
    let Some(settings) = fresh_settings("recent_jobs_cover_the_window_of_one_jobname") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let too_old = job("deploy", "v1", 100);
    let at_the_edge = job("deploy", "v2", 200);
    let newest = job("deploy", "v3", 300);
    for job in [&too_old, &at_the_edge, &newest, &job("test", "v3", 300)] {
        store.insert_job(job).await.unwrap();
    }
    assert_eq!(
        store.recent_jobs("deploy", 200).await.unwrap(),
        [newest, at_the_edge]
    );
    assert!(store.recent_jobs("deploy", 301).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_fast_with_one_line() {
    let Some(mut settings) = fresh_settings("an_unreachable_endpoint_fails_fast_with_one_line")
    else {
        return;
    };
    settings.endpoint = Some("http://127.0.0.1:1".into());
    let store = DynamoStore::connect(&settings).await.unwrap();
    let started = Instant::now();
    let err = store.load_lock("production").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let message = err.to_string();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert!(
        message.starts_with("cannot reach DynamoDB at http://127.0.0.1:1: "),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn an_endpoint_that_is_not_a_url_is_a_config_error() {
    let Some(mut settings) = fresh_settings("an_endpoint_that_is_not_a_url_is_a_config_error")
    else {
        return;
    };
    settings.endpoint = Some("localhost:8000".into());
    assert!(matches!(
        DynamoStore::connect(&settings).await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn lock_rules_work_end_to_end() {
    let Some(settings) = fresh_settings("lock_rules_work_end_to_end") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let Attempt::Acquired(held, Acquired::Acquired) =
        locks::try_lock(&store, &request("production", "alice", false))
            .await
            .unwrap()
    else {
        panic!("the env was free")
    };
    assert!(matches!(
        locks::try_lock(&store, &request("production", "bob", false)).await.unwrap(),
        Attempt::Busy(holder) if holder.user == "alice"
    ));
    assert!(matches!(
        locks::try_lock(&store, &request("production", "alice", false)).await.unwrap(),
        Attempt::Acquired(renewed, Acquired::Renewed) if renewed.id == held.id
    ));
    let no_wait = WaitPolicy {
        wait: Wait::No,
        poll_interval: Duration::from_millis(10),
    };
    let err = locks::lock(
        &store,
        &request("production", "bob", false),
        no_wait,
        &CancellationToken::new(),
        &mut |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::LockBusy { .. }), "{err:?}");
    assert!(matches!(
        locks::release(&store, "production", "bob", false)
            .await
            .unwrap(),
        Released::Nothing(NotReleased::HeldByOther, _)
    ));
    assert!(matches!(
        locks::release(&store, "production", "alice", false).await.unwrap(),
        Released::Released(l) if !l.active
    ));
    assert!(locks::list(&store, None).await.unwrap().is_empty());
    let (taken, _) = locks::lock(
        &store,
        &request("production", "bob", false),
        no_wait,
        &CancellationToken::new(),
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(taken.fencing_token, held.fencing_token + 1);
    assert!(matches!(
        locks::try_lock(&store, &request("production", "carol", true)).await.unwrap(),
        Attempt::Acquired(_, Acquired::Preempted { preempted_user }) if preempted_user == "bob"
    ));
    let err = locks::try_lock(&store, &request("production", "dave", false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Uberlocked { .. }), "{err:?}");
    let listed = locks::list(&store, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].uberlock && listed[0].expires_at.is_none());
}

#[tokio::test]
async fn job_rules_work_end_to_end() {
    let Some(settings) = fresh_settings("job_rules_work_end_to_end") else {
        return;
    };
    let store = initialized_store(&settings).await;
    let window = jobs::DEFAULT_WINDOW;
    let started = jobs::start(&store, "deploy", "alice", "abc123")
        .await
        .unwrap();
    assert_eq!(
        jobs::get(&store, "deploy", "abc123").await.unwrap(),
        started
    );
    assert_eq!(
        jobs::active(&store, "deploy", window).await.unwrap(),
        [started.clone()]
    );
    let end = EndRequest {
        version: "abc123".into(),
        skipped: true,
        ..Default::default()
    };
    let ended = jobs::end(&store, &end).await.unwrap();
    assert!(ended.changed && ended.job.ended.is_some());
    assert!(!jobs::end(&store, &end).await.unwrap().changed);
    assert!(jobs::active(&store, "deploy", window)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        jobs::skipped(&store, "deploy", window).await.unwrap(),
        [ended.job]
    );
    assert!(matches!(
        jobs::get(&store, "deploy", "other").await,
        Err(Error::NotFound(_))
    ));
    assert!(now_ms() >= started.started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_lockers_get_exactly_one_lock() {
    let Some(settings) = fresh_settings("racing_lockers_get_exactly_one_lock") else {
        return;
    };
    initialized_store(&settings).await;
    const RACERS: usize = 12;
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = Vec::new();
    for n in 0..RACERS {
        let store = DynamoStore::connect(&settings).await.unwrap();
        let start = Arc::clone(&start);
        racers.push(tokio::spawn(async move {
            start.wait().await;
            locks::try_lock(&store, &request("production", &format!("user{n}"), false)).await
        }));
    }
    let mut acquired = 0;
    for racer in racers {
        match racer.await.unwrap().unwrap() {
            Attempt::Acquired(_, Acquired::Acquired) => acquired += 1,
            Attempt::Busy(_) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}
