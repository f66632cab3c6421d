//! The queue's rules end to end, run unchanged against the embedded SQLite store and against
//! DynamoDB (see `store_conformance.rs` for how to point it at DynamoDB Local). Each waiter is
//! a task with its own client of the store, as separate processes would be.

#[macro_use]
mod common;

use common::{holding, lock, release_request, request, Fixture};
use daplaya::error::Error;
use daplaya::locks::{self, Attempt, LockRequest, Wait, WaitPolicy};
use daplaya::model::{Lock, Waiter};
use daplaya::store::{Expect, LockWrite, Store, Swap, SwapAll};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

conformance!(
    load_locks_reads_several_rows_in_the_order_asked,
    swap_locks_writes_every_row_or_none,
    a_queue_round_trips_every_field,
    a_heartbeat_keeps_the_revision_and_tells_when_the_place_is_gone,
    six_waiters_are_served_in_arrival_order,
    a_waiter_that_died_in_the_middle_is_skipped,
    a_waiter_that_gives_up_leaves_the_line_at_once,
    an_older_superseding_waiter_gives_way_to_a_newer_one,
    several_envs_are_taken_all_or_none,
    racing_multi_env_lockers_never_hold_part_of_their_envs,
    opposite_order_multi_env_waiters_both_finish,
    a_holder_s_renewals_keep_the_waiters_heartbeats,
);

const POLL: Duration = Duration::from_millis(100);
/// Long enough never to run out in a healthy test; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(60);
const HOLD: Duration = Duration::from_millis(50);

