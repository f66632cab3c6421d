//! What the API functions resolve to: the documents `--json` prints, as `#[napi(object)]`
//! types so `binding.d.ts` names them. Each is checked equal to the report's JSON document
//! (`ops::report`) by the tests of `shapes.rs`, and `__test__/api.test.js` checks them against
//! the CLI's `--json` output for the same call.

use crate::{jobs, locks, model, store};
use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;

/// A lock row, as stored.
// Not `use_nullable`: `queue` is left out while nobody waits, as in `--json`; `expiresAt` is
// `null` for an uberlock all the same.
#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct Lock {
    /// Lock id; kept when the holder renews.
    pub id: String,
    /// Who holds it (a person or a bot), trimmed and lowercased.
    pub user: String,
    /// Environment, trimmed and lowercased.
    pub env: String,
    /// When this acquisition began (epoch ms).
    pub created_at: i64,
    /// Last renewal or release (epoch ms).
    pub updated_at: i64,
    /// False once released.
    pub active: bool,
    /// Never expires; only `release({ uberlock: true })` ends it.
    pub uberlock: bool,
    /// What the lock is for (a CI URL, `Slack`, `CLI`, `API`).
    pub meta: String,
    /// When the lease runs out (epoch ms); `null` for an uberlock.
    #[cfg_attr(test, serde(serialize_with = "nullable"))]
    pub expires_at: Either<i64, Null>,
    /// Strictly greater for every new acquisition of the env: lets a deploy target refuse a
    /// stale holder.
    pub fencing_token: i64,
    /// Which run holds it (a CI run, `locks run`, or the user at a terminal): re-entry and
    /// release are its own.
    pub holder: String,
    /// The env's line: live waiters in serving order; left out while nobody waits.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub queue: Option<Vec<Waiting>>,
}

/// `Either<T, Null>` as napi gives it to JS, for the tests' view of a result as JSON: the value,
/// or `null`.
#[cfg(test)]
fn nullable<T: serde::Serialize, S: serde::Serializer>(
    value: &Either<T, Null>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Either::A(value) => serde::Serialize::serialize(value, serializer),
        Either::B(Null) => serializer.serialize_none(),
    }
}

/// A waiter in an env's line.
#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct Waiting {
    pub user: String,
    pub meta: String,
    /// When it joined the line (epoch ms).
    pub joined_at: i64,
    /// Present (`true`) for a waiter that gives way to a newer one.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub supersede: Option<bool>,
}

impl From<model::Lock> for Lock {
    fn from(lock: model::Lock) -> Self {
        Lock {
            id: lock.id,
            user: lock.user,
            holder: lock.holder,
            env: lock.env,
            created_at: lock.created_at,
            updated_at: lock.updated_at,
            active: lock.active,
            uberlock: lock.uberlock,
            meta: lock.meta,
            expires_at: lock.expires_at.map_or(Either::B(Null), Either::A),
            // Tokens count acquisitions of one env: far below 2^53.
            fencing_token: i64::try_from(lock.fencing_token).unwrap_or(i64::MAX),
            queue: (!lock.queue.is_empty()).then(|| {
                lock.queue
                    .into_iter()
                    .map(|waiter| Waiting {
                        user: waiter.user,
                        meta: waiter.meta,
                        joined_at: waiter.joined_at,
                        supersede: waiter.supersede.then_some(true),
                    })
                    .collect()
            }),
        }
    }
}

/// A lock in a waiter's way, as `onWait` sees it.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitHolder {
    pub env: String,
    pub user: String,
    /// The run holding it.
    pub holder: String,
    pub meta: String,
    /// When its lease runs out (epoch ms); `null` for an uberlock.
    pub expires_at: Option<i64>,
}

impl From<&locks::WaitProgress> for WaitProgress {
    fn from(progress: &locks::WaitProgress) -> Self {
        // Places and lines are far below 2^32; a waited time far below 2^53 ms.
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        WaitProgress {
            envs: progress.envs.clone(),
            position: count(progress.position),
            waiting: count(progress.waiting),
            holders: progress
                .holders
                .iter()
                .map(|holder| WaitHolder {
                    env: holder.env.clone(),
                    user: holder.user.clone(),
                    holder: holder.holder.clone(),
                    meta: holder.meta.clone(),
                    expires_at: holder.expires_at,
                })
                .collect(),
            waited_ms: progress.waited.as_millis() as f64,
            rejoined: progress.rejoined,
        }
    }
}

