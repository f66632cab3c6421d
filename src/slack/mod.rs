//! The Slack slash command (`/daplaya lock production hotfix`), independent of any HTTP
//! framework: `handle` takes the signature headers and the raw body and gives a status and a
//! body. `slack serve` (the `server` module) and the JS `handleSlackCommand` both call it.
//!
//! A request is refused, before anything is read from or written to a store, when its body is
//! too large (413), its signature or timestamp does not verify (401), or it comes from another
//! Slack app than `DAPLAYA_SLACK_APP_ID` (403). A verified command's member is told as a user
//! (`people`), then the request is refused, before its command runs, when the store has seen
//! its signature already (409, `replay`). A verified command never waits on a lock, and both
//! steps and its store work are bounded by `Settings::deadline`, so the answer arrives within
//! Slack's 3 s.

pub mod command;
pub mod people;
mod rejection;
pub mod replay;
pub mod reply;
pub mod signature;
pub mod web_api;

use crate::caller::UserSource;
use crate::config::slack::{parse_users, API_URL_VAR, BOT_TOKEN_VAR, USERS_VAR};
use crate::config::StoreOptions;
use crate::error::{Error, Result};
use crate::locks::{Authority, ReleaseRequest, Released};
use crate::model::now_ms;
use crate::ops::open::{ChosenStore, Lifetime};
use crate::ops::{self, Action, Report};
use crate::store::Store;
use command::{Command, SlashRequest};
use people::People;
pub use rejection::Rejection;
use replay::Once;
use reply::Reply;
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub const SIGNING_SECRET_VAR: &str = "DAPLAYA_SLACK_SIGNING_SECRET";
pub const APP_ID_VAR: &str = "DAPLAYA_SLACK_APP_ID";

/// Slack's slash-command bodies are a few hundred bytes; anything much larger is not Slack.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// How long a command's store work may take: Slack gives up after 3 s.
pub const STORE_DEADLINE: Duration = Duration::from_millis(2_500);

/// How to verify requests, and how long store work may take.
#[derive(Clone)]
pub struct Settings {
    signing_secret: String,
    app_id: Option<String>,
    /// Who a Slack member is to daplaya.
    pub people: People,
    pub deadline: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("signing_secret", &"<redacted>")
            .field("app_id", &self.app_id)
            .field("people", &self.people)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Settings {
    /// Refuses to exist without a signing secret: an unverified endpoint would let anyone
    /// take and release locks.
    pub fn new(signing_secret: Option<String>, app_id: Option<String>) -> Result<Settings> {
        let signing_secret = signing_secret
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::usage(format!(
                    "{SIGNING_SECRET_VAR} is not set: the Slack signing secret is needed to verify requests (Slack app > Basic Information > Signing Secret)"
                ))
            })?;
        Ok(Settings {
            signing_secret,
            app_id: app_id
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            people: People::default(),
            deadline: STORE_DEADLINE,
        })
    }

    /// How Slack members become users (see [`people`]).
    pub fn with_people(self, people: People) -> Settings {
        Settings { people, ..self }
    }

    pub fn from_env(env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<Settings> {
        Ok(Settings::new(env(SIGNING_SECRET_VAR), env(APP_ID_VAR))?
            .with_people(People::from_env(env)?))
    }
}

/// What `handle` needs of an HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// `X-Slack-Request-Timestamp`
    pub timestamp: Option<&'a str>,
    /// `X-Slack-Signature`
    pub signature: Option<&'a str>,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl HttpResponse {
    fn reply(reply: &Reply) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: "application/json; charset=utf-8",
            body: reply.to_json(),
        }
    }
}

/// Size, signature, timestamp (`now_secs`: Unix seconds) and app id; pure.
pub fn authenticate(
    settings: &Settings,
    incoming: &Incoming<'_>,
    now_secs: i64,
) -> Result<SlashRequest, Rejection> {
    if incoming.body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge);
    }
    signature::verify(
        settings.signing_secret.as_bytes(),
        incoming.timestamp,
        incoming.signature,
        incoming.body,
        now_secs,
    )
    .map_err(Rejection::Unauthorized)?;
    let request = SlashRequest::from_form(incoming.body);
    if let Some(expected) = &settings.app_id {
        if request.api_app_id.as_deref() != Some(expected.as_str()) {
            return Err(Rejection::WrongApp);
        }
    }
    Ok(request)
}

