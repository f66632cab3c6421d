//! What only the DynamoDB store has to get right (tables, schema checks, endpoint failures),
//! against a real endpoint, usually DynamoDB Local; the shared behaviour is in
//! store_conformance.rs:
//!
//! DAPLAYA_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 AWS_ACCESS_KEY_ID=test \
//! AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true cargo test --test dynamo_store
//!
//! Without DAPLAYA_TEST_DYNAMODB_ENDPOINT every test returns at once. Each test uses its own
//! tables, so the tests run in parallel.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use daplaya::error::Error;
use daplaya::locks;
use daplaya::store::dynamo::DynamoStore;
use daplaya::store::{SeenRequests, Store};
use std::time::{Duration, Instant};

mod common;

use common::{fresh_settings, raw_client};

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

#[tokio::test]
async fn init_creates_the_tables_and_is_idempotent() {
    let Some(settings) = fresh_settings("init_creates_the_tables_and_is_idempotent") else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    let first = store.init().await.unwrap();
    let names: Vec<&str> = first.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            &settings.locks_table,
            &settings.jobs_table,
            &settings.history_table
        ]
    );
    assert!(first.iter().all(|t| t.created));
    let second = store.init().await.unwrap();
    assert!(second.iter().all(|t| !t.created));
    let ttl = raw_client(&settings)
        .await
        .describe_time_to_live()
        .table_name(&settings.history_table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresTtl"));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
    assert_eq!(
        store.describe(),
        format!(
            "dynamodb (region us-east-1, endpoint {}, tables {} / {} / {})",
            settings.endpoint.as_deref().unwrap(),
            settings.locks_table,
            settings.jobs_table,
            settings.history_table
        )
    );
}

#[tokio::test]
async fn an_install_without_the_history_table_is_told_to_run_init() {
    let Some(settings) = fresh_settings("an_install_without_the_history_table_is_told_to_run_init")
    else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    store.init().await.unwrap();
    raw_client(&settings)
        .await
        .delete_table()
        .table_name(&settings.history_table)
        .send()
        .await
        .unwrap();
    let request = common::request("production", "alice", false);
    match locks::try_lock(&store, &request).await {
        Err(error @ Error::TableMissing { .. }) => {
            assert_eq!(
                error.to_string(),
                format!("table {} does not exist", settings.history_table)
            );
            assert_eq!(
                error.hint(),
                Some("run `daplaya init` to create the tables".into())
            );
        }
        other => panic!("expected TableMissing, got {other:?}"),
    }
    assert!(locks::list(&store, None).await.unwrap().is_empty());
    let created: Vec<bool> = store
        .init()
        .await
        .unwrap()
        .iter()
        .map(|t| t.created)
        .collect();
    assert_eq!(created, [false, false, true]);
    assert!(matches!(
        locks::try_lock(&store, &request).await.unwrap(),
        locks::Attempt::Acquired(..)
    ));
}

#[tokio::test]
async fn init_refuses_a_history_table_with_another_key_schema() {
    let Some(settings) = fresh_settings("init_refuses_a_history_table_with_another_key_schema")
    else {
        return;
    };
    create_table_keyed_by(&raw_client(&settings).await, &settings.history_table, "env").await;
    let store = DynamoStore::connect(&settings).await.unwrap();
    match store.init().await {
        Err(Error::SchemaMismatch { table, detail }) => {
            assert_eq!(table, settings.history_table);
            assert_eq!(
                detail,
                "key is env (HASH), expected env (HASH), hold (RANGE)"
            );
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn the_store_reads_dynamodb_s_clock_off_its_responses() {
    let Some(settings) = fresh_settings("the_store_reads_dynamodb_s_clock_off_its_responses")
    else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    store.init().await.unwrap();
    for _ in 0..5 {
        store.load_lock("prod").await.unwrap();
    }
    // DynamoDB Local runs on this machine's clock, which the store never consulted.
    let wall = daplaya::model::now_ms();
    let now = store.now();
    assert!(
        now.earliest <= wall + 50 && wall < now.latest + 50,
        "{now:?} against {wall}"
    );
    assert!(now.uncertainty_ms() <= 1_100, "{now:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inits_both_succeed() {
    let Some(settings) = fresh_settings("concurrent_inits_both_succeed") else {
        return;
    };
    let (first, second) = (
        DynamoStore::connect(&settings).await.unwrap(),
        DynamoStore::connect(&settings).await.unwrap(),
    );
    let (first, second) = tokio::join!(first.init(), second.init());
    let (first, second) = (first.unwrap(), second.unwrap());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.name, b.name);
        assert!(
            a.created != b.created,
            "exactly one init creates {}",
            a.name
        );
    }
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
async fn a_seen_request_carries_the_history_table_s_ttl() {
    let Some(settings) = fresh_settings("a_seen_request_carries_the_history_table_s_ttl") else {
        return;
    };
    let store = DynamoStore::connect(&settings).await.unwrap();
    store.init().await.unwrap();
    // An hour ahead: DynamoDB Local's TTL sweeper would delete a record already past its time
    // before the test reads it.
    let ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let may_go_ms = ahead as i64 * 1000 + 500;
    assert!(store.first_sight("slack:ab12", may_go_ms).await.unwrap());
    let item = raw_client(&settings)
        .await
        .get_item()
        .table_name(&settings.history_table)
        .key(
            "env",
            aws_sdk_dynamodb::types::AttributeValue::S("Seen#slack:ab12".into()),
        )
        .key(
            "hold",
            aws_sdk_dynamodb::types::AttributeValue::S("seen".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the record is an item of the history table");
    // DynamoDB's TTL (on by init) deletes it, no sooner than the second after it may go.
    assert_eq!(*item["expiresTtl"].as_n().unwrap(), (ahead + 1).to_string());
}
