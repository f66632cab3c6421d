//! What a request does next, decided on its envs' rows as read: take, join, wait or leave.

use super::line::{entry, newest_behind, pruned, queue_of, serving_order, Queuer};
use crate::error::Busy;
use crate::locks::decide::{decide_lock, Decision};
use crate::locks::time::is_held;
use crate::locks::types::{Acquired, LockRequest, WaitProgress};
use crate::locks::write::Writes;
use crate::model::{Lock, Waiter};
use crate::store::{Expect, LockWrite, StoreTime};
use std::time::Duration;

/// What a request does next, decided from its envs' rows as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take every env (or renew it): one write over all rows, which also takes the request's
    /// entries and the dead waiters off each queue.
    Take {
        writes: Writes,
        acquired: Vec<Acquired>,
    },
    /// Not now, and this request never queues: the other users' locks in the way, and how
    /// many live waiters would be served first (the most on any env).
    Busy { holders: Vec<Lock>, waiting: usize },
    /// Take a place at the back of every env's line, in one write (which drops whatever is left
    /// of an earlier place of the same request, and the dead waiters).
    Join(Writes),
    /// In line on every env and not first everywhere: a heartbeat, and wait.
    Wait,
    /// Someone else's uberlock is on one of the envs: nobody waits for an uberlock.
    Uberlocked(Lock),
    /// A `--supersede` request with a newer live waiter behind it on `env`: it gives way.
    Superseded { env: String, by: Waiter },
}

/// The row, if someone else than `holder` holds its env at `time`.
fn held_by_other<'a>(row: Option<&'a Lock>, holder: &str, time: StoreTime) -> Option<&'a Lock> {
    row.filter(|row| is_held(row, time) && row.holder != holder)
}

/// Decides the next step of `request` on the rows of its envs (`rows[i]` is the row of
/// `request.envs[i]`), at store time `time`. `queuer` is `None` for a request that never
/// queues (one attempt): it is then told `Busy` where another would join or wait.
pub fn decide_step(
    rows: &[Option<Lock>],
    request: &LockRequest,
    queuer: Option<&Queuer>,
    time: StoreTime,
) -> Step {
    let rows: Vec<Option<&Lock>> = rows.iter().map(Option::as_ref).collect();
    let own = queuer.map(|q| q.id.as_str());
    let holder = request.holder.as_str();
    if let Some(uber) = rows
        .iter()
        .filter_map(|row| held_by_other(*row, holder, time))
        .find(|row| row.uberlock)
    {
        return Step::Uberlocked(uber.clone());
    }
    let reentry = rows
        .iter()
        .all(|row| row.is_some_and(|row| is_held(row, time) && row.holder == holder));
    // An uberlock takes every env from normal holders and ignores the queue (which stays).
    if request.uberlock || reentry {
        return take(&rows, request, own, time);
    }
    if let (Some(id), true) = (own, request.supersede) {
        for (env, row) in request.envs.iter().zip(&rows) {
            let Some(mine) = entry(*row, id, time) else {
                continue;
            };
            let live: Vec<&Waiter> = queue_of(*row)
                .iter()
                .filter(|w| w.is_live_at(time.earliest))
                .collect();
            if let Some(by) = newest_behind(mine, &live) {
                return Step::Superseded {
                    env: env.clone(),
                    by: by.clone(),
                };
            }
        }
    }
    let first_everywhere = rows.iter().all(|row| {
        let order = serving_order(queue_of(*row), time);
        match own.and_then(|id| entry(*row, id, time)) {
            Some(mine) => order.first().is_some_and(|first| first.id == mine.id),
            None => order.is_empty(),
        }
    });
    let free_everywhere = rows
        .iter()
        .all(|row| held_by_other(*row, holder, time).is_none());
    if first_everywhere && free_everywhere {
        return take(&rows, request, own, time);
    }
    let Some(queuer) = queuer else {
        return Step::Busy {
            holders: holders(&rows, holder, time),
            waiting: rows
                .iter()
                .map(|row| serving_order(queue_of(*row), time).len())
                .max()
                .unwrap_or(0),
        };
    };
    if rows
        .iter()
        .all(|row| entry(*row, &queuer.id, time).is_some())
    {
        Step::Wait
    } else {
        Step::Join(join(&rows, request, queuer, time))
    }
}

