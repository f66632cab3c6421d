//! Who a Slack member is to daplaya: the same user as everywhere else. In order:
//!
//! 1. the operator's mapping of member ids to users (`DAPLAYA_SLACK_USERS`:
//!    `U0123ABC=alice@acme.io,U0456DEF=bob@acme.io`);
//! 2. the email of the member's Slack profile (`users.info` with a bot token,
//!    `DAPLAYA_SLACK_BOT_TOKEN`; scopes `users:read` and `users:read.email`), remembered for
//!    [`REMEMBERED`];
//! 3. otherwise the handle qualified by workspace and member id, `alice (slack t0123/u0456)`:
//!    never a bare handle, which would be any CLI user of that name, nor one another workspace
//!    could send.
//!
//! A member Slack does not know (`user_not_found`: another workspace) is unmapped; a lookup that
//! fails (Slack unreachable, a refused token) is an error: nobody acts under a name they may
//! not have.

use super::command::SlashRequest;
use super::web_api::{Member, WebApi};
use crate::config::slack::{parse_users, API_URL_VAR, BOT_TOKEN_VAR, DEFAULT_API_URL, USERS_VAR};
use crate::error::{Error, Result};
use crate::model;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer of Slack's about a member is used before asking again.
pub const REMEMBERED: Duration = Duration::from_secs(10 * 60);
/// The most members remembered at once.
const MAX_REMEMBERED: usize = 4_096;

/// How Slack members become users.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Member id -> user, checked as users are.
    mapping: HashMap<String, String>,
    web_api: Option<WebApi>,
}

impl People {
    /// From the operator's settings: a member mapping (`U1=alice@acme.io` entries, separated
    /// by commas or white space), a bot token and the Web API's address. A malformed entry is
    /// a usage error.
    pub fn new(
        mapping: impl IntoIterator<Item = (String, String)>,
        bot_token: Option<String>,
        api_url: Option<String>,
    ) -> Result<People> {
        let mapping = mapping
            .into_iter()
            .map(|(member, user)| {
                let user = model::user_name(&user)
                    .map_err(|error| Error::usage(format!("{USERS_VAR}: {member}: {error}")))?;
                Ok((member.trim().to_string(), user))
            })
            .collect::<Result<_>>()?;
        let web_api = bot_token
            .filter(|token| !token.trim().is_empty())
            .map(|token| WebApi::new(api_url.as_deref().unwrap_or(DEFAULT_API_URL), &token))
            .transpose()?;
        Ok(People { mapping, web_api })
    }

    pub fn from_env(env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<People> {
        let mapping = match env(USERS_VAR) {
            Some(text) => parse_users(&text)?,
            None => Vec::new(),
        };
        People::new(mapping, env(BOT_TOKEN_VAR), env(API_URL_VAR))
    }

    /// The user the member who sent `request` acts as.
    pub async fn identify(&self, request: &SlashRequest) -> Result<String> {
        let Some(member) = request.user_id.as_deref() else {
            // Slack always names the member; without one there is nobody to act as.
            return model::user_name(request.user_name.as_deref().unwrap_or_default())
                .and_then(|_| Err(Error::usage("the request names no Slack member (user_id)")));
        };
        if let Some(user) = self.mapping.get(member) {
            return Ok(user.clone());
        }
        if let Some(web_api) = &self.web_api {
            if let Member::Email(email) = remembered(web_api, member).await? {
                return model::user_name(&email);
            }
        }
        unmapped(request, member)
    }
}

/// The handle qualified by the workspace and the member id, lowercased as users are.
fn unmapped(request: &SlashRequest, member: &str) -> Result<String> {
    let handle = request.user_name.as_deref().unwrap_or(member);
    let team = request.team_id.as_deref().unwrap_or("no-team");
    model::user_name(&format!("{handle} (slack {team}/{member})"))
}

type Remembered = HashMap<(String, String), (Member, Instant)>;

static ANSWERS: Mutex<Option<Remembered>> = Mutex::new(None);

/// What Slack said of `member`, asked at most once per [`REMEMBERED`] (failures are not
/// remembered).
async fn remembered(web_api: &WebApi, member: &str) -> Result<Member> {
    let key = (web_api.base().to_string(), member.to_string());
    let now = Instant::now();
    {
        let answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((answer, at)) = answers.as_ref().and_then(|answers| answers.get(&key)) {
            if now.duration_since(*at) < REMEMBERED {
                return Ok(answer.clone());
            }
        }
    }
    let answer = web_api.member(member).await?;
    let mut answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    let answers = answers.get_or_insert_with(HashMap::new);
    if answers.len() >= MAX_REMEMBERED {
        answers.retain(|_, (_, at)| now.duration_since(*at) < REMEMBERED);
        if answers.len() >= MAX_REMEMBERED {
            answers.clear();
        }
    }
    answers.insert(key, (answer.clone(), now));
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(team: &str, member: &str, handle: &str) -> SlashRequest {
        SlashRequest {
            team_id: Some(team.into()),
            user_id: Some(member.into()),
            user_name: Some(handle.into()),
            ..SlashRequest::default()
        }
    }

    #[tokio::test]
    async fn mapped_members_act_as_their_user_and_others_are_qualified_by_workspace() {
        let mapping = parse_users("U1=Alice@Acme.io,\n U2=bob@acme.io").unwrap();
        let people = People::new(mapping, None, None).unwrap();
        assert_eq!(
            people
                .identify(&request("T1", "U1", "alice"))
                .await
                .unwrap(),
            "alice@acme.io"
        );
        assert_eq!(
            people
                .identify(&request("T2", "U9", "Alice"))
                .await
                .unwrap(),
            "alice (slack t2/u9)"
        );
        let nobody = SlashRequest::default();
        assert_eq!(
            people.identify(&nobody).await.unwrap_err().to_string(),
            "user must not be empty"
        );
    }

    #[test]
    fn a_mapped_user_is_checked_and_the_api_address_must_be_http() {
        let control = People::new([("U1".into(), "a\u{7}b".into())], None, None).unwrap_err();
        assert!(control.to_string().contains("U1"), "{control}");
        assert!(People::new([], Some("xoxb-1".into()), Some("ftp://x".into())).is_err());
    }
}