fn envs(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn on(names: &[&str], user: &str) -> LockRequest {
    LockRequest {
        envs: envs(names),
        ..request(names[0], user, false)
    }
}

fn waiting(wait: Duration) -> WaitPolicy {
    WaitPolicy {
        wait: Wait::Until(wait),
        poll_interval: POLL,
    }
}

fn waiter(id: &str, ticket: u64, user: &str, seen_at: i64) -> Waiter {
    Waiter {
        id: id.into(),
        ticket,
        user: user.into(),
        meta: format!("ci/{user}"),
        joined_at: seen_at - 10,
        seen_at,
        stale_after: 2_000,
        supersede: ticket % 2 == 1,
        envs: envs(&["eu", "us"]),
    }
}

async fn take(store: &dyn Store, request: &LockRequest) -> Vec<Lock> {
    match locks::try_lock(store, request).await.unwrap() {
        Attempt::Acquired(taken) => taken.into_iter().map(|(lock, _)| lock).collect(),
        Attempt::Busy { holders, waiting } => panic!("busy: {holders:?}, {waiting} waiting"),
    }
}

/// Who was served, in order, and proof that nobody held the envs at the same time.
#[derive(Default)]
struct Served {
    order: Mutex<Vec<String>>,
    inside: AtomicBool,
}

/// A waiter on its own client: waits for `request`, records itself when served, holds the envs
/// a moment and releases them. Resolves to the locks it released.
async fn spawn_waiter(
    fixture: &Fixture,
    request: LockRequest,
    served: Arc<Served>,
) -> JoinHandle<Vec<Lock>> {
    let store = fixture.connect().await;
    tokio::spawn(async move {
        let store = store.as_ref();
        let cancel = CancellationToken::new();
        let taken = locks::lock(store, &request, waiting(PATIENCE), &cancel, &mut |_| {})
            .await
            .unwrap();
        assert!(!served.inside.swap(true, Ordering::SeqCst), "two holders");
        served.order.lock().unwrap().push(request.user.clone());
        tokio::time::sleep(HOLD).await;
        served.inside.store(false, Ordering::SeqCst);
        let held: Vec<Lock> = taken.into_iter().map(|(lock, _)| lock).collect();
        locks::release_held(store, &held).await.unwrap()
    })
}

/// The users in line for `env` as stored (dead entries too), in ticket order.
async fn stored_line(store: &dyn Store, env: &str) -> Vec<String> {
    let mut queue = store
        .load_lock(env)
        .await
        .unwrap()
        .map_or_else(Vec::new, |row| row.queue);
    queue.sort_by_key(|w| w.ticket);
    queue.into_iter().map(|w| w.user).collect()
}

/// Waits until `user` is in line for every env in `names`.
async fn in_line(store: &dyn Store, names: &[&str], user: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for env in names {
        while !stored_line(store, env).await.iter().any(|u| u == user) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{user} never joined {env}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn load_locks_reads_several_rows_in_the_order_asked(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    for env in ["a", "b", "c"] {
        store
            .swap_lock(Expect::Absent, &holding(&lock(env, "alice", 1)))
            .await
            .unwrap();
    }
    let rows = store
        .load_locks(&envs(&["c", "nowhere", "a"]))
        .await
        .unwrap();
    let names: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.as_ref().map(|r| r.env.as_str()))
        .collect();
    assert_eq!(names, [Some("c"), None, Some("a")]);
    assert_eq!(rows[0], store.load_lock("c").await.unwrap());
    let many: Vec<String> = (0..25).map(|n| format!("env{n}")).collect();
    assert!(store
        .load_locks(&many)
        .await
        .unwrap()
        .iter()
        .all(Option::is_none));
}

async fn swap_locks_writes_every_row_or_none(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let eu = lock("eu", "alice", 1);
    store
        .swap_lock(Expect::Absent, &holding(&eu))
        .await
        .unwrap();
    let taken = Lock {
        revision: 2,
        user: "bob".into(),
        id: uuid::Uuid::now_v7().to_string(),
        ..eu.clone()
    };
    let us = lock("us", "bob", 1);
    // eu's expected revision is stale: neither row is written, nor any hold.
    let stale = vec![
        (Expect::Revision(7), holding(&taken)),
        (Expect::Absent, holding(&us)),
    ];
    assert_eq!(store.swap_locks(&stale).await.unwrap(), SwapAll::Conflict);
    assert_eq!(store.load_lock("eu").await.unwrap(), Some(eu.clone()));
    assert_eq!(store.load_lock("us").await.unwrap(), None);
    assert!(store.holds("us", None, 10).await.unwrap().is_empty());
    let fresh = vec![
        (Expect::Revision(1), holding(&taken)),
        (Expect::Absent, holding(&us)),
    ];
    assert_eq!(store.swap_locks(&fresh).await.unwrap(), SwapAll::Done);
    assert_eq!(store.load_lock("eu").await.unwrap(), Some(taken.clone()));
    assert_eq!(store.load_lock("us").await.unwrap(), Some(us.clone()));
    assert_eq!(store.holds("us", None, 10).await.unwrap().len(), 1);
    // A row expected absent that exists is a conflict too.
    let again = Lock {
        revision: 3,
        ..taken.clone()
    };
    let present = vec![
        (Expect::Revision(2), holding(&again)),
        (Expect::Absent, holding(&us)),
    ];
    assert_eq!(store.swap_locks(&present).await.unwrap(), SwapAll::Conflict);
    assert_eq!(store.load_lock("eu").await.unwrap(), Some(taken));
    // Twenty-five rows with their holds, in one write.
    let many: Vec<(Expect, LockWrite)> = (0..25)
        .map(|n| {
            (
                Expect::Absent,
                holding(&lock(&format!("env{n}"), "carol", 1)),
            )
        })
        .collect();
    assert_eq!(store.swap_locks(&many).await.unwrap(), SwapAll::Done);
    assert_eq!(
        store.load_lock("env24").await.unwrap().unwrap().user,
        "carol"
    );
}

async fn a_queue_round_trips_every_field(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let now = daplaya::model::now_ms();
    let queued = Lock {
        queue: vec![
            waiter("0190a0a0-0000-7000-8000-000000000001", 4, "bob", now),
            waiter("w2", 5, "carol ✈", now),
        ],
        next_ticket: 6,
        ..lock("eu", "alice", 3)
    };
    store
        .swap_lock(Expect::Absent, &holding(&queued))
        .await
        .unwrap();
    let mut read = store.load_lock("eu").await.unwrap().unwrap();
    read.queue.sort_by_key(|w| w.ticket);
    assert_eq!(read, queued);
    // A row nobody ever held, only waited for.
    let unheld = Lock {
        id: String::new(),
        user: String::new(),
        meta: String::new(),
        active: false,
        expires_at: None,
        fencing_token: 0,
        created_at: 0,
        updated_at: 0,
        queue: vec![waiter("w3", 0, "dave", now)],
        next_ticket: 1,
        ..lock("us", "nobody", 1)
    };
    store
        .swap_lock(
            Expect::Absent,
            &LockWrite {
                lock: unheld.clone(),
                holds: Vec::new(),
                keeps_queue: false,
                restamped: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.load_lock("us").await.unwrap(), Some(unheld));
    // Listed while anyone waits, though nobody holds it.
    let active: Vec<String> = store
        .waited_locks()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.env)
        .collect();
    assert!(active.contains(&"us".to_string()), "{active:?}");
}

async fn a_heartbeat_keeps_the_revision_and_tells_when_the_place_is_gone(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let now = daplaya::model::now_ms();
    for env in ["eu", "us"] {
        let row = Lock {
            queue: vec![
                waiter("me", 0, "bob", now),
                waiter("other", 1, "carol", now),
            ],
            next_ticket: 2,
            ..lock(env, "alice", 5)
        };
        store
            .swap_lock(Expect::Absent, &holding(&row))
            .await
            .unwrap();
    }
    let both = envs(&["eu", "us"]);
    assert!(store.touch_waiter(&both, "me", now + 500).await.unwrap());
    assert!(store
        .touch_waiter(&both[..1], "me", now + 600)
        .await
        .unwrap());
    let eu = store.load_lock("eu").await.unwrap().unwrap();
    let us = store.load_lock("us").await.unwrap().unwrap();
    let seen = |row: &Lock, id: &str| row.queue.iter().find(|w| w.id == id).unwrap().seen_at;
    assert_eq!((seen(&eu, "me"), seen(&us, "me")), (now + 600, now + 500));
    assert_eq!(seen(&eu, "other"), now, "only its own entry");
    assert_eq!(
        (eu.revision, us.revision),
        (5, 5),
        "a heartbeat never changes the revision"
    );
    // The holder's write, conditional on the revision it read, still goes through.
    let renewed = Lock {
        revision: 6,
        ..eu.clone()
    };
    assert_eq!(
        store
            .swap_lock(Expect::Revision(5), &holding(&renewed))
            .await
            .unwrap(),
        Swap::Done
    );
    // Gone from one env: nothing is written, and it says so.
    let without_me = Lock {
        queue: vec![waiter("other", 1, "carol", now)],
        revision: 6,
        ..us.clone()
    };
    store
        .swap_lock(Expect::Revision(5), &holding(&without_me))
        .await
        .unwrap();
    assert!(!store.touch_waiter(&both, "me", now + 900).await.unwrap());
    assert_eq!(
        seen(&store.load_lock("eu").await.unwrap().unwrap(), "me"),
        now + 600
    );
    assert!(!store
        .touch_waiter(&envs(&["nowhere"]), "me", now)
        .await
        .unwrap());
}

async fn six_waiters_are_served_in_arrival_order(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    take(store, &on(&["production"], "holder")).await;
    let served = Arc::new(Served::default());
    let users = ["w0", "w1", "w2", "w3", "w4", "w5"];
    let mut waiters = Vec::new();
    for user in users {
        waiters.push(spawn_waiter(&fixture, on(&["production"], user), served.clone()).await);
        in_line(store, &["production"], user).await;
    }
    let listed = locks::list(store, Some("production")).await.unwrap();
    let line: Vec<&str> = listed[0].queue.iter().map(|w| w.user.as_str()).collect();
    assert_eq!(line, users);
    locks::release(store, &release_request(&["production"], "holder"))
        .await
        .unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*served.order.lock().unwrap(), users);
    assert!(stored_line(store, "production").await.is_empty());
}

async fn a_waiter_that_died_in_the_middle_is_skipped(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    take(store, &on(&["production"], "holder")).await;
    let served = Arc::new(Served::default());
    let mut waiters = Vec::new();
    for user in ["first", "dies", "last"] {
        waiters.push(spawn_waiter(&fixture, on(&["production"], user), served.clone()).await);
        in_line(store, &["production"], user).await;
    }
    // Killed: no heartbeat any more, and no chance to leave.
    let dead = waiters.remove(1);
    dead.abort();
    assert!(dead.await.unwrap_err().is_cancelled());
    locks::release(store, &release_request(&["production"], "holder"))
        .await
        .unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*served.order.lock().unwrap(), ["first", "last"]);
    assert!(
        stored_line(store, "production").await.is_empty(),
        "the dead entry was pruned"
    );
}

