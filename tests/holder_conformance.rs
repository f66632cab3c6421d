//! A lock belongs to the run that took it, on both stores: another run of the same user waits
//! and cannot release it, a forced release is recorded with who and why, a person's release
//! ends the lock of any of their runs, rows from before holders read as held by their user, a
//! row carrying a number no daplaya write makes is refused naming the env, and a copy kept on a
//! machine never decides what the shared row says, however it was forged.

#[macro_use]
mod common;

use common::{release_request, request, Fixture};
use daplaya::error::Error;
use daplaya::locks::{self, Acquired, Attempt, Authority, NotReleased, ReleaseRequest, Released};
use daplaya::model::{Hold, HoldEnd, Lock, MAX_COUNT};
use daplaya::store::Store;

conformance!(
    another_run_of_the_same_user_waits_and_cannot_release,
    a_forced_release_ends_the_hold_as_forced_with_who_and_why,
    a_person_releases_the_lock_of_any_of_their_runs,
    a_row_from_before_holders_reads_as_held_by_its_user,
);

/// The attacks on the shared row through a machine's copy and a tampered row: `attack::...`.
mod attack {
    use super::*;

    conformance!(
        a_row_with_an_out_of_range_number_is_refused_naming_the_env,
        a_forged_copy_never_decides_the_shared_row,
    );
}

fn run_of(user: &str, holder: &str) -> locks::LockRequest {
    locks::LockRequest {
        holder: holder.into(),
        ..request("production", user, false)
    }
}

fn release_of(user: &str, holder: &str, authority: Authority) -> ReleaseRequest {
    ReleaseRequest {
        holder: holder.into(),
        authority,
        ..release_request(&["production"], user)
    }
}

async fn take(store: &dyn Store, request: &locks::LockRequest) -> Lock {
    match locks::try_lock(store, request).await.unwrap() {
        Attempt::Acquired(mut taken) => taken.swap_remove(0).0,
        busy => panic!("{} could not lock: {busy:?}", request.holder),
    }
}

async fn row(store: &dyn Store) -> Lock {
    store.load_lock("production").await.unwrap().unwrap()
}

async fn another_run_of_the_same_user_waits_and_cannot_release(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let first = take(
        store,
        &run_of("octocat", "github:acme/shop/runs/1/attempts/1"),
    )
    .await;
    assert_eq!(first.holder, "github:acme/shop/runs/1/attempts/1");
    let second = run_of("octocat", "github:acme/shop/runs/2/attempts/1");
    let Attempt::Busy { holders, .. } = locks::try_lock(store, &second).await.unwrap() else {
        panic!("another run of octocat is another holder")
    };
    assert_eq!(holders[0].holder, first.holder);
    let refused = locks::release(
        store,
        &release_of("octocat", &second.holder, Authority::Holder),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, Error::HeldByOtherRun { holder, .. } if holder == &first.holder),
        "{refused}"
    );
    assert_eq!(refused.exit_code(), 7);
    assert_eq!(row(store).await, first, "nothing changed");
    // Its own run renews it (in a later job of the same run, say) and releases it.
    let Attempt::Acquired(renewed) = locks::try_lock(store, &run_of("octocat", &first.holder))
        .await
        .unwrap()
    else {
        panic!("its own run renews")
    };
    assert_eq!(
        (renewed[0].0.id.as_str(), &renewed[0].1),
        (first.id.as_str(), &Acquired::Renewed)
    );
    let released = locks::release(
        store,
        &release_of("octocat", &first.holder, Authority::Holder),
    )
    .await
    .unwrap();
    assert!(matches!(released.as_slice(), [Released::Released(lock)] if lock.id == first.id));
}