/// Answers a verified request: the response, and one line for the operator's log.
/// `open_store` is called only for a verified command that needs the store.
pub async fn handle<F, Fut>(
    settings: &Settings,
    incoming: Incoming<'_>,
    now_secs: i64,
    open_store: F,
) -> (HttpResponse, String)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Arc<dyn Store>>>,
{
    let request = match authenticate(settings, &incoming, now_secs) {
        Ok(request) => request,
        Err(rejection) => {
            let log = format!(
                "slack: refused a request ({}): {}",
                rejection.status(),
                rejection.reason()
            );
            return (rejection.response(), log);
        }
    };
    if request.ssl_check {
        let ok = HttpResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
        };
        return (ok, "slack: answered an ssl_check".into());
    }
    let who = request
        .user_name
        .as_deref()
        .or(request.user_id.as_deref())
        .unwrap_or("?");
    let once = Once::of(&incoming, now_secs);
    let reply = match respond(
        &request,
        &settings.people,
        once.as_ref(),
        settings.deadline,
        open_store,
    )
    .await
    {
        Ok(reply) => reply,
        Err(rejection) => {
            let log = format!(
                "slack: refused {who:?} {:?} ({}): {}",
                request.text,
                rejection.status(),
                rejection.reason()
            );
            return (rejection.response(), log);
        }
    };
    let log = format!(
        "slack: {who:?} {:?} -> {}",
        request.text,
        match reply.response_type {
            reply::Visibility::InChannel => "in_channel",
            reply::Visibility::Ephemeral => "ephemeral",
        }
    );
    (HttpResponse::reply(&reply), log)
}

/// Carries out a verified request's command as the user `people` says its member is, once:
/// with `once`, a command that needs the store first records the request there, and a request
/// seen already is refused. Telling who the member is and the store work (opening and recording
/// included) are bounded by `deadline`.
pub async fn respond<F, Fut>(
    request: &SlashRequest,
    people: &People,
    once: Option<&Once>,
    deadline: Duration,
    open_store: F,
) -> std::result::Result<Reply, Rejection>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Arc<dyn Store>>>,
{
    let name = request.command_name();
    let command = match command::parse(&request.text) {
        Ok(Command::Help { unknown }) => return Ok(reply::help(name, unknown.as_deref())),
        Ok(command) => command,
        Err(error) => return Ok(reply::usage_error(name, &error)),
    };
    let started = tokio::time::Instant::now();
    let user = match tokio::time::timeout(deadline, people.identify(request)).await {
        Ok(Ok(user)) => user,
        Ok(Err(error @ Error::Usage { .. })) => return Ok(reply::usage_error(name, &error)),
        Ok(Err(error)) => return Ok(reply::not_identified(&error)),
        Err(_) => return Ok(reply::timed_out(name, None, deadline)),
    };
    let env = match &command {
        Command::Lock { env, .. }
        | Command::Release { env }
        | Command::ForceRelease { env, .. }
        | Command::History { env } => Some(env.clone()),
        Command::Leases { env } => env.clone(),
        Command::Help { .. } => None,
    };
    let work = async {
        let store = open_store().await?;
        if let Some(once) = once {
            if !once.first_sight(store.as_ref()).await? {
                return Ok(Err(Rejection::Replayed));
            }
        }
        Ok::<_, Error>(Ok(execute(command, &user, name, store.as_ref()).await))
    };
    let left = deadline.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => Ok(reply::store_failed(name, env.as_deref(), &error)),
        Err(_) => Ok(reply::timed_out(name, env.as_deref(), deadline)),
    }
}

/// A release from Slack of `env` by `user`: a person acting on their own runs' locks, or
/// breaking anyone's. `uberlock` is what the person asked for, as `--uberlock` on the command
/// line; the rules decide what it allows.
fn releasing(env: &str, user: &str, uberlock: bool, authority: Authority) -> Action {
    Action::Release {
        request: ReleaseRequest {
            envs: vec![env.to_string()],
            user: user.to_string(),
            holder: user.to_string(),
            uberlock,
            authority,
        },
        // Slack names its own user.
        user_source: UserSource::Given,
        listed: false,
    }
}