async fn a_waiter_that_gives_up_leaves_the_line_at_once(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let held = take(store, &on(&["production", "staging"], "holder")).await;
    let both = ["production", "staging"];
    // Out of time: it leaves both lines before the error returns.
    let err = locks::lock(
        store,
        &on(&both, "timed"),
        waiting(Duration::from_millis(600)),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::LockBusy(busy) if busy.holder.as_ref().is_some_and(|lock| lock.user == "holder") && busy.waited.is_some()),
        "{err:?}"
    );
    for env in both {
        assert!(stored_line(store, env).await.is_empty(), "timed left {env}");
    }
    // Cancelled (Ctrl-C, an aborted API call): the same.
    let cancel = CancellationToken::new();
    let cancelled = {
        let (store, cancel) = (fixture.connect().await, cancel.clone());
        tokio::spawn(async move {
            locks::lock(
                store.as_ref(),
                &on(&both, "cancelled"),
                waiting(PATIENCE),
                &cancel,
                &mut |_| {},
            )
            .await
        })
    };
    in_line(store, &both, "cancelled").await;
    cancel.cancel();
    assert!(matches!(cancelled.await.unwrap(), Err(Error::Interrupted)));
    for env in both {
        assert!(
            stored_line(store, env).await.is_empty(),
            "cancelled left {env}"
        );
    }
    // An uberlock in the way: it fails at once, and leaves.
    let uberlocked = {
        let store = fixture.connect().await;
        tokio::spawn(async move {
            locks::lock(
                store.as_ref(),
                &on(&both, "bob"),
                waiting(PATIENCE),
                &CancellationToken::new(),
                &mut |_| {},
            )
            .await
        })
    };
    in_line(store, &both, "bob").await;
    let uber = LockRequest {
        uberlock: true,
        ..on(&["staging"], "boss")
    };
    take(store, &uber).await;
    assert!(
        matches!(uberlocked.await.unwrap(), Err(Error::Uberlocked(holder)) if holder.user == "boss")
    );
    for env in both {
        assert!(stored_line(store, env).await.is_empty(), "bob left {env}");
    }
    assert_eq!(
        store.load_lock("production").await.unwrap().unwrap().id,
        held[0].id
    );
}