async fn a_forced_release_ends_the_hold_as_forced_with_who_and_why(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let uber = locks::LockRequest {
        uberlock: true,
        ..run_of("alice", "github:acme/shop/runs/9/attempts/2")
    };
    let held = take(store, &uber).await;
    let force = Authority::Force {
        reason: "the deploy runner died".into(),
    };
    let released = locks::release(store, &release_of("bob", "bob", force))
        .await
        .unwrap();
    assert!(
        matches!(released.as_slice(), [Released::Forced(lock)] if lock.id == held.id && !lock.active)
    );
    let [hold] = store
        .holds("production", None, 10)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        (hold.end, hold.ended_by.as_deref(), hold.reason.as_deref()),
        (
            Some(HoldEnd::Forced),
            Some("bob"),
            Some("the deploy runner died")
        )
    );
    assert_eq!(
        (hold.user.as_str(), hold.holder.as_str()),
        ("alice", held.holder.as_str())
    );
    // Nothing left to force: a release of a free env changes nothing.
    let force = Authority::Force {
        reason: "again".into(),
    };
    let again = locks::release(store, &release_of("bob", "bob", force))
        .await
        .unwrap();
    assert!(matches!(
        again.as_slice(),
        [Released::Nothing(NotReleased::NotLocked, _)]
    ));
}

async fn a_person_releases_the_lock_of_any_of_their_runs(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let pipeline = take(store, &run_of("alice@acme.io", "gitlab:pipelines/77")).await;
    let stranger = locks::release(store, &release_of("mallory", "mallory", Authority::User))
        .await
        .unwrap();
    assert!(matches!(
        stranger.as_slice(),
        [Released::Nothing(NotReleased::HeldByOther, _)]
    ));
    let alice = locks::release(
        store,
        &release_of("alice@acme.io", "alice@acme.io", Authority::User),
    )
    .await
    .unwrap();
    assert!(matches!(alice.as_slice(), [Released::Released(lock)] if lock.id == pipeline.id));
    let holds = store.holds("production", None, 10).await.unwrap();
    assert_eq!(
        (holds[0].end, holds[0].ended_by.as_deref()),
        (Some(HoldEnd::Released), None)
    );
}

async fn a_row_from_before_holders_reads_as_held_by_its_user(fixture: Fixture) {
    let store = fixture.connect().await;
    fixture
        .write_row_by_hand("production", "alice", "5", None)
        .await;
    let old = row(store.as_ref()).await;
    assert_eq!((old.user.as_str(), old.holder.as_str()), ("alice", "alice"));
    // Alice at a terminal (her own run) renews and releases it; another holder does not.
    let busy = locks::try_lock(store.as_ref(), &run_of("alice", "ci:1"))
        .await
        .unwrap();
    assert!(matches!(busy, Attempt::Busy { .. }));
    let renewed = take(store.as_ref(), &run_of("alice", "alice")).await;
    assert_eq!(
        (renewed.id.as_str(), renewed.holder.as_str()),
        ("by-hand", "alice")
    );
    let released = locks::release(store.as_ref(), &release_request(&["production"], "alice"))
        .await
        .unwrap();
    assert!(matches!(released.as_slice(), [Released::Released(_)]));
}

async fn a_row_with_an_out_of_range_number_is_refused_naming_the_env(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    for token in [
        "-1",
        &(MAX_COUNT as u128 + 1).to_string(),
        "9223372036854775807",
    ] {
        fixture
            .write_row_by_hand("production", "alice", token, Some("alice"))
            .await;
        let error = store.load_lock("production").await.unwrap_err();
        assert_eq!(
            (error.code(), error.exit_code()),
            ("INVALID_ROW", 1),
            "{token}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("the lock row of env production in ")
                && message.contains(&format!("fencingToken is {token}, not 0 to {MAX_COUNT}")),
            "{message}"
        );
        // Nothing decides on it, and nothing is written over it.
        let attempt = locks::try_lock(store, &run_of("bob", "bob"))
            .await
            .unwrap_err();
        assert_eq!(attempt.code(), "INVALID_ROW");
        let release = locks::release(store, &release_request(&["production"], "alice")).await;
        assert_eq!(release.unwrap_err().code(), "INVALID_ROW");
    }
    // Other envs are untouched by it.
    assert!(matches!(
        locks::try_lock(
            store,
            &locks::LockRequest {
                envs: vec!["staging".into()],
                ..run_of("bob", "bob")
            }
        )
        .await
        .unwrap(),
        Attempt::Acquired(_)
    ));
}