fn holders(rows: &[Option<&Lock>], holder: &str, time: StoreTime) -> Vec<Lock> {
    rows.iter()
        .filter_map(|row| held_by_other(*row, holder, time))
        .cloned()
        .collect()
}

fn take(rows: &[Option<&Lock>], request: &LockRequest, own: Option<&str>, time: StoreTime) -> Step {
    let mut writes = Vec::with_capacity(rows.len());
    let mut acquired = Vec::with_capacity(rows.len());
    for (env, row) in request.envs.iter().zip(rows) {
        let Decision::Write {
            write: LockWrite { lock, holds, .. },
            acquired: how,
        } = decide_lock(env, *row, request, time)
        else {
            unreachable!("every env is free, the request's own, or the request preempts it")
        };
        let lock = Lock {
            queue: pruned(queue_of(*row), time, own),
            ..lock
        };
        writes.push((Expect::read(*row), LockWrite::new(lock, holds)));
        acquired.push(how);
    }
    Step::Take { writes, acquired }
}

/// The row of an env nobody has held yet, for its first waiter.
fn unheld(env: &str) -> Lock {
    Lock {
        id: String::new(),
        user: String::new(),
        holder: String::new(),
        env: env.to_string(),
        created_at: 0,
        updated_at: 0,
        active: false,
        uberlock: false,
        meta: String::new(),
        expires_at: None,
        fencing_token: 0,
        acquisitions: 0,
        revision: 0,
        queue: Vec::new(),
        next_ticket: 0,
    }
}

fn join(rows: &[Option<&Lock>], request: &LockRequest, queuer: &Queuer, time: StoreTime) -> Writes {
    request
        .envs
        .iter()
        .zip(rows)
        .map(|(env, row)| {
            let current = row.cloned().unwrap_or_else(|| unheld(env));
            let mut queue = pruned(&current.queue, time, Some(&queuer.id));
            queue.push(Waiter {
                id: queuer.id.clone(),
                ticket: current.next_ticket,
                user: request.user.clone(),
                meta: request.meta.for_fresh(),
                joined_at: time.latest,
                seen_at: time.latest,
                stale_after: queuer.stale_after.as_millis() as i64,
                supersede: request.supersede,
                envs: request.envs.clone(),
            });
            let lock = Lock {
                queue,
                next_ticket: current.next_ticket + 1,
                revision: current.revision + 1,
                ..current
            };
            (Expect::read(*row), LockWrite::new(lock, Vec::new()))
        })
        .collect()
}

/// The write that takes waiter `id` off every queue it is on (and the dead waiters with it);
/// empty when it is on none.
pub fn decide_leave(rows: &[Option<Lock>], id: &str, time: StoreTime) -> Writes {
    rows.iter()
        .flatten()
        .filter(|row| row.queue.iter().any(|w| w.id == id))
        .map(|row| {
            let lock = Lock {
                queue: pruned(&row.queue, time, Some(id)),
                revision: row.revision + 1,
                ..row.clone()
            };
            (
                Expect::Revision(row.revision),
                LockWrite::new(lock, Vec::new()),
            )
        })
        .collect()
}

/// Where waiter `id` stands on the rows of its envs.
pub fn progress(
    rows: &[Option<Lock>],
    request: &LockRequest,
    id: &str,
    time: StoreTime,
    waited: Duration,
    rejoined: bool,
) -> WaitProgress {
    let rows: Vec<Option<&Lock>> = rows.iter().map(Option::as_ref).collect();
    let orders: Vec<Vec<&Waiter>> = rows
        .iter()
        .map(|row| serving_order(queue_of(*row), time))
        .collect();
    WaitProgress {
        envs: request.envs.clone(),
        position: orders
            .iter()
            .map(|order| order.iter().position(|w| w.id == id).unwrap_or(order.len()) + 1)
            .max()
            .unwrap_or(1),
        waiting: orders.iter().map(Vec::len).max().unwrap_or(0),
        holders: holders(&rows, &request.holder, time),
        waited,
        rejoined,
    }
}