async fn execute(command: Command, user: &str, name: &str, store: &dyn Store) -> Reply {
    let forced_for = match &command {
        Command::ForceRelease { reason, .. } => reason.clone(),
        _ => String::new(),
    };
    let (action, env) = match command {
        Command::Lock {
            env,
            meta,
            uberlock,
        } => match command::lock_args(&env, user, meta, uberlock).attempt(&command::CALLER) {
            Ok(action) => (action, Some(env)),
            Err(error) => return reply::usage_error(name, &error),
        },
        // People act on the locks of all their runs: the one their pipeline took too.
        // `release` in Slack means "release what I hold on ENV", uberlock included: a person
        // typing it has asked, where `--uberlock` guards scripts (docs/slack.md).
        Command::Release { env } => (releasing(&env, user, true, Authority::User), Some(env)),
        // A forced release ends any hold, uberlock or not, as on the command line.
        Command::ForceRelease { env, reason } => {
            let forced = releasing(&env, user, false, Authority::Force { reason });
            (forced, Some(env))
        }
        Command::Leases { env } => (Action::ListLocks { env: env.clone() }, env),
        Command::History { env } => (
            Action::History {
                env: env.clone(),
                limit: reply::HISTORY_LISTED,
                since: None,
            },
            Some(env),
        ),
        Command::Help { unknown } => return reply::help(name, unknown.as_deref()),
    };
    let env_name = env.as_deref().unwrap_or_default();
    match ops::perform(action, store, None, &mut |_| {}).await {
        // The lease is told from the write, not from whenever the reply is formatted.
        Ok(Report::Locked { locks, .. }) if !locks.is_empty() => {
            let (lock, acquired) = &locks[0];
            reply::locked(name, lock, acquired, lock.updated_at)
        }
        Ok(Report::Busy { holders, waiting }) => reply::busy(env_name, &holders, waiting, now_ms()),
        Ok(Report::Released { released, .. }) if !released.is_empty() => match &released[0] {
            Released::Released(lock) => reply::released(lock, now_ms()),
            Released::Forced(lock) => reply::forced(user, lock, &forced_for, now_ms()),
            Released::Nothing(reason, lock) => {
                reply::not_released(name, env_name, reason, lock.as_ref(), now_ms())
            }
        },
        Ok(Report::Locks { env, locks }) => reply::leases(env.as_deref(), &locks, now_ms()),
        Ok(Report::History { env, holds }) => reply::history(&env, &holds, now_ms()),
        Ok(other) => reply::document(&other),
        Err(Error::Uberlocked(holder)) => reply::uberlocked(&holder, now_ms()),
        Err(error @ Error::Usage { .. }) => reply::usage_error(name, &error),
        Err(error) => reply::store_failed(name, env.as_deref(), &error),
    }
}

/// The JS `handleSlackCommand` request: `{ headers, body }`.
#[derive(Deserialize)]
struct JsRequest {
    #[serde(default)]
    headers: Option<serde_json::Map<String, Value>>,
    /// A request without a body (a probe, a GET) is refused as unsigned, not thrown.
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsOptions {
    signing_secret: Option<String>,
    app_id: Option<String>,
    bot_token: Option<String>,
    api_url: Option<String>,
    users: Option<std::collections::BTreeMap<String, String>>,
    #[serde(flatten)]
    store: StoreOptions,
}

/// A header by name, case-insensitively; a list (Node's repeated headers) gives its first value.
fn header<'a>(headers: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    let value = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)?;
    match value {
        Value::String(text) => Some(text),
        Value::Array(values) => values.first().and_then(Value::as_str),
        _ => None,
    }
}

