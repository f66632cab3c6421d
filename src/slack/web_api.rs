//! The call the slash command makes to Slack's Web API: `users.info`, for the email of a member's
//! profile. The base address is configurable (`DAPLAYA_SLACK_API_URL`), so tests answer it
//! with a local stand-in that speaks Slack's JSON. HTTPS goes through rustls (ring) trusting the
//! system's certificates, read once, on the first HTTPS call.

use crate::config::slack::DEFAULT_API_URL;
use crate::error::{Error, Result};
use crate::events::http::{connector, Https};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::OnceLock;
use std::time::Duration;

/// A `users.info` answer is a few kilobytes; anything far larger is not one.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Slack answers in well under a second; the slash command must be answered within 3.
const CALL_TIMEOUT: Duration = Duration::from_millis(1_500);

/// What Slack says of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// Its profile's email.
    Email(String),
    /// Known, but the profile shows no email (the token lacks `users:read.email`, or the
    /// member is a bot).
    NoEmail,
    /// Not a member this token can see (another workspace, a deleted account).
    Unknown,
}

/// `users.info` with a bot token, at a base address.
#[derive(Clone)]
pub struct WebApi {
    base: String,
    token: String,
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApi")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl WebApi {
    /// A base address that is not `http(s)://...` is a usage error.
    pub fn new(base: &str, token: &str) -> Result<WebApi> {
        let base = base.trim().trim_end_matches('/');
        if !base.starts_with("https://") && !base.starts_with("http://") {
            return Err(Error::usage(format!(
                "DAPLAYA_SLACK_API_URL '{base}' is not an http(s) URL; leave it unset for {DEFAULT_API_URL}"
            )));
        }
        Ok(WebApi {
            base: base.to_string(),
            token: token.trim().to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// What Slack says of member `user_id`; a failure (unreachable, refused token, missing
    /// scope, rate limit) is an error naming Slack's reason.
    pub async fn member(&self, user_id: &str) -> Result<Member> {
        let failed = |why: String| Error::Store(format!("Slack's users.info failed: {why}"));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("user", user_id)
            .finish();
        let uri: http::Uri = format!("{}/users.info?{query}", self.base)
            .parse()
            .map_err(|error| failed(format!("bad address ({error})")))?;
        let request = http::Request::get(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|error| failed(error.to_string()))?;
        let call = async {
            let response = client()
                .request(request)
                .await
                .map_err(|error| failed(error.to_string()))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| failed(error.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(failed(format!("HTTP {status}")));
            }
            member_of(&body).map_err(failed)
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| failed(format!("no answer within {} s", CALL_TIMEOUT.as_secs_f32())))?
    }
}

/// The member an answer of `users.info` describes, or Slack's reason for refusing.
fn member_of(body: &[u8]) -> std::result::Result<Member, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        ok: bool,
        error: Option<String>,
        user: Option<User>,
    }
    #[derive(serde::Deserialize)]
    struct User {
        #[serde(default)]
        profile: Profile,
    }
    #[derive(serde::Deserialize, Default)]
    struct Profile {
        email: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|error| format!("not an answer of Slack's Web API ({error})"))?;
    match (answer.ok, answer.error.as_deref(), answer.user) {
        (true, _, Some(user)) => Ok(user
            .profile
            .email
            .filter(|email| !email.trim().is_empty())
            .map_or(Member::NoEmail, Member::Email)),
        (false, Some("user_not_found" | "users_not_found" | "user_not_visible"), _) => {
            Ok(Member::Unknown)
        }
        (_, error, _) => Err(error.unwrap_or("no user in the answer").to_string()),
    }
}

/// One client for the process: its connections are reused.
fn client() -> &'static Client<Https, Empty<bytes::Bytes>> {
    static CLIENT: OnceLock<Client<Https, Empty<bytes::Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(connector()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_gives_the_email_or_says_why_not() {
        let member = |json: &str| member_of(json.as_bytes());
        assert_eq!(
            member(r#"{"ok":true,"user":{"id":"U1","profile":{"email":"Alice@Acme.io"}}}"#),
            Ok(Member::Email("Alice@Acme.io".into()))
        );
        assert_eq!(
            member(r#"{"ok":true,"user":{"id":"B1","profile":{}}}"#),
            Ok(Member::NoEmail)
        );
        assert_eq!(
            member(r#"{"ok":false,"error":"user_not_found"}"#),
            Ok(Member::Unknown)
        );
        assert_eq!(
            member(r#"{"ok":false,"error":"invalid_auth"}"#),
            Err("invalid_auth".into())
        );
        assert!(member("<html>").unwrap_err().starts_with("not an answer"));
        assert!(WebApi::new("slack.com/api", "x").is_err());
        assert_eq!(
            WebApi::new("http://127.0.0.1:9/api/", "x").unwrap().base(),
            "http://127.0.0.1:9/api"
        );
        assert!(
            !format!("{:?}", WebApi::new(DEFAULT_API_URL, "xoxb-secret").unwrap())
                .contains("secret")
        );
    }
}