/// What `onWait` is called with at each poll while a `lock` or `runLocked` waits.
#[napi(object, object_from_js = false)]
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitProgress {
    /// The envs waited for, as given.
    pub envs: Vec<String>,
    /// Place in line, 1 = next (over several envs, the furthest back).
    pub position: u32,
    /// Live waiters on those envs, this one included (over several envs, the longest line).
    pub waiting: u32,
    /// The other users' locks in the way; empty when the envs are free but waiters ahead go first.
    pub holders: Vec<WaitHolder>,
    /// Time waited so far (ms).
    pub waited_ms: f64,
    /// This poll joined the line again, at the back, after its place was lost (this process
    /// stalled past the place's lease).
    pub rejoined: bool,
}

/// How a hold ended.
#[napi(string_enum = "camelCase")]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub enum HoldEnd {
    /// Its holder released it.
    Released,
    /// Its lease lapsed, whether or not someone took the env afterwards.
    Expired,
    /// An uberlock took the env from it.
    Preempted,
    /// Someone broke it on purpose (`force` with a `reason`).
    Forced,
}

/// One acquisition of an env, from the grant to its end (renewals and upgrades are the same hold).
#[napi(object, object_from_js = false, use_nullable = true)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct Hold {
    pub env: String,
    /// The lock id of the acquisition.
    pub id: String,
    pub user: String,
    /// What the lock was for, as last written.
    pub meta: String,
    /// An uberlock, now or after an upgrade.
    pub uberlock: bool,
    pub fencing_token: i64,
    /// When it was granted (epoch ms).
    pub acquired_at: i64,
    /// When its lease runs (or ran) out as last renewed (epoch ms); `null` for an uberlock.
    pub expires_at: Option<i64>,
    /// When it ended (epoch ms): the release, the lease's end, or the preemption; `null` while held.
    pub ended_at: Option<i64>,
    /// `null` while held.
    pub end: Option<HoldEnd>,
    /// Who preempted it (`end: 'preempted'`) or forced it (`'forced'`); else `null`.
    pub ended_by: Option<String>,
    /// The run that held it.
    pub holder: String,
    /// Why it was forced (`end: 'forced'`); else `null`.
    pub reason: Option<String>,
}

impl From<model::Hold> for Hold {
    fn from(hold: model::Hold) -> Self {
        Hold {
            env: hold.env,
            id: hold.id,
            user: hold.user,
            holder: hold.holder,
            meta: hold.meta,
            uberlock: hold.uberlock,
            fencing_token: i64::try_from(hold.fencing_token).unwrap_or(i64::MAX),
            acquired_at: hold.acquired_at,
            expires_at: hold.expires_at,
            ended_at: hold.ended_at,
            end: hold.end.map(|end| match end {
                model::HoldEnd::Released => HoldEnd::Released,
                model::HoldEnd::Expired => HoldEnd::Expired,
                model::HoldEnd::Preempted => HoldEnd::Preempted,
                model::HoldEnd::Forced => HoldEnd::Forced,
            }),
            ended_by: hold.ended_by,
            reason: hold.reason,
        }
    }
}

/// How `lock` got the env: `lock` resolves to a {@link Lock} with these fields too.
#[napi(
    discriminant = "outcome",
    discriminant_case = "lowercase",
    object_from_js = false
)]
#[cfg_attr(
    test,
    derive(serde::Serialize),
    serde(
        tag = "outcome",
        rename_all = "lowercase",
        rename_all_fields = "camelCase"
    )
)]
pub enum Acquisition {
    /// The env was free, released or expired.
    Acquired,
    /// You held it already; lease renewed, same id.
    Renewed,
    /// Your normal lock became an uberlock, same id.
    Upgraded,
    /// Your uberlock took the env from another user's normal lock.
    Preempted { preempted_user: String },
}

impl From<locks::Acquired> for Acquisition {
    fn from(acquired: locks::Acquired) -> Self {
        match acquired {
            locks::Acquired::Acquired => Acquisition::Acquired,
            locks::Acquired::Renewed => Acquisition::Renewed,
            locks::Acquired::Upgraded => Acquisition::Upgraded,
            locks::Acquired::Preempted { preempted_user } => {
                Acquisition::Preempted { preempted_user }
            }
        }
    }
}

/// Why `release` changed nothing.
#[napi(string_enum = "camelCase")]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub enum ReleaseReason {
    /// Nobody holds the env.
    NotLocked,
    /// Someone else holds it.
    HeldByOther,
}