/// The JS entry point: `{ headers, body }` and options in, `{ status, headers, body }` out.
/// Misconfiguration (no signing secret, a bad store setting) is an error for the caller, not
/// an answer to Slack.
pub async fn handle_js(
    request: Value,
    options: Value,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Value> {
    let request: JsRequest = serde_json::from_value(request)
        .map_err(|e| Error::usage(format!("invalid request: {e}")))?;
    let options: JsOptions = if options.is_null() {
        JsOptions::default()
    } else {
        serde_json::from_value(options)
            .map_err(|e| Error::usage(format!("invalid options: {e}")))?
    };
    let mapping = match options.users {
        Some(users) => users.into_iter().collect(),
        None => parse_users(&env(USERS_VAR).unwrap_or_default())?,
    };
    let people = People::new(
        mapping,
        options.bot_token.or_else(|| env(BOT_TOKEN_VAR)),
        options.api_url.or_else(|| env(API_URL_VAR)),
    )?;
    let settings = Settings::new(
        options.signing_secret.or_else(|| env(SIGNING_SECRET_VAR)),
        options.app_id.or_else(|| env(APP_ID_VAR)),
    )?
    .with_people(people);
    let chosen = ChosenStore::choose(&options.store, env)?;
    let headers = request.headers.unwrap_or_default();
    let body = request.body.unwrap_or_default();
    let incoming = Incoming {
        timestamp: header(&headers, "x-slack-request-timestamp"),
        signature: header(&headers, "x-slack-signature"),
        body: body.as_bytes(),
    };
    // A warm serverless instance reuses its DynamoDB client across requests.
    let (response, _log) = handle(&settings, incoming, now_ms() / 1000, || async move {
        chosen.open(Lifetime::Shared).await
    })
    .await;
    Ok(json!({
        "status": response.status,
        "headers": { "content-type": response.content_type },
        "body": response.body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks;
    use crate::model::Hold;
    use crate::model::Job;
    use crate::model::Lock;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Expect, JobEnd, LockWrite, Swap, TableStatus};
    use reply::Visibility;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const NOW: i64 = 1_700_000_000;

    fn settings(app_id: Option<&str>) -> Settings {
        Settings::new(Some(SECRET.into()), app_id.map(String::from)).unwrap()
    }

    fn form(user: &str, text: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("team_id", "T1")
            .append_pair("user_id", &format!("U-{user}"))
            .append_pair("user_name", user)
            .append_pair("command", "/daplaya")
            .append_pair("text", text)
            .append_pair("api_app_id", "A1")
            .finish()
    }

    struct Signed {
        timestamp: String,
        signature: String,
        body: String,
    }

    impl Signed {
        fn new(body: String) -> Signed {
            Signed::at(NOW, body)
        }

        fn at(now: i64, body: String) -> Signed {
            let timestamp = now.to_string();
            let signature = signature::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
            Signed {
                timestamp,
                signature,
                body,
            }
        }

        fn incoming(&self) -> Incoming<'_> {
            Incoming {
                timestamp: Some(&self.timestamp),
                signature: Some(&self.signature),
                body: self.body.as_bytes(),
            }
        }
    }

    #[test]
    fn the_secret_is_required_and_never_printed() {
        for missing in [None, Some(String::new()), Some("  ".into())] {
            let error = Settings::new(missing, None).unwrap_err();
            assert_eq!(error.exit_code(), crate::error::exit::USAGE);
            assert!(error
                .to_string()
                .starts_with("DAPLAYA_SLACK_SIGNING_SECRET is not set"));
        }
        assert!(!format!("{:?}", settings(None)).contains(SECRET));
    }

    #[test]
    fn authenticate_checks_size_then_signature_then_app() {
        let signed = Signed::new(form("bob", "lock prod"));
        assert!(authenticate(&settings(None), &signed.incoming(), NOW).is_ok());
        assert!(authenticate(&settings(Some("A1")), &signed.incoming(), NOW).is_ok());
        assert_eq!(
            authenticate(&settings(Some("A2")), &signed.incoming(), NOW),
            Err(Rejection::WrongApp)
        );
        assert_eq!(
            authenticate(&settings(None), &signed.incoming(), NOW + 301),
            Err(Rejection::Unauthorized(signature::Invalid::Stale))
        );
        let forged = Incoming {
            body: b"user_name=mallory&text=release+prod",
            ..signed.incoming()
        };
        assert_eq!(
            authenticate(&settings(None), &forged, NOW),
            Err(Rejection::Unauthorized(signature::Invalid::Mismatch))
        );
        // Too large is refused even when signed, and before the signature is computed.
        let big = Signed::new(format!(
            "{}&pad={}",
            form("bob", "x"),
            "a".repeat(MAX_BODY_BYTES)
        ));
        assert_eq!(
            authenticate(&settings(None), &big.incoming(), NOW),
            Err(Rejection::TooLarge)
        );
        let no_app = Signed::new("user_name=bob&text=lock+prod".into());
        assert_eq!(
            authenticate(&settings(Some("A1")), &no_app.incoming(), NOW),
            Err(Rejection::WrongApp)
        );
        for rejection in [
            Rejection::TooLarge,
            Rejection::WrongApp,
            Rejection::Unauthorized(signature::Invalid::Stale),
        ] {
            let response = rejection.response();
            assert_eq!(response.status, rejection.status());
            assert!(!response.body.contains("stale") && !response.body.contains("app"));
        }
    }

    async fn no_store() -> Result<Arc<dyn Store>> {
        panic!("this request must not open the store")
    }

    async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("locks.db"))
            .await
            .unwrap();
        (dir, Arc::new(store))
    }

    /// `user`'s command, as the operator's mapping of their member id to `user` has it.
    async fn say(store: &Arc<dyn Store>, user: &str, text: &str) -> Reply {
        let request = SlashRequest::from_form(form(user, text).as_bytes());
        let people = People::new([(format!("U-{user}"), user.into())], None, None).unwrap();
        let store = Arc::clone(store);
        respond(&request, &people, None, STORE_DEADLINE, || async move {
            Ok(store)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn lock_busy_release_and_leases_on_a_real_store() {
        let (_dir, store) = sqlite().await;
        let locked = say(&store, "Alice", "lock Prod deploy 42").await;
        assert_eq!(
            locked.response_type,
            Visibility::InChannel,
            "{}",
            locked.text
        );
        assert!(
            locked
                .text
                .contains("*alice* locked *prod* (meta: deploy 42)"),
            "{}",
            locked.text
        );
        let held = store.load_lock("prod").await.unwrap().unwrap();
        assert_eq!(
            (held.user.as_str(), held.meta.as_str()),
            ("alice", "deploy 42")
        );

        let busy = say(&store, "bob", "lock prod").await;
        assert_eq!(busy.response_type, Visibility::Ephemeral);
        assert!(
            busy.text.contains("*prod* is locked by *alice* since"),
            "{}",
            busy.text
        );
        assert!(busy.text.contains("(meta: deploy 42)"), "{}", busy.text);
        assert_eq!(store.load_lock("prod").await.unwrap().unwrap(), held);

        let leases = say(&store, "bob", "leases").await;
        assert_eq!(leases.response_type, Visibility::Ephemeral);
        assert!(
            leases.text.contains("• *prod*: locked by *alice*"),
            "{}",
            leases.text
        );

        let not_yours = say(&store, "bob", "release prod").await;
        assert_eq!(not_yours.response_type, Visibility::Ephemeral);
        assert!(not_yours
            .text
            .starts_with("Nothing released: *prod* is held by *alice*"));

        let released = say(&store, "alice", "release prod").await;
        assert_eq!(released.response_type, Visibility::InChannel);
        assert!(
            released.text.contains("*alice* released *prod*"),
            "{}",
            released.text
        );
        assert!(locks::list(store.as_ref(), None).await.unwrap().is_empty());
        let defaulted = say(&store, "bob", "lock prod").await;
        assert_eq!(defaulted.response_type, Visibility::InChannel);
        assert_eq!(
            store.load_lock("prod").await.unwrap().unwrap().meta,
            "Slack"
        );
    }

    #[tokio::test]
    async fn uberlock_rules_from_slack() {
        let (_dir, store) = sqlite().await;
        say(&store, "alice", "lock prod").await;
        let uber = say(&store, "bob", "uberlock prod incident 7").await;
        assert_eq!(uber.response_type, Visibility::InChannel);
        assert!(uber.text.contains("preempting *alice*"), "{}", uber.text);
        let refused = say(&store, "carol", "lock prod").await;
        assert_eq!(refused.response_type, Visibility::Ephemeral);
        assert!(
            refused
                .text
                .contains("prod is uberlocked (ノ≥∇≤)ノ by bob since")
                && refused.text.contains("(meta: incident 7)"),
            "{}",
            refused.text
        );
        let also = say(&store, "carol", "uberlock prod").await;
        assert_eq!(also.response_type, Visibility::Ephemeral);
        let lock = store.load_lock("prod").await.unwrap().unwrap();
        assert!(lock.uberlock && lock.user == "bob");
        let released = say(&store, "bob", "release prod").await;
        assert_eq!(
            released.response_type,
            Visibility::InChannel,
            "{}",
            released.text
        );
        assert!(released.text.contains("released the uberlock on *prod*"));
    }

    #[tokio::test]
    async fn help_and_bad_input_are_ephemeral_and_touch_no_store() {
        for text in ["", "help", "frobnicate prod", "lock", "release a b"] {
            let request = SlashRequest::from_form(form("bob", text).as_bytes());
            let reply = respond(&request, &People::default(), None, STORE_DEADLINE, no_store)
                .await
                .unwrap();
            assert_eq!(reply.response_type, Visibility::Ephemeral, "{text:?}");
        }
        let request = SlashRequest::from_form(b"text=lock+prod");
        let reply = respond(&request, &People::default(), None, STORE_DEADLINE, no_store)
            .await
            .unwrap();
        assert!(
            reply.text.contains("user must not be empty"),
            "{}",
            reply.text
        );
    }

    /// A store that never answers in time.
    struct Slow;

    #[async_trait::async_trait]
    impl crate::store::SeenRequests for Slow {
        async fn first_sight(&self, _key: &str, _forget_at: i64) -> Result<bool> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(true)
        }
    }

    #[async_trait::async_trait]
    impl Store for Slow {
        fn describe(&self) -> String {
            "slow".into()
        }
        fn now(&self) -> crate::store::StoreTime {
            crate::store::StoreTime::exact(now_ms())
        }
        async fn init(&self) -> Result<Vec<TableStatus>> {
            Ok(vec![])
        }
        async fn load_lock(&self, _env: &str) -> Result<Option<Lock>> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(None)
        }
        async fn swap_lock(&self, _expected: Expect, _write: &LockWrite) -> Result<Swap> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(Swap::Done)
        }
        async fn load_locks(&self, envs: &[String]) -> Result<Vec<Option<Lock>>> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(vec![None; envs.len()])
        }
        async fn swap_locks(
            &self,
            _writes: &[(Expect, LockWrite)],
        ) -> Result<crate::store::SwapAll> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(crate::store::SwapAll::Done)
        }
        async fn touch_waiter(&self, _envs: &[String], _waiter: &str, _at: i64) -> Result<bool> {
            Ok(true)
        }
        async fn holds(&self, _env: &str, _since: Option<i64>, _limit: usize) -> Result<Vec<Hold>> {
            Ok(vec![])
        }
        async fn active_locks(&self) -> Result<Vec<Lock>> {
            Ok(vec![])
        }
        async fn waited_locks(&self) -> Result<Vec<Lock>> {
            Ok(vec![])
        }
        async fn released_locks(&self, _since: i64) -> Result<Vec<Lock>> {
            Ok(vec![])
        }
        async fn insert_job(&self, _job: &Job) -> Result<()> {
            Ok(())
        }
        async fn jobs_for_version(&self, _version: &str) -> Result<Vec<Job>> {
            Ok(vec![])
        }
        async fn end_job(&self, _job: &Job, _ended: i64, _skipped: bool) -> Result<JobEnd> {
            Ok(JobEnd::Done)
        }
        async fn recent_jobs(&self, _jobname: &str, _since: i64) -> Result<Vec<Job>> {
            Ok(vec![])
        }
    }

    #[tokio::test]
    async fn a_slow_store_gets_a_clear_answer_in_time() {
        let request = SlashRequest::from_form(form("bob", "lock prod").as_bytes());
        let started = std::time::Instant::now();
        let reply = respond(
            &request,
            &People::default(),
            None,
            Duration::from_millis(100),
            || async { Ok(Arc::new(Slow) as Arc<dyn Store>) },
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(reply.response_type, Visibility::Ephemeral);
        assert!(
            reply.text.contains("did not answer within 0.1 s"),
            "{}",
            reply.text
        );
        assert!(
            reply.text.contains("`/daplaya leases prod`"),
            "{}",
            reply.text
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_open_is_an_ephemeral_error() {
        let request = SlashRequest::from_form(form("bob", "leases").as_bytes());
        let reply = respond(
            &request,
            &People::default(),
            None,
            STORE_DEADLINE,
            || async { Err(Error::Store("connection refused".into())) },
        )
        .await
        .unwrap();
        assert_eq!(reply.response_type, Visibility::Ephemeral);
        assert!(reply
            .text
            .contains("The lock store failed: connection refused"));
    }

    #[tokio::test]
    async fn handle_refuses_before_the_store_and_answers_json() {
        let signed = Signed::new(form("bob", "help"));
        let (response, log) = handle(&settings(None), signed.incoming(), NOW, no_store).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, "application/json; charset=utf-8");
        let json: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(json["response_type"], "ephemeral");
        assert!(log.contains("\"bob\""));

        let (response, log) =
            handle(&settings(None), signed.incoming(), NOW - 3600, no_store).await;
        assert_eq!(
            (response.status, response.body.as_str()),
            (401, "unauthorized")
        );
        assert!(log.contains("5 minutes"));

        let check = Signed::new("ssl_check=1&token=x".into());
        let (response, _) = handle(&settings(None), check.incoming(), NOW, no_store).await;
        assert_eq!((response.status, response.body.as_str()), (200, ""));
    }

    #[tokio::test]
    async fn handle_js_reads_headers_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("locks.db").display());
        let body = form("bob", "lock prod");
        let timestamp = (now_ms() / 1000).to_string();
        let signature = signature::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
        let env = |_: &str| None;
        let request = json!({
            "headers": { "X-Slack-Request-Timestamp": [timestamp], "x-SLACK-signature": signature },
            "body": body,
        });
        let options = json!({ "signingSecret": SECRET, "store": store });
        let response = handle_js(request.clone(), options.clone(), &env)
            .await
            .unwrap();
        assert_eq!(response["status"], 200, "{response}");
        let reply: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(reply["response_type"], "in_channel");

        let error = handle_js(request.clone(), json!({ "store": store }), &env)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_ARGUMENT");
        let env_secret = |name: &str| (name == SIGNING_SECRET_VAR).then(|| SECRET.to_string());
        // Another request: this one was acted on (a copy is refused, see below).
        let body = form("bob", "leases");
        let signature = signature::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
        let fresh = json!({
            "headers": { "x-slack-request-timestamp": timestamp, "x-slack-signature": signature },
            "body": body,
        });
        let response = handle_js(fresh, json!({ "store": store }), &env_secret)
            .await
            .unwrap();
        assert_eq!(response["status"], 200);
        let unsigned = handle_js(json!({ "headers": {} }), options.clone(), &env)
            .await
            .unwrap();
        assert_eq!(unsigned["status"], 401);
        let error = handle_js(json!({ "body": { "text": "lock" } }), options, &env)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid request: invalid type: map"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_copy_of_a_request_is_refused_and_changes_nothing() {
        let (_dir, store) = sqlite().await;
        // The store forgets requests on its own clock: these are sent now.
        let now = now_ms() / 1000;
        async fn send_to(store: &Arc<dyn Store>, signed: &Signed) -> (HttpResponse, String) {
            let store = Arc::clone(store);
            let now = signed.timestamp.parse().unwrap();
            handle(&settings(None), signed.incoming(), now, || async move {
                Ok(store)
            })
            .await
        }
        let send = |signed| send_to(&store, signed);
        let lock = Signed::at(now, form("alice", "lock prod"));
        let (first, _) = send(&lock).await;
        assert_eq!(first.status, 200, "{}", first.body);
        let held = store.load_lock("prod").await.unwrap().unwrap();
        let release = Signed::at(now, form("alice", "release prod"));
        assert_eq!(send(&release).await.0.status, 200);
        let relock = Signed::at(now, form("alice", "lock prod again"));
        assert_eq!(send(&relock).await.0.status, 200);
        let newer = store.load_lock("prod").await.unwrap().unwrap();
        assert_ne!(newer.id, held.id);

        for copy in [&release, &lock, &relock] {
            let (response, log) = send(copy).await;
            assert_eq!(
                (response.status, response.body.as_str()),
                (409, "already handled")
            );
            assert!(log.contains("acted on already"), "{log}");
            assert_eq!(store.load_lock("prod").await.unwrap().unwrap(), newer);
        }
        // The hex of the signature recased is the same request.
        let recased = Signed {
            signature: release.signature.to_uppercase().replace("V0=", "v0="),
            ..Signed::at(now, release.body.clone())
        };
        assert_eq!(send(&recased).await.0.status, 409);
        assert_eq!(store.load_lock("prod").await.unwrap().unwrap(), newer);
        // Help needs no store, and so no record: asking twice is harmless.
        let help = Signed::at(now, form("alice", "help"));
        assert_eq!(send(&help).await.0.status, 200);
        assert_eq!(send(&help).await.0.status, 200);
    }
}
