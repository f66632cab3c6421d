use super::*;
use crate::locks::{Meta, DEFAULT_TTL};

fn lock(env: &str, user: &str, id: &str, at: i64) -> Lock {
    Lock {
        id: id.into(),
        user: user.into(),
        env: env.into(),
        created_at: at,
        updated_at: at,
        active: true,
        uberlock: false,
        meta: format!("https://ci.test/{user}"),
        expires_at: Some(at + 60_000),
        fencing_token: 7,
        holder: format!("{user}-run"),
        acquisitions: 1,
        revision: 1,
        queue: Vec::new(),
        next_ticket: 1,
    }
}

fn waiter(id: &str, user: &str, ticket: u64, seen_at: i64) -> Waiter {
    Waiter {
        id: id.into(),
        ticket,
        user: user.into(),
        meta: format!("waits for {user}"),
        joined_at: seen_at - 1_000,
        seen_at,
        stale_after: 15_000,
        supersede: false,
        envs: vec!["production".into()],
    }
}

fn released(mut lock: Lock, queue: Vec<Waiter>, at: i64) -> Lock {
    lock.active = false;
    lock.updated_at = at;
    lock.queue = queue;
    lock
}

#[test]
fn taking_upgrading_and_preempting_are_told_and_a_renewal_is_not() {
    let taken = lock("production", "alice", "L1", 1_000);
    let events = from_taken(&[
        (taken.clone(), Acquired::Acquired),
        (taken.clone(), Acquired::Renewed),
        (taken.clone(), Acquired::Upgraded),
        (
            taken.clone(),
            Acquired::Preempted {
                preempted_user: "bob".into(),
            },
        ),
    ]);
    let told: Vec<_> = events.iter().map(|e| (e.id.as_str(), e.kind)).collect();
    assert_eq!(
        told,
        [
            ("L1.taken", Kind::Taken),
            ("L1.uberlocked", Kind::Uberlocked),
            ("L1.preempted", Kind::Preempted)
        ]
    );
    assert_eq!(events[0].holder.as_deref(), Some("alice-run"));
    assert_eq!(events[0].at, 1_000);
    assert_eq!(
        events[2].summary(),
        "alice took production with an uberlock from bob"
    );
}

#[test]
fn a_release_tells_the_first_live_waiter_its_turn_and_names_the_releaser() {
    let at = 50_000;
    let queue = vec![
        waiter("w3", "carol", 3, at),
        // Its place lapsed before the release: not its turn.
        waiter("w1", "dave", 1, at - 20_000),
        waiter("w2", "bob@acme.io", 2, at),
    ];
    let row = released(lock("production", "alice", "L1", 1_000), queue, at);
    let events = from_released(&[row], None);
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].id.as_str(), events[0].kind),
        ("L1.released", Kind::Released)
    );
    let turn = &events[1];
    assert_eq!((turn.id.as_str(), turn.kind), ("L1.turn", Kind::Turn));
    assert_eq!(turn.user, "bob@acme.io");
    assert_eq!(turn.by.as_deref(), Some("alice"));
    assert_eq!(turn.at, at);
    assert_eq!(
        turn.summary(),
        "bob@acme.io's turn on production: alice released it"
    );
}

#[test]
fn nobody_waiting_is_no_turn_and_a_forced_release_names_who_and_why() {
    let row = released(lock("staging", "alice", "L2", 1_000), Vec::new(), 9_000);
    assert_eq!(from_released(std::slice::from_ref(&row), None).len(), 1);
    let request = ReleaseRequest {
        envs: vec!["staging".into()],
        user: "ops".into(),
        holder: "ops".into(),
        uberlock: false,
        authority: Authority::Force {
            reason: "stuck deploy".into(),
        },
    };
    let events = from_release(
        &request,
        &[
            Released::Forced(row),
            Released::Nothing(crate::locks::NotReleased::NotLocked, None),
        ],
    );
    assert_eq!(events.len(), 1);
    let forced = &events[0];
    assert_eq!(
        (forced.id.as_str(), forced.kind),
        ("L2.forced", Kind::Forced)
    );
    assert_eq!(forced.by.as_deref(), Some("ops"));
    assert_eq!(forced.reason.as_deref(), Some("stuck deploy"));
    assert_eq!(forced.user, "alice");
}

#[test]
fn a_waiter_giving_way_is_told_with_the_newer_waiter_and_other_failures_are_not() {
    let request = LockRequest {
        envs: vec!["production".into()],
        user: "alice".into(),
        holder: "alice-run".into(),
        meta: Meta::Given("deploy 41".into()),
        uberlock: false,
        ttl: DEFAULT_TTL,
        supersede: true,
    };
    let newer = waiter("w9", "bob", 9, 70_000);
    let outcome = Err(Error::Superseded {
        env: "production".into(),
        by: Box::new(newer),
    });
    let events = from_locking(&request, &outcome);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, Kind::Superseded);
    assert_eq!(events[0].id, "w9.superseded.production.alice");
    assert_eq!(
        (events[0].meta.as_str(), events[0].at),
        ("deploy 41", 70_000)
    );
    assert!(from_locking(&request, &Err(Error::Interrupted)).is_empty());
}

#[test]
fn an_event_is_camel_case_json_without_empty_fields() {
    let event = &from_taken(&[(lock("production", "alice", "L1", 1_000), Acquired::Acquired)])[0];
    let json = serde_json::to_value(event).unwrap();
    assert_eq!(json["kind"], "taken");
    assert_eq!(json["lockId"], "L1");
    assert_eq!(json["fencingToken"], 7);
    assert!(json.get("by").is_none() && json.get("reason").is_none());
}
