//! The store-conformance suite: every test runs unchanged against the embedded SQLite store
//! and against DynamoDB. The DynamoDB half needs an endpoint, usually DynamoDB Local (`npm test`
//! starts one):
//!
//! DAPLAYA_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 AWS_ACCESS_KEY_ID=test \
//! AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true cargo test --test store_conformance
//!
//! Without DAPLAYA_TEST_DYNAMODB_ENDPOINT the DynamoDB tests return at once. Each test gets its
//! own SQLite file or DynamoDB tables, so the tests run in parallel.

#[macro_use]
mod common;

use common::{holding, job, lock, put_first, release_request, request, Fixture};
use daplaya::error::Error;
use daplaya::jobs::{self, EndRequest};
use daplaya::locks::{self, Acquired, Attempt, Meta, NotReleased, Released, Wait, WaitPolicy};
use daplaya::model::{now_ms, Hold, HoldEnd, Job, Lock};
use daplaya::store::{Expect, JobEnd, LockWrite, Store, Swap};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

conformance!(
    swap_lock_is_a_compare_and_swap,
    load_lock_round_trips_every_field,
    active_locks_lists_only_active_rows,
    released_locks_cover_the_window_newest_first,
    jobs_of_a_version_come_newest_first,
    a_job_ends_once,
    recent_jobs_cover_the_window_of_one_jobname,
    lock_rules_work_end_to_end,
    job_rules_work_end_to_end,
    racing_lockers_get_exactly_one_lock,
    a_lock_write_records_its_holds_atomically,
    holds_come_newest_first_within_limit_and_since,
    history_tells_how_each_hold_ended,
    a_renewal_without_meta_keeps_the_meta,
    a_write_expecting_a_free_env_takes_only_a_free_one,
    a_restamped_acquisition_moves_its_hold,
    a_release_from_a_copy_lands_only_on_that_very_row,
);

async fn swap_lock_is_a_compare_and_swap(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let first = lock("production", "alice", 1);
    assert_eq!(
        store
            .swap_lock(Expect::Absent, &holding(&first))
            .await
            .unwrap(),
        Swap::Done
    );
    let rival = lock("production", "bob", 1);
    assert_eq!(
        store
            .swap_lock(Expect::Absent, &holding(&rival))
            .await
            .unwrap(),
        Swap::Conflict(Some(first.clone()))
    );
    let stale = lock("production", "bob", 3);
    assert_eq!(
        store
            .swap_lock(Expect::Revision(2), &holding(&stale))
            .await
            .unwrap(),
        Swap::Conflict(Some(first.clone()))
    );
    let renewed = Lock {
        updated_at: 5_000,
        revision: 2,
        ..first.clone()
    };
    assert_eq!(
        store
            .swap_lock(Expect::Revision(1), &holding(&renewed))
            .await
            .unwrap(),
        Swap::Done
    );
    assert_eq!(store.load_lock("production").await.unwrap(), Some(renewed));
    assert_eq!(
        store
            .swap_lock(Expect::Revision(1), &holding(&lock("staging", "bob", 2)))
            .await
            .unwrap(),
        Swap::Conflict(None)
    );
}

async fn load_lock_round_trips_every_field(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let normal = lock("production", "alice", 4);
    let uber = Lock {
        uberlock: true,
        active: false,
        expires_at: None,
        meta: "release train ✈ \"quoted\"".into(),
        // The largest token a row may carry (exact in a JavaScript number); no env is ever
        // locked that often.
        fencing_token: daplaya::model::MAX_COUNT,
        ..lock("staging", "bob", 9)
    };
    for written in [&normal, &uber] {
        store
            .swap_lock(Expect::Absent, &holding(written))
            .await
            .unwrap();
        assert_eq!(
            store.load_lock(&written.env).await.unwrap().as_ref(),
            Some(written)
        );
    }
    assert_eq!(store.load_lock("nowhere").await.unwrap(), None);
}