/// The attacks of a hand-written copy: every lie it may tell about the row, each released from
/// as its claimed holder. The store checks the claim; the release then decides on the row as it
/// is, so the lie changes nothing the row or its history says.
async fn a_forged_copy_never_decides_the_shared_row(fixture: Fixture) {
    let store = fixture.connect().await;
    let store = store.as_ref();
    let uber = locks::LockRequest {
        uberlock: true,
        ..run_of("alice", "alice")
    };
    let real = take(store, &uber).await;
    let history = store.holds("production", None, 10).await.unwrap();
    // Each claims a plain lock (a release of one needs no --uberlock), so the release goes out
    // unread, claiming the copy: only the store's check stops it.
    let plain = Lock {
        uberlock: false,
        ..real.clone()
    };
    let forgeries = [
        (
            "a normal lock, to end an uberlock without --uberlock",
            plain.clone(),
        ),
        (
            "another meta",
            Lock {
                meta: "rewritten".into(),
                ..plain.clone()
            },
        ),
        (
            "a token far back",
            Lock {
                fencing_token: 1,
                ..plain.clone()
            },
        ),
        (
            "a lease of ten years",
            Lock {
                expires_at: Some(real.created_at + 315_360_000_000),
                ..plain.clone()
            },
        ),
        (
            "stamps far ahead",
            Lock {
                updated_at: real.updated_at + 86_400_000,
                ..plain.clone()
            },
        ),
        (
            "another lock id",
            Lock {
                id: "forged".into(),
                ..plain.clone()
            },
        ),
    ];
    for (what, copy) in forgeries {
        let attempt = locks::release_from(
            store,
            &release_request(&["production"], "alice"),
            vec![copy],
        )
        .await;
        assert_eq!(
            attempt.unwrap_err().exit_code(),
            2,
            "{what}: the uberlock needs --uberlock"
        );
        assert_eq!(row(store).await, real, "{what}: the row is as it was");
        assert_eq!(
            store.holds("production", None, 10).await.unwrap(),
            history,
            "{what}"
        );
    }
    // Claiming to be mallory's own lock releases nothing of alice's.
    let theirs = Lock {
        user: "mallory".into(),
        holder: "mallory".into(),
        ..real.clone()
    };
    let stranger = locks::release_from(
        store,
        &release_request(&["production"], "mallory"),
        vec![theirs],
    )
    .await
    .unwrap();
    assert!(matches!(
        stranger.as_slice(),
        [Released::Nothing(NotReleased::HeldByOther, _)]
    ));
    assert_eq!(row(store).await, real);
    // A forged token on a real release: the release stands on the row's own values.
    let request = ReleaseRequest {
        uberlock: true,
        ..release_request(&["production"], "alice")
    };
    let forged = Lock {
        fencing_token: 1,
        meta: "rewritten".into(),
        ..real.clone()
    };
    let released = locks::release_from(store, &request, vec![forged])
        .await
        .unwrap();
    let [Released::Released(lock)] = released.as_slice() else {
        panic!("alice releases her uberlock: {released:?}")
    };
    assert_eq!(
        (lock.fencing_token, lock.meta.as_str()),
        (real.fencing_token, real.meta.as_str())
    );
    let ended: Hold = store.holds("production", None, 10).await.unwrap().remove(0);
    assert_eq!(
        (ended.fencing_token, ended.meta.as_str(), ended.end),
        (
            real.fencing_token,
            real.meta.as_str(),
            Some(HoldEnd::Released)
        )
    );
    // The next acquisition's token still grows.
    let next = take(store, &run_of("bob", "bob")).await;
    assert!(next.fencing_token > real.fencing_token);
}