async fn an_older_superseding_waiter_gives_way_to_a_newer_one(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let held = take(store, &on(&["production"], "c1")).await;
    let older = {
        let store = fixture.connect().await;
        let request = LockRequest {
            supersede: true,
            ..on(&["production"], "c2")
        };
        tokio::spawn(async move {
            locks::lock(
                store.as_ref(),
                &request,
                waiting(PATIENCE),
                &CancellationToken::new(),
                &mut |_| {},
            )
            .await
        })
    };
    in_line(store, &["production"], "c2").await;
    let served = Arc::new(Served::default());
    let newer = spawn_waiter(&fixture, on(&["production"], "c3"), served.clone()).await;
    // c2 gives way while c1 still holds the env, naming c3.
    let err = older.await.unwrap().unwrap_err();
    assert_eq!(err.exit_code(), 6);
    assert!(
        matches!(&err, Error::Superseded { env, by } if env == "production" && by.user == "c3"),
        "{err:?}"
    );
    assert_eq!(stored_line(store, "production").await, ["c3"]);
    let now = store.load_lock("production").await.unwrap().unwrap();
    assert_eq!(
        (now.id.as_str(), now.fencing_token, now.user.as_str()),
        (held[0].id.as_str(), held[0].fencing_token, "c1")
    );
    locks::release(store, &release_request(&["production"], "c1"))
        .await
        .unwrap();
    newer.await.unwrap();
    assert_eq!(*served.order.lock().unwrap(), ["c3"]);
}

