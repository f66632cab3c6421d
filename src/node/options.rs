//! The options objects of the API functions. Each is a `#[napi(object)]`, so `binding.d.ts`
//! declares it with these doc comments, read from JS by a conversion ([`Given`]) that refuses
//! any key it does not declare (a misspelt `timout` is an error naming it, not a lock that
//! waits forever) and any value of a kind the option does not take.

use super::abort::Abort;
use super::given::{is_array, strings, wrong_kind, Given, Name};
#[cfg(doc)]
use super::results::WaitProgress;
use crate::config::StoreOptions;
use crate::duration;
use crate::error::Result;
use crate::ops::input::Envs;
use napi::bindgen_prelude::{Either, FromNapiValue, Unknown, ValueType};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{sys, Status};
use napi_derive::napi;
use serde_json::Value;
use std::time::Duration;

/// A duration option (milliseconds, or text such as `'30s'`) as a `Duration`; refusals name
/// the option as JS spells it (`pollInterval`).
pub fn duration(name: &str, given: &Option<Either<f64, String>>) -> Result<Option<Duration>> {
    given
        .as_ref()
        .map(|given| match given {
            Either::A(millis) => duration::from_millis(name, *millis),
            Either::B(text) => duration::parse(name, text),
        })
        .transpose()
}

/// [`duration`], where zero makes no sense (a lease, a poll interval).
pub fn positive_duration(
    name: &str,
    given: &Option<Either<f64, String>>,
) -> Result<Option<Duration>> {
    duration(name, given)?
        .map(|given| duration::positive(name, given))
        .transpose()
}

/// `env`: one name, or an array of them; left out, it reads as empty (and is refused by name).
pub struct EnvOption(pub(super) Either<String, Vec<String>>);

impl Default for EnvOption {
    fn default() -> Self {
        EnvOption(Either::A(String::new()))
    }
}

impl EnvOption {
    /// The envs as the validation reads them; an array answers with a list even of one.
    pub fn envs(&self) -> Envs {
        match &self.0 {
            Either::A(env) => env.clone().into(),
            Either::B(envs) => Envs {
                given: envs.clone(),
                listed: true,
            },
        }
    }
}

/// `runLocked`'s command: the program and its arguments, an array of strings (no shell).
pub struct Command(pub Vec<String>);

impl FromNapiValue for Command {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        const TAKES: &str = "an array of strings, such as ['./deploy.sh', '--prod']";
        let kind = napi::bindgen_prelude::type_of!(env, value)?;
        if kind != ValueType::Object || !unsafe { is_array(env, value) }? {
            return Err(wrong_kind(env, value, "command", TAKES));
        }
        let name = Name {
            subject: "",
            key: "command",
        };
        unsafe { strings(env, value, name, "a string") }.map(Command)
    }
}

/// `handleSlackCommand`'s request, as index.js hands it over: the headers as an object, and the
/// body as received, as text.
pub struct SlackRequest {
    pub headers: Option<serde_json::Map<String, Value>>,
    pub body: Option<String>,
}

impl FromNapiValue for SlackRequest {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let request = unsafe { Given::named("request", env, value, &["headers", "body"]) }?;
        Ok(SlackRequest {
            headers: request.read("headers")?,
            body: request.read("body")?,
        })
    }
}

/// `onWait`: called from Rust at each poll with the waiter's progress (a [`WaitProgress`] as
/// JSON: `cargo test` builds without Node, where napi objects have no JS conversion), never
/// waited on (the poll goes on while JS runs it).
pub type OnWait = ThreadsafeFunction<Value, Unknown<'static>, Value, Status, false>;

