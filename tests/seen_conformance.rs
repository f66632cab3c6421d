//! The record of seen requests (a Slack request is acted on once), against both stores: the
//! same suite as store_conformance.rs, with DAPLAYA_TEST_DYNAMODB_ENDPOINT for DynamoDB.

#[macro_use]
mod common;

use common::Fixture;
use daplaya::model::now_ms;
use std::sync::Arc;

conformance!(
    a_request_is_seen_first_once_by_every_client,
    racing_clients_see_a_request_first_exactly_once,
    a_record_is_kept_until_it_may_be_forgotten,
    seen_requests_stay_out_of_locks_and_history,
);

const MINUTE: i64 = 60_000;

async fn a_request_is_seen_first_once_by_every_client(fixture: Fixture) {
    let store = fixture.connect().await;
    let forget_at = now_ms() + 10 * MINUTE;
    assert!(store.first_sight("slack:ab12", forget_at).await.unwrap());
    assert!(!store.first_sight("slack:ab12", forget_at).await.unwrap());
    assert!(store.first_sight("slack:ab13", forget_at).await.unwrap());
    // Another client, as after a restart or on another server.
    let other = fixture.connect().await;
    assert!(!other.first_sight("slack:ab12", forget_at).await.unwrap());
    assert!(!other.first_sight("slack:ab13", forget_at).await.unwrap());
}

async fn racing_clients_see_a_request_first_exactly_once(fixture: Fixture) {
    let fixture = Arc::new(fixture);
    let forget_at = now_ms() + 10 * MINUTE;
    let racers = (0..12).map(|_| {
        let fixture = Arc::clone(&fixture);
        tokio::spawn(async move {
            let store = fixture.connect().await;
            store.first_sight("slack:race", forget_at).await.unwrap()
        })
    });
    let mut firsts = 0;
    for racer in racers.collect::<Vec<_>>() {
        firsts += usize::from(racer.await.unwrap());
    }
    assert_eq!(firsts, 1);
}

async fn a_record_is_kept_until_it_may_be_forgotten(fixture: Fixture) {
    let store = fixture.connect().await;
    let now = now_ms();
    assert!(store.first_sight("slack:kept", now + MINUTE).await.unwrap());
    // Writing other records (which prunes forgotten ones) keeps it.
    assert!(store.first_sight("slack:past", now - MINUTE).await.unwrap());
    assert!(store
        .first_sight("slack:later", now + MINUTE)
        .await
        .unwrap());
    assert!(!store.first_sight("slack:kept", now + MINUTE).await.unwrap());
}

async fn seen_requests_stay_out_of_locks_and_history(fixture: Fixture) {
    let store = fixture.connect().await;
    assert!(store
        .first_sight("slack:quiet", now_ms() + MINUTE)
        .await
        .unwrap());
    assert!(store.active_locks().await.unwrap().is_empty());
    assert!(store.waited_locks().await.unwrap().is_empty());
    let day_ago = now_ms() - 24 * 60 * MINUTE;
    assert!(store.released_locks(day_ago).await.unwrap().is_empty());
    assert!(store
        .holds("slack:quiet", None, 10)
        .await
        .unwrap()
        .is_empty());
}