/// Why `request` goes without its envs, from the rows read at `time`: the first env another
/// user holds (its lock as listed), else the first whose line goes before it; with that env's
/// line, without the request itself (`own`, when it was in line). `waited`: how long it
/// waited, if it did.
pub fn refusal(
    rows: &[Option<Lock>],
    request: &LockRequest,
    own: Option<&str>,
    time: StoreTime,
    waited: Option<Duration>,
) -> Busy {
    let rows: Vec<Option<&Lock>> = rows.iter().map(Option::as_ref).collect();
    let line = |row: Option<&Lock>| -> Vec<Waiter> {
        serving_order(queue_of(row), time)
            .into_iter()
            .filter(|w| Some(w.id.as_str()) != own)
            .cloned()
            .collect()
    };
    let held = rows
        .iter()
        .position(|row| held_by_other(*row, &request.holder, time).is_some());
    let at = held
        .or_else(|| rows.iter().position(|row| !line(*row).is_empty()))
        .unwrap_or(0);
    let queue = line(rows[at]);
    Busy {
        env: request.envs[at].clone(),
        holder: held.and(rows[at]).map(|row| Lock {
            queue: queue.clone(),
            ..row.clone()
        }),
        queue,
        waited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::queue::line::{as_listed, stale_after};
    use crate::locks::release::{decide_release, Authority, ReleaseDecision, ReleaseRequest};
    use crate::locks::types::Meta;
    use std::collections::HashMap;

    const POLL: Duration = Duration::from_secs(1);

    fn at(now: i64) -> StoreTime {
        StoreTime::exact(now)
    }

    fn request(user: &str, envs: &[&str]) -> LockRequest {
        LockRequest {
            envs: envs.iter().map(|env| env.to_string()).collect(),
            user: user.into(),
            holder: user.into(),
            meta: Meta::Given(format!("ci/{user}")),
            uberlock: false,
            ttl: Duration::from_secs(60),
            supersede: false,
        }
    }

    fn superseding(user: &str, envs: &[&str]) -> LockRequest {
        LockRequest {
            supersede: true,
            ..request(user, envs)
        }
    }

    fn queuer(id: &str) -> Queuer {
        Queuer {
            id: id.into(),
            stale_after: stale_after(POLL),
        }
    }

    /// The rows of a few envs, written only as a store would: each write conditional on the
    /// revision it expects.
    #[derive(Default)]
    struct Rows(HashMap<String, Lock>);

    impl Rows {
        fn read(&self, envs: &[String]) -> Vec<Option<Lock>> {
            envs.iter().map(|env| self.0.get(env).cloned()).collect()
        }

        fn write(&mut self, writes: &Writes) {
            for (expected, write) in writes {
                let current = self.0.get(&write.lock.env);
                assert!(
                    expected.admits(current),
                    "a conditional write on {}",
                    write.lock.env
                );
            }
            for (_, write) in writes {
                self.0.insert(write.lock.env.clone(), write.lock.clone());
            }
        }

        /// One poll of `request` as waiter `id` at `now`: decide, and write what it decided
        /// (a heartbeat for `Wait`). Returns the step.
        fn poll(&mut self, request: &LockRequest, id: Option<&str>, now: i64) -> Step {
            let queuer = id.map(queuer);
            let step = decide_step(&self.read(&request.envs), request, queuer.as_ref(), at(now));
            match &step {
                Step::Take { writes, .. } | Step::Join(writes) => self.write(writes),
                Step::Wait => {
                    for env in &request.envs {
                        let row = self.0.get_mut(env).unwrap();
                        let entry = row.queue.iter_mut().find(|w| Some(w.id.as_str()) == id);
                        entry.unwrap().seen_at = now;
                    }
                }
                _ => {}
            }
            step
        }

        fn holder(&self, env: &str, now: i64) -> Option<&str> {
            self.0
                .get(env)
                .filter(|row| row.is_held_at(now))
                .map(|row| row.user.as_str())
        }

        fn line(&self, env: &str, now: i64) -> Vec<&str> {
            serving_order(&self.0[env].queue, at(now))
                .into_iter()
                .map(|w| w.user.as_str())
                .collect()
        }

        fn release(&mut self, env: &str, user: &str, now: i64) {
            let row = self.0.get(env).cloned();
            let request = ReleaseRequest {
                envs: vec![env.into()],
                user: user.into(),
                holder: user.into(),
                uberlock: false,
                authority: Authority::Holder,
            };
            let ReleaseDecision::Write(write) =
                decide_release(row.as_ref(), &request, at(now)).unwrap()
            else {
                panic!("{user} holds {env}")
            };
            self.write(&vec![(Expect::read(row.as_ref()), write)]);
        }
    }

    fn is_take(step: &Step) -> bool {
        matches!(step, Step::Take { .. })
    }

    #[test]
    fn a_free_env_nobody_waits_for_is_taken_at_once() {
        let mut rows = Rows::default();
        let step = rows.poll(&request("alice", &["prod"]), Some("a"), 1_000);
        let Step::Take { acquired, writes } = step else {
            panic!("taken")
        };
        assert_eq!(acquired, [Acquired::Acquired]);
        assert!(writes[0].1.lock.queue.is_empty());
        assert_eq!(rows.holder("prod", 1_000), Some("alice"));
    }

    #[test]
    fn waiters_join_with_tickets_in_arrival_order_and_are_served_in_that_order() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        let users = ["w0", "w1", "w2", "w3", "w4", "w5"];
        for (n, user) in users.iter().enumerate() {
            let step = rows.poll(&request(user, &["prod"]), Some(user), 100 + n as i64);
            assert!(matches!(step, Step::Join(_)), "{user} joins: {step:?}");
            assert_eq!(rows.0["prod"].queue.last().unwrap().ticket, n as u64);
        }
        assert_eq!(rows.0["prod"].next_ticket, 6);
        assert_eq!(rows.line("prod", 200), users);
        // Joined waiters keep their place with heartbeats, which the rules leave to the store.
        assert_eq!(
            rows.poll(&request("w3", &["prod"]), Some("w3"), 300),
            Step::Wait
        );
        rows.release("prod", "holder", 400);
        let mut served = Vec::new();
        let mut now = 500;
        while served.len() < users.len() {
            // Everyone polls, the last in line first: only the first in line may take it.
            let waiting: Vec<&str> = users
                .into_iter()
                .rev()
                .filter(|u| !served.contains(u))
                .collect();
            for user in waiting {
                if is_take(&rows.poll(&request(user, &["prod"]), Some(user), now)) {
                    served.push(user);
                }
            }
            rows.release("prod", served.last().unwrap(), now + 1);
            now += 100;
        }
        assert_eq!(served, users);
        assert!(rows.0["prod"].queue.is_empty());
    }

    #[test]
    fn a_newcomer_joins_behind_the_line_even_when_the_env_is_free() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        rows.poll(&request("first", &["prod"]), Some("first"), 10);
        rows.release("prod", "holder", 20);
        // The env is free, but "first" has not polled yet: "late" may not take it.
        assert!(matches!(
            rows.poll(&request("late", &["prod"]), Some("late"), 30),
            Step::Join(_)
        ));
        assert!(matches!(
            decide_step(&rows.read(&["prod".into()]), &request("other", &["prod"]), None, at(30)),
            Step::Busy { holders, waiting: 2 } if holders.is_empty()
        ));
        assert!(is_take(&rows.poll(
            &request("first", &["prod"]),
            Some("first"),
            40
        )));
    }

    #[test]
    fn a_dead_waiter_is_skipped_and_pruned_by_the_next_write() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        rows.poll(&request("dead", &["prod"]), Some("dead"), 1_000);
        rows.poll(&request("next", &["prod"]), Some("next"), 1_100);
        rows.release("prod", "holder", 2_000);
        // Still live: "next" waits its turn.
        assert_eq!(
            rows.poll(&request("next", &["prod"]), Some("next"), 3_999),
            Step::Wait
        );
        // Three poll intervals without a heartbeat: skipped.
        assert_eq!(rows.line("prod", 4_000), ["next"]);
        assert!(is_take(&rows.poll(
            &request("next", &["prod"]),
            Some("next"),
            4_000
        )));
        assert!(
            rows.0["prod"].queue.is_empty(),
            "the take pruned the dead waiter"
        );
    }

    #[test]
    fn a_release_or_renewal_prunes_the_dead_too() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        rows.poll(&request("dead", &["prod"]), Some("dead"), 100);
        rows.poll(&request("live", &["prod"]), Some("live"), 5_000);
        let held = rows.0["prod"].clone();
        let renewed = crate::locks::held::decide_renew(&held, Some(&held), at(6_000)).unwrap();
        assert_eq!(renewed.lock.queue.len(), 1);
        rows.release("prod", "holder", 6_000);
        assert_eq!(rows.0["prod"].queue.len(), 1);
        assert_eq!(rows.0["prod"].queue[0].user, "live");
    }

    #[test]
    fn a_waiter_back_from_a_stall_past_its_place_joins_again_at_the_back() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        rows.poll(&request("slow", &["prod"]), Some("slow"), 100);
        rows.poll(&request("next", &["prod"]), Some("next"), 200);
        // "next" polls on; "slow" stalls past its place (3 s), and nobody writes the row since.
        for now in [1_000, 2_000, 3_000, 4_000] {
            assert_eq!(
                rows.poll(&request("next", &["prod"]), Some("next"), now),
                Step::Wait
            );
        }
        assert_eq!(rows.line("prod", 4_000), ["next"], "moved up");
        // Back: its old entry is still in the row, but its place lapsed, its own poll included.
        let Step::Join(writes) = rows.poll(&request("slow", &["prod"]), Some("slow"), 4_100) else {
            panic!("joins again")
        };
        let queue = &writes[0].1.lock.queue;
        assert_eq!(queue.iter().filter(|w| w.id == "slow").count(), 1);
        assert_eq!(rows.line("prod", 4_200), ["next", "slow"]);
        rows.release("prod", "holder", 4_300);
        assert_eq!(
            rows.poll(&request("slow", &["prod"]), Some("slow"), 4_400),
            Step::Wait
        );
        assert!(is_take(&rows.poll(
            &request("next", &["prod"]),
            Some("next"),
            4_500
        )));
    }

    #[test]
    fn another_run_of_the_same_user_waits_in_line_and_its_own_run_renews() {
        let mut rows = Rows::default();
        let run = |holder: &str| LockRequest {
            holder: holder.into(),
            ..request("alice", &["prod"])
        };
        rows.poll(&run("run-1"), None, 0);
        assert!(matches!(
            rows.poll(&run("run-2"), Some("run-2"), 100),
            Step::Join(_)
        ));
        let Step::Take { acquired, .. } = rows.poll(&run("run-1"), None, 200) else {
            panic!("its own run renews")
        };
        assert_eq!(acquired, [Acquired::Renewed]);
        assert!(matches!(
            decide_step(&rows.read(&["prod".into()]), &run("run-3"), None, at(300)),
            Step::Busy { holders, waiting: 1 } if holders[0].holder == "run-1"
        ));
    }

    #[test]
    fn a_pruned_waiter_joins_again_at_the_back_on_every_env() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["eu", "us"]), None, 0);
        rows.poll(&request("slow", &["eu", "us"]), Some("slow"), 100);
        rows.poll(&request("other", &["eu"]), Some("other"), 200);
        // "other" polls after "slow" stalled: its heartbeat keeps it; a write prunes "slow" on eu.
        rows.poll(&request("other", &["eu"]), Some("other"), 4_000);
        rows.poll(&request("third", &["eu"]), Some("third"), 4_100);
        assert!(rows.0["eu"].queue.iter().all(|w| w.user != "slow"));
        assert!(rows.0["us"].queue.iter().any(|w| w.user == "slow"));
        // Gone from one env: it joins again on both, behind everyone, with fresh tickets.
        let Step::Join(writes) = rows.poll(&request("slow", &["eu", "us"]), Some("slow"), 4_200)
        else {
            panic!("joins again")
        };
        let us = &writes[1].1.lock;
        assert_eq!(us.queue.iter().filter(|w| w.id == "slow").count(), 1);
        assert_eq!(us.queue[0].ticket, 1, "the old entry is replaced");
        assert_eq!(rows.line("eu", 4_300), ["other", "third", "slow"]);
    }

    #[test]
    fn an_older_superseding_waiter_gives_way_to_a_newer_live_one() {
        let mut rows = Rows::default();
        rows.poll(&request("c1", &["prod"]), None, 0);
        rows.poll(&superseding("c2", &["prod"]), Some("c2"), 100);
        assert_eq!(
            rows.poll(&superseding("c2", &["prod"]), Some("c2"), 200),
            Step::Wait
        );
        rows.poll(&superseding("c3", &["prod"]), Some("c3"), 300);
        // c2 is skipped at once by the serving order...
        assert_eq!(rows.line("prod", 300), ["c3"]);
        // ...and told so at its next poll, naming the newer waiter.
        let Step::Superseded { env, by } =
            rows.poll(&superseding("c2", &["prod"]), Some("c2"), 400)
        else {
            panic!("c2 gives way")
        };
        assert_eq!(
            (env.as_str(), by.user.as_str(), by.meta.as_str()),
            ("prod", "c3", "ci/c3")
        );
        // The holder is never affected.
        assert_eq!(rows.holder("prod", 400), Some("c1"));
    }

    #[test]
    fn only_a_live_newer_waiter_supersedes_and_only_who_asked_gives_way() {
        let mut rows = Rows::default();
        rows.poll(&request("c1", &["prod"]), None, 0);
        rows.poll(&superseding("c2", &["prod"]), Some("c2"), 100);
        rows.poll(&request("plain", &["prod"]), Some("plain"), 150);
        rows.poll(&request("c3", &["prod"]), Some("c3"), 200);
        // A newer live waiter: c2 gives way; "plain", who did not ask to, never does.
        assert!(matches!(
            rows.poll(&superseding("c2", &["prod"]), Some("c2"), 2_000),
            Step::Superseded { .. }
        ));
        assert_eq!(
            rows.poll(&request("plain", &["prod"]), Some("plain"), 2_000),
            Step::Wait
        );
        let mut rows = Rows::default();
        rows.poll(&request("c1", &["prod"]), None, 0);
        rows.poll(&superseding("c2", &["prod"]), Some("c2"), 100);
        // c3 polls faster: its place lapses 2 s after its last poll, while c2's lasts 3 s.
        let quick = Queuer {
            id: "c3".into(),
            stale_after: Duration::from_secs(2),
        };
        let c3 = request("c3", &["prod"]);
        let Step::Join(writes) = decide_step(&rows.read(&c3.envs), &c3, Some(&quick), at(200))
        else {
            panic!("c3 joins")
        };
        rows.write(&writes);
        assert_eq!(
            rows.poll(&superseding("c2", &["prod"]), Some("c2"), 2_500),
            Step::Wait,
            "c3 is dead"
        );
    }

    #[test]
    fn an_uberlock_in_the_way_fails_at_once_and_an_uberlock_request_ignores_the_line() {
        let mut rows = Rows::default();
        rows.poll(&request("alice", &["prod"]), None, 0);
        rows.poll(&request("bob", &["prod", "eu"]), Some("bob"), 100);
        let uber = LockRequest {
            uberlock: true,
            ..request("carol", &["prod"])
        };
        let Step::Take { acquired, .. } = rows.poll(&uber, None, 200) else {
            panic!("an uberlock preempts")
        };
        assert!(
            matches!(&acquired[0], Acquired::Preempted { preempted_user } if preempted_user == "alice")
        );
        assert_eq!(rows.line("prod", 200), ["bob"], "the line stays");
        assert!(matches!(
            rows.poll(&request("bob", &["prod", "eu"]), Some("bob"), 300),
            Step::Uberlocked(lock) if lock.user == "carol"
        ));
        assert!(matches!(
            rows.poll(&request("dave", &["eu", "prod"]), None, 300),
            Step::Uberlocked(_)
        ));
    }

    #[test]
    fn the_holder_renews_while_others_wait() {
        let mut rows = Rows::default();
        rows.poll(&request("alice", &["prod"]), None, 0);
        rows.poll(&request("bob", &["prod"]), Some("bob"), 100);
        let Step::Take { acquired, .. } = rows.poll(&request("alice", &["prod"]), None, 200) else {
            panic!("re-entry renews")
        };
        assert_eq!(acquired, [Acquired::Renewed]);
        assert_eq!(rows.line("prod", 200), ["bob"]);
    }

    #[test]
    fn several_envs_are_taken_all_at_once_or_not_at_all() {
        let mut rows = Rows::default();
        rows.poll(&request("alice", &["us"]), None, 0);
        let both = request("bob", &["eu", "us"]);
        assert!(matches!(rows.poll(&both, Some("bob"), 100), Step::Join(_)));
        // eu is free but bob may not take it alone; nobody else may take it before him.
        assert_eq!(rows.holder("eu", 100), None);
        assert_eq!(rows.poll(&both, Some("bob"), 200), Step::Wait);
        assert!(matches!(
            rows.poll(&request("carol", &["eu"]), Some("carol"), 300),
            Step::Join(_)
        ));
        rows.release("us", "alice", 400);
        let Step::Take { acquired, writes } = rows.poll(&both, Some("bob"), 500) else {
            panic!("both are free and bob is first")
        };
        assert_eq!(acquired, [Acquired::Acquired, Acquired::Acquired]);
        assert_eq!(writes.len(), 2);
        assert_eq!(
            (rows.holder("eu", 500), rows.holder("us", 500)),
            (Some("bob"), Some("bob"))
        );
        assert_eq!(
            (rows.0["eu"].fencing_token, rows.0["us"].fencing_token),
            (500, 500),
            "each the stamp of the take"
        );
        assert_eq!(rows.line("eu", 500), ["carol"]);
        assert!(rows.0["us"].queue.is_empty());
    }

    #[test]
    fn opposite_order_multi_env_waiters_are_served_in_arrival_order() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["eu", "us"]), None, 0);
        let first = request("first", &["eu", "us"]);
        let second = request("second", &["us", "eu"]);
        rows.poll(&first, Some("first"), 100);
        rows.poll(&second, Some("second"), 200);
        for env in ["eu", "us"] {
            assert_eq!(rows.line(env, 300), ["first", "second"]);
        }
        rows.release("eu", "holder", 400);
        rows.release("us", "holder", 400);
        assert_eq!(rows.poll(&second, Some("second"), 500), Step::Wait);
        assert!(is_take(&rows.poll(&first, Some("first"), 600)));
        rows.release("eu", "first", 700);
        rows.release("us", "first", 700);
        assert!(is_take(&rows.poll(&second, Some("second"), 800)));
    }

    #[test]
    fn a_request_that_never_queues_is_told_who_holds_and_how_many_wait() {
        let mut rows = Rows::default();
        rows.poll(&request("alice", &["prod"]), None, 0);
        rows.poll(&request("bob", &["prod"]), Some("bob"), 100);
        let step = rows.poll(&request("carol", &["prod", "eu"]), None, 200);
        let Step::Busy { holders, waiting } = step else {
            panic!("busy")
        };
        assert_eq!(
            (holders.len(), holders[0].user.as_str(), waiting),
            (1, "alice", 1)
        );
        assert!(
            rows.0["prod"].queue.iter().all(|w| w.user != "carol"),
            "never joins"
        );
        assert!(!rows.0.contains_key("eu"), "writes nothing");
    }

    #[test]
    fn leaving_takes_the_waiter_off_every_env_with_the_dead() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["eu", "us"]), None, 0);
        rows.poll(&request("dead", &["eu"]), Some("dead"), 4_000);
        rows.poll(&request("me", &["eu", "us"]), Some("me"), 4_100);
        let envs = ["eu".to_string(), "us".to_string(), "asia".to_string()];
        let writes = decide_leave(&rows.read(&envs), "me", at(7_200));
        assert_eq!(writes.len(), 2, "only the envs it was on");
        rows.write(&writes);
        assert!(rows.0["eu"].queue.is_empty() && rows.0["us"].queue.is_empty());
        assert_eq!(rows.0["eu"].next_ticket, 2, "tickets are never reused");
        assert!(decide_leave(&rows.read(&envs), "me", at(7_300)).is_empty());
    }

    #[test]
    fn progress_tells_the_worst_place_and_the_longest_line() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["eu", "us"]), None, 0);
        rows.poll(&request("a", &["us"]), Some("a"), 100);
        rows.poll(&request("b", &["us"]), Some("b"), 150);
        let me = request("me", &["eu", "us"]);
        rows.poll(&me, Some("me"), 200);
        let stand = progress(&rows.read(&me.envs), &me, "me", at(300), POLL, false);
        assert_eq!((stand.position, stand.waiting), (3, 3));
        assert_eq!(stand.holders.len(), 2);
    }

    #[test]
    fn a_listed_row_shows_its_live_line_in_serving_order() {
        let mut rows = Rows::default();
        rows.poll(&request("holder", &["prod"]), None, 0);
        rows.poll(&request("dead", &["prod"]), Some("dead"), 100);
        rows.poll(&superseding("old", &["prod"]), Some("old"), 4_000);
        rows.poll(&request("new", &["prod"]), Some("new"), 4_100);
        let listed = as_listed(rows.0["prod"].clone(), at(4_200));
        let users: Vec<&str> = listed.queue.iter().map(|w| w.user.as_str()).collect();
        assert_eq!(users, ["new"]);
    }
}