/// Declares an options object: its own fields, then the store options every function takes.
/// Doc comments are written `#[doc = "..."]`: napi reads them as plain string literals, and
/// `///` passed through a macro arrives as a raw one.
macro_rules! options {
    // Attributes are passed on as raw tokens: napi reads doc comments from them.
    ($(#[$($meta:tt)*])* $name:ident { $($(#[$($field_meta:tt)*])* $field:ident: $ty:ty,)* }) => {
        $(#[$($meta)*])*
        #[napi(object, object_from_js = false, object_to_js = false)]
        #[derive(Default)]
        pub struct $name {
            $($(#[$($field_meta)*])* pub $field: $ty,)*
            /// `'dynamodb'` or `'sqlite:<path>'` (else `DAPLAYA_STORE`, else chosen from the environment).
            pub store: Option<String>,
            /// AWS region for DynamoDB (else `DAPLAYA_AWS_REGION`, else the AWS chain's region).
            pub region: Option<String>,
            /// DynamoDB endpoint, e.g. DynamoDB Local (else `DAPLAYA_DYNAMODB_ENDPOINT`).
            pub endpoint: Option<String>,
            /// Locks table name (else `DAPLAYA_LOCKS_TABLE`, else `DaPlayaLocks`).
            pub locks_table: Option<String>,
            /// Jobs table name (else `DAPLAYA_JOBS_TABLE`, else `DaPlayaRunningJobs`).
            pub jobs_table: Option<String>,
            /// Lock history table name (else `DAPLAYA_HISTORY_TABLE`, else `DaPlayaLockHistory`).
            pub history_table: Option<String>,
        }

        impl FromNapiValue for $name {
            unsafe fn from_napi_value(
                env: sys::napi_env,
                value: sys::napi_value,
            ) -> napi::Result<Self> {
                let own: &[&str] = &[$(stringify!($field)),*];
                let options = unsafe { Given::new(env, value, &[own, &STORE_FIELDS].concat()) }?;
                Ok($name {
                    $($field: options.read(stringify!($field))?,)*
                    store: options.read("store")?,
                    region: options.read("region")?,
                    endpoint: options.read("endpoint")?,
                    locks_table: options.read("locks_table")?,
                    jobs_table: options.read("jobs_table")?,
                    history_table: options.read("history_table")?,
                })
            }
        }

        impl $name {
            pub fn store_options(&self) -> StoreOptions {
                StoreOptions {
                    store: self.store.clone(),
                    region: self.region.clone(),
                    endpoint: self.endpoint.clone(),
                    locks_table: self.locks_table.clone(),
                    jobs_table: self.jobs_table.clone(),
                    history_table: self.history_table.clone(),
                }
            }
        }
    };
}

const STORE_FIELDS: [&str; 6] = [
    "store",
    "region",
    "endpoint",
    "locks_table",
    "jobs_table",
    "history_table",
];

options! {
    #[doc = " Options of `init`."]
    InitOptions {}
}

options! {
    #[doc = " Options of `listLocks`."]
    ListLocksOptions {
        #[doc = " Only this env (default: every env with an active lock)."]
        env: Option<String>,
    }
}

options! {
    #[doc = " Options of `lockHistory`."]
    LockHistoryOptions {
        #[doc = " Environment whose holds to read."]
        env: String,
        #[doc = " At most this many holds, newest first (default 20, at most 1000)."]
        limit: Option<i64>,
        #[doc = " Only holds acquired within this long before now: milliseconds, or text such as `'7d'`."]
        since: Option<Either<f64, String>>,
    }
}

options! {
    #[doc = " Options of `lock` and `runLocked`."]
    LockOptions {
        #[doc = " Environment to lock, or several (at most 25) to take all at once or none: given an"]
        #[doc = " array, the call resolves to one result per env, in this order."]
        #[napi(ts_type = "string | string[]")]
        env: EnvOption,
        #[doc = " Who holds it (default: `DAPLAYA_USER`, the CI's user, `git config user.email`, the"]
        #[doc = " login name; see docs/ci.md)."]
        user: Option<String>,
        #[doc = " `lock` only: which run holds it; locking again from it renews, and only it releases"]
        #[doc = " (default: `DAPLAYA_HOLDER`, the CI run, else the user). `runLocked` is a run of its own."]
        holder: Option<String>,
        #[doc = " What the lock is for (default for a new lock: the CI run's URL, else `'API'`; a renewal"]
        #[doc = " or upgrade without one keeps the lock's meta)."]
        meta: Option<String>,
        #[doc = " Take an uberlock: never expires, refuses others at once, preempts a normal holder."]
        uberlock: Option<bool>,
        #[doc = " Lease length (default 20 minutes): milliseconds, or text such as `'500ms'`, `'30s'`,"]
        #[doc = " `'20m'`, `'2h'`, `'1d'`."]
        ttl: Option<Either<f64, String>>,
        #[doc = " Stop waiting after this long and reject with `LOCK_BUSY` (default: wait forever)."]
        timeout: Option<Either<f64, String>>,
        #[doc = " Try once; reject with `LOCK_BUSY` if someone else holds the env."]
        no_wait: Option<bool>,
        #[doc = " How often to retry while waiting (default 5 s)."]
        poll_interval: Option<Either<f64, String>>,
        #[doc = " Deploy only the newest: when a newer waiter joins the line behind this one, leave the"]
        #[doc = " line and reject with `SUPERSEDED` (naming the newer waiter); `runLocked` then runs nothing."]
        supersede: Option<bool>,
        #[doc = " Called at each poll while waiting: the place in line, who holds the env(s), time waited."]
        #[doc = " A throw ends the wait as an abort would, and the call rejects with what was thrown."]
        #[napi(ts_type = "(progress: WaitProgress) => void")]
        on_wait: Option<OnWait>,
        #[doc = " `runLocked` only: after sending the command SIGTERM (a lost lease, an abort), SIGKILL"]
        #[doc = " its process group if it is still running this long after (default 30 s)."]
        kill_after: Option<Either<f64, String>>,
        #[doc = " Aborting it ends the wait at once: nothing is taken, and the call rejects with an"]
        #[doc = " `AbortError`. For `runLocked`, a command already running is sent SIGTERM, and the"]
        #[doc = " lock is released when it has exited."]
        #[napi(ts_type = "AbortSignal")]
        signal: Option<Abort>,
    }
}

options! {
    #[doc = " Options of `release`."]
    ReleaseOptions {
        #[doc = " Environment to release, or several at once (an array: one result per env)."]
        #[napi(ts_type = "string | string[]")]
        env: EnvOption,
        #[doc = " Default: as for `lock`."]
        user: Option<String>,
        #[doc = " The run holding it: only that run releases it (default: as for `lock`); another run of"]
        #[doc = " the same user is refused with `HELD_BY_OTHER_RUN`."]
        holder: Option<String>,
        #[doc = " Required to release an uberlock."]
        uberlock: Option<bool>,
        #[doc = " Release it whoever holds it (an uberlock too); needs `reason`. The history records the"]
        #[doc = " hold as `forced`, by this user, for this reason."]
        force: Option<bool>,
        #[doc = " Why the lock is forced (with `force`)."]
        reason: Option<String>,
    }
}

options! {
    #[doc = " Options of `startJob`."]
    StartJobOptions {
        jobname: String,
        #[doc = " Default: as for `lock`."]
        user: Option<String>,
        gitversion: String,
    }
}

options! {
    #[doc = " Options of `getJob`."]
    GetJobOptions {
        jobname: String,
        gitversion: String,
    }
}

options! {
    #[doc = " Options of `endJob`."]
    EndJobOptions {
        gitversion: String,
        #[doc = " Needed when the version runs under several jobnames."]
        jobname: Option<String>,
        #[doc = " Only a job started by this user."]
        user: Option<String>,
        #[doc = " Mark the job skipped."]
        skipped: Option<bool>,
    }
}

options! {
    #[doc = " Options of `activeJobs` and `skippedJobs`."]
    JobWindowOptions {
        jobname: String,
        #[doc = " How far back to look (default 50 minutes)."]
        ttl: Option<Either<f64, String>>,
    }
}

options! {
    #[doc = " Options of `handleSlackCommand`; unset fields come from the environment."]
    SlackHandlerOptions {
        #[doc = " The Slack app's signing secret (else `DAPLAYA_SLACK_SIGNING_SECRET`); required."]
        signing_secret: Option<String>,
        #[doc = " Accept only requests whose `api_app_id` is this (else `DAPLAYA_SLACK_APP_ID`;"]
        #[doc = " when unset, any app)."]
        app_id: Option<String>,
        #[doc = " A bot token (`xoxb-...`, scopes `users:read` and `users:read.email`; else"]
        #[doc = " `DAPLAYA_SLACK_BOT_TOKEN`): a Slack user acts as the email of their profile."]
        bot_token: Option<String>,
        #[doc = " Slack's Web API address (else `DAPLAYA_SLACK_API_URL`, else `https://slack.com/api`)."]
        api_url: Option<String>,
        #[doc = " Slack member ids to daplaya users, e.g. `{ U0123ABC: 'alice@acme.io' }` (else"]
        #[doc = " `DAPLAYA_SLACK_USERS`); these win over the profile."]
        #[napi(ts_type = "Record<string, string>")]
        users: Option<std::collections::HashMap<String, String>>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_milliseconds_or_text_and_refusals_name_the_option() {
        let millis = |ms: f64| duration("ttl", &Some(Either::A(ms)));
        assert_eq!(millis(1500.0).unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(
            millis(-1.0).unwrap_err().to_string(),
            "invalid duration for ttl: '-1'"
        );
        assert_eq!(
            millis(1.5).unwrap_err().to_string(),
            "invalid duration for ttl: '1.5'"
        );
        assert_eq!(
            duration("timeout", &Some(Either::B("30s".into()))).unwrap(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(duration("timeout", &None).unwrap(), None);
        assert_eq!(
            positive_duration("pollInterval", &Some(Either::A(0.0)))
                .unwrap_err()
                .to_string(),
            "pollInterval must be greater than zero"
        );
    }
}