#[napi(object, object_from_js = false, use_nullable = true)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct ReleaseResult {
    /// False when you did not hold the env: nothing was changed.
    pub released: bool,
    /// True when someone else's lock was released with `force`.
    pub forced: bool,
    /// Why nothing was released.
    pub reason: Option<ReleaseReason>,
    /// The lock row after the call, if the env has one.
    pub lock: Option<Lock>,
}

impl From<locks::Released> for ReleaseResult {
    fn from(released: locks::Released) -> Self {
        match released {
            locks::Released::Released(lock) => ReleaseResult {
                released: true,
                forced: false,
                reason: None,
                lock: Some(lock.into()),
            },
            locks::Released::Forced(lock) => ReleaseResult {
                released: true,
                forced: true,
                reason: None,
                lock: Some(lock.into()),
            },
            locks::Released::Nothing(reason, lock) => ReleaseResult {
                released: false,
                forced: false,
                reason: Some(match reason {
                    locks::NotReleased::NotLocked => ReleaseReason::NotLocked,
                    locks::NotReleased::HeldByOther => ReleaseReason::HeldByOther,
                }),
                lock: lock.map(Lock::from),
            },
        }
    }
}

/// What `runLocked` resolves to once the command has exited under the lock.
#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct RunLockedResult {
    /// The command's exit code; 128 + N when signal N ended it.
    pub exit_code: i32,
    /// The lock as released (`active: false`), with the `fencingToken` the command was given.
    pub lock: Lock,
}

/// What `runLocked` of several envs (`env` an array) resolves to.
#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct RunLockedManyResult {
    /// The command's exit code; 128 + N when signal N ended it.
    pub exit_code: i32,
    /// The locks as released, in the order given, each with the `fencingToken` the command was
    /// given (in `DAPLAYA_FENCING_TOKENS`).
    pub locks: Vec<Lock>,
}

/// A running-job record.
#[napi(object, object_from_js = false, use_nullable = true)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct Job {
    /// Time-ordered id (UUIDv7).
    pub id: String,
    pub user: String,
    pub jobname: String,
    /// Git version the job runs.
    pub version: String,
    /// Start time (epoch ms).
    pub started: i64,
    /// End time (epoch ms); `null` while running.
    pub ended: Option<i64>,
    /// Ended as skipped.
    pub skipped: bool,
}

impl From<model::Job> for Job {
    fn from(job: model::Job) -> Self {
        Job {
            id: job.id,
            user: job.user,
            jobname: job.jobname,
            version: job.version,
            started: job.started,
            ended: job.ended,
            skipped: job.skipped,
        }
    }
}

#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct EndJobResult {
    /// False when the job had ended already: nothing was changed.
    pub changed: bool,
    pub job: Job,
}

impl From<jobs::Ended> for EndJobResult {
    fn from(ended: jobs::Ended) -> Self {
        EndJobResult {
            changed: ended.changed,
            job: ended.job.into(),
        }
    }
}

#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct TableStatus {
    pub name: String,
    /// False when it existed already.
    pub created: bool,
}

impl From<store::TableStatus> for TableStatus {
    fn from(table: store::TableStatus) -> Self {
        TableStatus {
            name: table.name,
            created: table.created,
        }
    }
}

#[napi(object, object_from_js = false)]
#[cfg_attr(test, derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct InitResult {
    /// The store, described without credentials.
    pub store: String,
    pub tables: Vec<TableStatus>,
}

/// What to answer Slack with.
#[napi(object, object_from_js = false)]
pub struct SlackResponse {
    /// 200, or 401 (bad signature or timestamp), 403 (another Slack app), 413 (body too large).
    pub status: u32,
    /// `content-type` of the body.
    pub headers: std::collections::HashMap<String, String>,
    /// A Slack message as JSON (`response_type` and `text`) for 200; a short word otherwise.
    pub body: String,
}

impl SlackResponse {
    /// Slack's JS entry answers with the document `{ status, headers, body }`.
    pub fn from_json(response: serde_json::Value) -> Self {
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
        SlackResponse {
            status: response["status"]
                .as_u64()
                .map_or(500, |status| status as u32),
            headers: response["headers"]
                .as_object()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|(name, value)| (name.clone(), text(value)))
                        .collect()
                })
                .unwrap_or_default(),
            body: text(&response["body"]),
        }
    }
}