async fn active_locks_lists_only_active_rows(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    for env in ["a", "b", "c"] {
        store
            .swap_lock(Expect::Absent, &holding(&lock(env, "alice", 1)))
            .await
            .unwrap();
    }
    let released = Lock {
        active: false,
        revision: 2,
        ..store.load_lock("b").await.unwrap().unwrap()
    };
    assert_eq!(
        store
            .swap_lock(Expect::Revision(1), &holding(&released))
            .await
            .unwrap(),
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

async fn released_locks_cover_the_window_newest_first(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let now = now_ms();
    const HOUR: i64 = 3_600_000;
    // Released 2 days, 23 hours, 1 hour and 1 minute ago; "held" is released, then locked again.
    let ages = [
        ("old", 48 * HOUR),
        ("yesterday", 23 * HOUR),
        ("hour", HOUR),
        ("minute", 60_000),
        ("held", 30 * 60_000),
    ];
    for (env, age) in ages {
        store
            .swap_lock(Expect::Absent, &holding(&lock(env, "alice", 1)))
            .await
            .unwrap();
        let released = Lock {
            active: false,
            updated_at: now - age,
            revision: 2,
            ..store.load_lock(env).await.unwrap().unwrap()
        };
        assert_eq!(
            store
                .swap_lock(Expect::Revision(1), &holding(&released))
                .await
                .unwrap(),
            Swap::Done
        );
    }
    let relocked = Lock {
        active: true,
        updated_at: now,
        revision: 3,
        ..store.load_lock("held").await.unwrap().unwrap()
    };
    assert_eq!(
        store
            .swap_lock(Expect::Revision(2), &holding(&relocked))
            .await
            .unwrap(),
        Swap::Done
    );
    store
        .swap_lock(Expect::Absent, &holding(&lock("never-released", "bob", 1)))
        .await
        .unwrap();

    let envs = |locks: Vec<Lock>| locks.into_iter().map(|l| l.env).collect::<Vec<_>>();
    let day = store.released_locks(now - 24 * HOUR).await.unwrap();
    assert!(day.iter().all(|l| !l.active));
    assert_eq!(envs(day), ["minute", "hour", "yesterday"]);
    assert_eq!(
        envs(store.released_locks(now - 2 * HOUR).await.unwrap()),
        ["minute", "hour"]
    );
    assert_eq!(
        envs(store.released_locks(now - 72 * HOUR).await.unwrap()),
        ["minute", "hour", "yesterday", "old"]
    );
    assert!(store.released_locks(now + 1).await.unwrap().is_empty());
}

async fn jobs_of_a_version_come_newest_first(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
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

async fn a_job_ends_once(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
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
    assert_eq!(
        store.jobs_for_version("v1").await.unwrap(),
        std::slice::from_ref(&ended)
    );
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

async fn recent_jobs_cover_the_window_of_one_jobname(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
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

async fn lock_rules_work_end_to_end(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let Attempt::Acquired(taken) = locks::try_lock(store, &request("production", "alice", false))
        .await
        .unwrap()
    else {
        panic!("the env was free")
    };
    let [(held, Acquired::Acquired)] = taken.as_slice() else {
        panic!("one env, acquired: {taken:?}")
    };
    assert!(matches!(
        locks::try_lock(store, &request("production", "bob", false)).await.unwrap(),
        Attempt::Busy { holders, waiting: 0 } if holders[0].user == "alice"
    ));
    assert!(matches!(
        locks::try_lock(store, &request("production", "alice", false)).await.unwrap(),
        Attempt::Acquired(renewed)
            if renewed[0].0.id == held.id && renewed[0].1 == Acquired::Renewed
    ));
    let no_wait = WaitPolicy {
        wait: Wait::No,
        poll_interval: Duration::from_millis(10),
    };
    let err = locks::lock(
        store,
        &request("production", "bob", false),
        no_wait,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::LockBusy { .. }), "{err:?}");
    assert!(matches!(
        locks::release(store, &release_request(&["production"], "bob"))
            .await
            .unwrap()
            .as_slice(),
        [Released::Nothing(NotReleased::HeldByOther, _)]
    ));
    assert!(matches!(
        locks::release(store, &release_request(&["production"], "alice")).await.unwrap().as_slice(),
        [Released::Released(l)] if !l.active
    ));
    assert!(locks::list(store, None).await.unwrap().is_empty());
    let (taken, _) = locks::lock(
        store,
        &request("production", "bob", false),
        no_wait,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .unwrap()
    .swap_remove(0);
    assert!(taken.fencing_token > held.fencing_token);
    assert_eq!(
        taken.fencing_token, taken.created_at as u64,
        "the take's stamp"
    );
    assert!(matches!(
        locks::try_lock(store, &request("production", "carol", true)).await.unwrap(),
        Attempt::Acquired(taken) if matches!(
            &taken[0].1,
            Acquired::Preempted { preempted_user } if preempted_user == "bob"
        )
    ));
    let err = locks::try_lock(store, &request("production", "dave", false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Uberlocked { .. }), "{err:?}");
    let listed = locks::list(store, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].uberlock && listed[0].expires_at.is_none());
}

async fn job_rules_work_end_to_end(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let window = jobs::DEFAULT_WINDOW;
    let started = jobs::start(store, "deploy", "alice", "abc123")
        .await
        .unwrap();
    assert_eq!(jobs::get(store, "deploy", "abc123").await.unwrap(), started);
    assert_eq!(
        jobs::active(store, "deploy", window).await.unwrap(),
        std::slice::from_ref(&started)
    );
    let end = EndRequest {
        version: "abc123".into(),
        skipped: true,
        ..Default::default()
    };
    let ended = jobs::end(store, &end).await.unwrap();
    assert!(ended.changed && ended.job.ended.is_some());
    assert!(!jobs::end(store, &end).await.unwrap().changed);
    assert!(jobs::active(store, "deploy", window)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        jobs::skipped(store, "deploy", window).await.unwrap(),
        [ended.job]
    );
    assert!(matches!(
        jobs::get(store, "deploy", "other").await,
        Err(Error::NotFound(_))
    ));
    assert!(now_ms() >= started.started);
}

async fn racing_lockers_get_exactly_one_lock(fixture: Fixture) {
    const RACERS: usize = 12;
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = Vec::new();
    for n in 0..RACERS {
        let store = fixture.connect().await;
        let start = Arc::clone(&start);
        racers.push(tokio::spawn(async move {
            start.wait().await;
            locks::try_lock(
                store.as_ref(),
                &request("production", &format!("user{n}"), false),
            )
            .await
        }));
    }
    let mut acquired = 0;
    for racer in racers {
        match racer.await.unwrap().unwrap() {
            Attempt::Acquired(taken) if taken[0].1 == Acquired::Acquired => acquired += 1,
            Attempt::Busy { .. } => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}

async fn a_lock_write_records_its_holds_atomically(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let first = lock("production", "alice", 1);
    put_first(store, &first).await;
    // A losing write changes neither the lock row nor the history.
    let rival = lock("production", "bob", 1);
    assert_eq!(
        store
            .swap_lock(Expect::Absent, &holding(&rival))
            .await
            .unwrap(),
        Swap::Conflict(Some(first.clone()))
    );
    assert_eq!(
        store.holds("production", None, 10).await.unwrap(),
        [Hold::of(&first)]
    );
    // One write replaces a hold row whole and adds another.
    let taken = Lock {
        revision: 2,
        created_at: first.created_at + 5_000,
        ..lock("production", "bob", 2)
    };
    let write = LockWrite {
        lock: taken.clone(),
        holds: vec![
            Hold::of(&taken),
            Hold::of(&first).ended(HoldEnd::Preempted, taken.created_at, Some("bob".into())),
        ],
        keeps_queue: false,
        restamped: None,
    };
    assert_eq!(
        store.swap_lock(Expect::Revision(1), &write).await.unwrap(),
        Swap::Done
    );
    assert_eq!(
        store.holds("production", None, 10).await.unwrap(),
        [write.holds[0].clone(), write.holds[1].clone()]
    );
    assert!(store.holds("staging", None, 10).await.unwrap().is_empty());
}

async fn holds_come_newest_first_within_limit_and_since(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let now = now_ms();
    let mut revision = Expect::Absent;
    let mut written = Vec::new();
    for n in 0..5_i64 {
        let held = Lock {
            created_at: now - (5 - n) * 60_000,
            revision: n as u64 + 1,
            ..lock("production", &format!("user{n}"), n as u64 + 1)
        };
        store.swap_lock(revision, &holding(&held)).await.unwrap();
        revision = Expect::Revision(held.revision);
        written.push(Hold::of(&held));
    }
    written.reverse();
    assert_eq!(store.holds("production", None, 10).await.unwrap(), written);
    assert_eq!(
        store.holds("production", None, 2).await.unwrap(),
        written[..2]
    );
    let since = now - 3 * 60_000;
    assert_eq!(
        store.holds("production", Some(since), 10).await.unwrap(),
        written[..3],
        "acquired at or after {since}"
    );
}

/// Waits until the store's clock has certainly passed `at`: a lease is over only then (on
/// DynamoDB that clock is known to about a second, from its replies' `Date`).
async fn wait_until_past(store: &dyn Store, at: i64) {
    while store.now().earliest <= at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn history_tells_how_each_hold_ended(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let short = |user: &str, uberlock| daplaya::locks::LockRequest {
        ttl: Duration::from_millis(300),
        ..request("production", user, uberlock)
    };
    let acquired = |attempt: Attempt| match attempt {
        Attempt::Acquired(mut taken) => taken.swap_remove(0).0,
        Attempt::Busy { holders, .. } => panic!("busy: {holders:?}"),
    };
    // alice releases; bob's lease lapses and carol takes over; dave's lapses unnoticed...
    let alice = acquired(
        locks::try_lock(store, &short("alice", false))
            .await
            .unwrap(),
    );
    locks::release(store, &release_request(&["production"], "alice"))
        .await
        .unwrap();
    let bob = acquired(locks::try_lock(store, &short("bob", false)).await.unwrap());
    wait_until_past(store, bob.expires_at.unwrap()).await;
    let carol = acquired(
        locks::try_lock(store, &request("production", "carol", false))
            .await
            .unwrap(),
    );
    // ...and erin's uberlock preempts carol, and is still held.
    let erin = acquired(
        locks::try_lock(store, &request("production", "erin", true))
            .await
            .unwrap(),
    );
    let history = locks::history(store, "production", None, 20).await.unwrap();
    let ends: Vec<(&str, Option<HoldEnd>, Option<&str>)> = history
        .iter()
        .map(|h| (h.user.as_str(), h.end, h.ended_by.as_deref()))
        .collect();
    assert_eq!(
        ends,
        [
            ("erin", None, None),
            ("carol", Some(HoldEnd::Preempted), Some("erin")),
            ("bob", Some(HoldEnd::Expired), None),
            ("alice", Some(HoldEnd::Released), None),
        ]
    );
    assert_eq!(history[0].ended_at, None);
    assert_eq!(history[1].ended_at, Some(erin.created_at));
    assert_eq!(
        history[2].ended_at, bob.expires_at,
        "expired when its lease ran out"
    );
    assert!(history[3].ended_at.is_some_and(|at| at >= alice.created_at));
    let tokens: Vec<u64> = history.iter().map(|h| h.fencing_token).collect();
    let expected = [&erin, &carol, &bob, &alice].map(|l| l.fencing_token);
    assert_eq!(tokens, expected);
    assert!(history[0].uberlock && history[0].expires_at.is_none());
    assert_eq!(
        locks::history(store, "production", None, 2).await.unwrap(),
        history[..2]
    );
    assert!(locks::history(store, "nowhere", None, 20)
        .await
        .unwrap()
        .is_empty());

    // A lease that lapsed with nobody taking the env is told from its hold alone.
    let frank = acquired(
        locks::try_lock(store, &short_on("staging", "frank"))
            .await
            .unwrap(),
    );
    wait_until_past(store, frank.expires_at.unwrap()).await;
    let lapsed = locks::history(store, "staging", None, 20).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!(
        (lapsed[0].end, lapsed[0].ended_at),
        (Some(HoldEnd::Expired), frank.expires_at)
    );
}

fn short_on(env: &str, user: &str) -> daplaya::locks::LockRequest {
    daplaya::locks::LockRequest {
        ttl: Duration::from_millis(300),
        ..request(env, user, false)
    }
}

async fn a_renewal_without_meta_keeps_the_meta(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let with_meta = |meta: Meta, uberlock| daplaya::locks::LockRequest {
        meta,
        ..request("production", "alice", uberlock)
    };
    let meta_now = || async {
        let lock = store.load_lock("production").await.unwrap().unwrap();
        let hold = store.holds("production", None, 1).await.unwrap();
        assert_eq!(hold[0].meta, lock.meta, "the hold follows the lock");
        lock.meta
    };
    locks::try_lock(store, &with_meta(Meta::Given("https://ci/1".into()), false))
        .await
        .unwrap();
    locks::try_lock(store, &with_meta(Meta::Default("CLI".into()), false))
        .await
        .unwrap();
    assert_eq!(meta_now().await, "https://ci/1", "renewed without a meta");
    locks::try_lock(store, &with_meta(Meta::Default("Slack".into()), true))
        .await
        .unwrap();
    assert_eq!(meta_now().await, "https://ci/1", "upgraded without a meta");
    locks::try_lock(store, &with_meta(Meta::Given("INC-42".into()), false))
        .await
        .unwrap();
    assert_eq!(meta_now().await, "INC-42", "an explicit meta replaces it");
    assert_eq!(store.holds("production", None, 10).await.unwrap().len(), 1);
}

/// `Expect::FreeBefore(stamp)`, the condition of a lock written without a read: no row, or a
/// released row nobody waits for, whose revision, fencing token and last write all come before
/// the stamp. Every other row is a conflict that returns the row.
async fn a_write_expecting_a_free_env_takes_only_a_free_one(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let now = now_ms();
    let fresh = |env: &str| Lock {
        created_at: now,
        updated_at: now,
        fencing_token: now as u64,
        revision: now as u64,
        ..lock(env, "bob", 0)
    };
    let take = |env: &str| (Expect::FreeBefore(now), holding(&fresh(env)));
    // No row at all.
    let (expected, write) = take("new");
    assert_eq!(store.swap_lock(expected, &write).await.unwrap(), Swap::Done);
    let first = Lock {
        acquisitions: 1,
        ..write.lock
    };
    assert_eq!(store.load_lock("new").await.unwrap(), Some(first));
    let released = Lock {
        active: false,
        ..lock("x", "alice", 3)
    };
    let waiter = daplaya::model::Waiter {
        id: "w1".into(),
        ticket: 0,
        user: "carol".into(),
        meta: "CLI".into(),
        joined_at: now - 500,
        seen_at: now - 500,
        stale_after: 15_000,
        supersede: false,
        envs: vec!["x".into()],
    };
    let rows = [
        ("free", released.clone(), true),
        ("held", lock("x", "alice", 3), false),
        (
            "waited for",
            Lock {
                queue: vec![waiter],
                next_ticket: 1,
                ..released.clone()
            },
            false,
        ),
        (
            "written at the stamp",
            Lock {
                updated_at: now,
                ..released.clone()
            },
            false,
        ),
        (
            "at a later revision",
            Lock {
                revision: now as u64,
                ..released.clone()
            },
            false,
        ),
        (
            "with a later token",
            Lock {
                fencing_token: now as u64 + 5,
                ..released.clone()
            },
            false,
        ),
    ];
    for (n, (case, row, free)) in rows.into_iter().enumerate() {
        let env = format!("env{n}");
        let row = Lock {
            env: env.clone(),
            ..row
        };
        put_first(store, &row).await;
        let (expected, write) = take(&env);
        let swapped = store.swap_lock(expected, &write).await.unwrap();
        if free {
            assert_eq!(swapped, Swap::Done, "{case}");
            // Counted by the store, one more than the row it replaced.
            let counted = Lock {
                acquisitions: row.acquisitions + 1,
                ..write.lock
            };
            assert_eq!(
                store.load_lock(&env).await.unwrap(),
                Some(counted),
                "{case}"
            );
        } else {
            assert_eq!(swapped, Swap::Conflict(Some(row.clone())), "{case}");
            assert_eq!(store.load_lock(&env).await.unwrap(), Some(row), "{case}");
        }
    }
}

/// A one-write lock stamped from a clock found off is written again: the hold row under the
/// first stamp goes, the one under the new stamp comes, in the same write.
async fn a_restamped_acquisition_moves_its_hold(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let first = lock("production", "alice", 1);
    put_first(store, &first).await;
    let again = Lock {
        created_at: first.created_at + 1_000,
        updated_at: first.created_at + 1_000,
        revision: 2,
        ..first.clone()
    };
    let write = LockWrite {
        restamped: Some(Hold::of(&first).key()),
        ..holding(&again)
    };
    assert_eq!(
        store.swap_lock(Expect::Revision(1), &write).await.unwrap(),
        Swap::Done
    );
    assert_eq!(
        store.holds("production", None, 10).await.unwrap(),
        [Hold::of(&again)]
    );
}

/// `locks::release_from`: a release written on the copy its holder's machine kept, unread. It
/// lands when the row is still that copy; a row that changed since (renewed elsewhere, or
/// someone else's now) is read and decided on as any release.
async fn a_release_from_a_copy_lands_only_on_that_very_row(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let take = |user: &'static str| async move {
        match locks::try_lock(store, &request("production", user, false))
            .await
            .unwrap()
        {
            Attempt::Acquired(mut taken) => taken.swap_remove(0).0,
            busy => panic!("{user} could not lock: {busy:?}"),
        }
    };
    let release_from = |copy: Lock| async move {
        locks::release_from(
            store,
            &release_request(&["production"], "alice"),
            vec![copy],
        )
        .await
        .unwrap()
    };
    let copy = take("alice").await;
    let released = release_from(copy.clone()).await;
    assert!(matches!(released.as_slice(), [Released::Released(l)] if !l.active && l.id == copy.id));
    let row = store.load_lock("production").await.unwrap().unwrap();
    assert!(!row.active && row.revision == copy.revision + 1);
    let holds = store.holds("production", None, 10).await.unwrap();
    assert_eq!(holds[0].end, Some(HoldEnd::Released));
    // Renewed elsewhere since the copy: the row is read, and released all the same.
    let copy = take("alice").await;
    let renewed = take("alice").await;
    assert_eq!(renewed.id, copy.id);
    let released = release_from(copy.clone()).await;
    assert!(matches!(released.as_slice(), [Released::Released(l)] if l.id == copy.id));
    assert!(!store.load_lock("production").await.unwrap().unwrap().active);
    // Someone else's now: nothing is released, and their row is as they wrote it.
    let stale = copy;
    let bob = take("bob").await;
    let released = release_from(stale).await;
    assert!(matches!(
        released.as_slice(),
        [Released::Nothing(NotReleased::HeldByOther, _)]
    ));
    let row = store.load_lock("production").await.unwrap().unwrap();
    assert_eq!(
        (row.user.as_str(), row.id.as_str(), row.active),
        ("bob", bob.id.as_str(), true)
    );
}