async fn several_envs_are_taken_all_or_none(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let us = take(store, &on(&["us"], "alice")).await;
    let served = Arc::new(Served::default());
    let both = spawn_waiter(&fixture, on(&["eu", "us"], "bob"), served.clone()).await;
    in_line(store, &["eu", "us"], "bob").await;
    // eu is free, but bob holds nothing until he holds both, and nobody takes eu before him.
    let listed = locks::list(store, Some("eu")).await.unwrap();
    assert!(
        !listed[0].active && listed[0].queue[0].user == "bob",
        "{listed:?}"
    );
    assert!(matches!(
        locks::try_lock(store, &on(&["eu"], "carol")).await.unwrap(),
        Attempt::Busy { holders, waiting: 1 } if holders.is_empty()
    ));
    // An uberlocked env among several: refused at once, and nothing taken.
    take(
        store,
        &LockRequest {
            uberlock: true,
            ..on(&["asia"], "boss")
        },
    )
    .await;
    let err = locks::try_lock(store, &on(&["staging", "asia"], "dave"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Uberlocked { .. }), "{err:?}");
    assert_eq!(store.load_lock("staging").await.unwrap(), None);
    locks::release(store, &release_request(&["us"], "alice"))
        .await
        .unwrap();
    let released = both.await.unwrap();
    // Each token is the take's stamp: eu had none before, us's grows.
    let taken: Vec<(&str, u64)> = released
        .iter()
        .map(|l| (l.env.as_str(), l.fencing_token))
        .collect();
    assert_eq!(
        taken,
        [
            ("eu", released[0].created_at as u64),
            ("us", released[1].created_at as u64)
        ]
    );
    assert!(taken[1].1 > us[0].fencing_token);
    assert!(released.iter().all(|l| !l.active && l.user == "bob"));
}

async fn racing_multi_env_lockers_never_hold_part_of_their_envs(fixture: Fixture) {
    let sets: [&[&str]; 8] = [
        &["a", "b"],
        &["b", "c"],
        &["c", "a"],
        &["a"],
        &["b"],
        &["c"],
        &["a", "b", "c"],
        &["c", "b"],
    ];
    let start = Arc::new(tokio::sync::Barrier::new(sets.len()));
    let mut racers = Vec::new();
    for (n, set) in sets.iter().enumerate() {
        let store = fixture.connect().await;
        let (start, request) = (Arc::clone(&start), on(set, &format!("user{n}")));
        racers.push(tokio::spawn(async move {
            start.wait().await;
            let attempt = locks::try_lock(store.as_ref(), &request).await.unwrap();
            (request, attempt)
        }));
    }
    let mut holders: Vec<(String, Vec<String>)> = Vec::new();
    for racer in racers {
        if let (request, Attempt::Acquired(taken)) = racer.await.unwrap() {
            assert_eq!(taken.len(), request.envs.len());
            holders.push((request.user, request.envs));
        }
    }
    assert!(!holders.is_empty());
    let store = fixture.connect().await;
    for env in ["a", "b", "c"] {
        let row = store.load_lock(env).await.unwrap();
        let claimed: Vec<&String> = holders
            .iter()
            .filter(|(_, envs)| envs.iter().any(|e| e == env))
            .map(|(user, _)| user)
            .collect();
        match row {
            Some(row) if row.active => assert_eq!(claimed, [&row.user], "{env}"),
            _ => assert!(claimed.is_empty(), "{env}"),
        }
    }
}

async fn opposite_order_multi_env_waiters_both_finish(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    take(store, &on(&["eu", "us"], "holder")).await;
    let served = Arc::new(Served::default());
    let first = spawn_waiter(&fixture, on(&["eu", "us"], "first"), served.clone()).await;
    in_line(store, &["eu", "us"], "first").await;
    let second = spawn_waiter(&fixture, on(&["us", "eu"], "second"), served.clone()).await;
    in_line(store, &["us", "eu"], "second").await;
    locks::release(store, &release_request(&["eu", "us"], "holder"))
        .await
        .unwrap();
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(*served.order.lock().unwrap(), ["first", "second"]);
}

async fn a_holder_s_renewals_keep_the_waiters_heartbeats(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let mut held = take(store, &on(&["production"], "holder")).await;
    let served = Arc::new(Served::default());
    let waiter = spawn_waiter(&fixture, on(&["production"], "bob"), served.clone()).await;
    in_line(store, &["production"], "bob").await;
    held = locks::renew(store, &held).await.unwrap();
    // Longer than bob's place lasts without heartbeats: the next renewal, from a copy made
    // before them, must not put back the heartbeat that copy saw.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    locks::renew(store, &held).await.unwrap();
    let row = store.load_lock("production").await.unwrap().unwrap();
    let bob = row.queue.iter().find(|w| w.user == "bob").unwrap();
    assert!(bob.is_live_at(store.now().earliest), "{bob:?}");
    locks::release(store, &release_request(&["production"], "holder"))
        .await
        .unwrap();
    waiter.await.unwrap();
    assert_eq!(*served.order.lock().unwrap(), ["bob"]);
}
