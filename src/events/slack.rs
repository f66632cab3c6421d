//! Events told in Slack: a message in the env's channel (an incoming webhook, or the bot token
//! and `DAPLAYA_SLACK_CHANNEL`), and a direct message to the waiter whose turn it is. The
//! waiter's member id is the one `DAPLAYA_SLACK_USERS` maps to its user, or, for a user that
//! is an email (as Slack users map to by default), the member with that email.

use super::deliver::{with_retries, ATTEMPT_TIMEOUT};
use super::http::{call, Failed};
use super::targets::{SlackBot, Targets};
use super::{Event, Kind};
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{json, Value};

/// Tells `event` in Slack, wherever configured.
pub(super) async fn tell(targets: &Targets, event: &Event) {
    let text = event.summary();
    let webhook = async {
        if let Some(url) = &targets.slack_webhook {
            let body = json!({ "text": text });
            let _ = with_retries(|| post_json(url, None, &body)).await;
        }
    };
    let bot = async {
        let Some(bot) = &targets.slack_bot else {
            return;
        };
        let channel = async {
            if let Some(channel) = bot.channel_for(&event.env) {
                let _ = bot.post_message(channel, &text).await;
            }
        };
        let direct = async {
            if event.kind == Kind::Turn {
                let _ = direct_message(bot, event).await;
            }
        };
        tokio::join!(channel, direct);
    };
    tokio::join!(webhook, bot);
}

/// "Your turn on production: alice released it", to the waiter.
async fn direct_message(bot: &SlackBot, event: &Event) -> Result<(), Failed> {
    let member = match bot.member_of(&event.user) {
        Some(member) => member.to_string(),
        None if event.user.contains('@') => bot.member_by_email(&event.user).await?,
        None => return Ok(()),
    };
    let opened = bot
        .web_api("conversations.open", &json!({ "users": member }))
        .await?;
    let Some(channel) = opened["channel"]["id"].as_str() else {
        return Err(refused("conversations.open gave no channel"));
    };
    let by = event.by.as_deref().unwrap_or("someone");
    let text = format!("Your turn on {}: {by} released it", event.env);
    bot.post_message(channel, &text).await.map(|_| ())
}

fn refused(why: &str) -> Failed {
    Failed {
        why: why.to_string(),
        retry: false,
    }
}

impl SlackBot {
    async fn post_message(&self, channel: &str, text: &str) -> Result<Value, Failed> {
        self.web_api(
            "chat.postMessage",
            &json!({ "channel": channel, "text": text }),
        )
        .await
    }

    async fn member_by_email(&self, email: &str) -> Result<String, Failed> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .finish();
        let url = format!("{}/users.lookupByEmail?{query}", self.api_url);
        let lookup = || async {
            let request = http::Request::get(&url)
                .header("authorization", format!("Bearer {}", self.token))
                .body(Full::new(Bytes::new()))
                .map_err(|error| refused(&error.to_string()))?;
            call(request, ATTEMPT_TIMEOUT).await
        };
        let answer = with_retries(lookup).await?;
        let answer = ok_answer(&answer)?;
        answer["user"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| refused("users.lookupByEmail gave no user"))
    }

    /// A Web API method called with a JSON body; Slack's `ok: false` is a refusal.
    async fn web_api(&self, method: &str, body: &Value) -> Result<Value, Failed> {
        let url = format!("{}/{method}", self.api_url);
        let answer = with_retries(|| post_json(&url, Some(&self.token), body)).await?;
        ok_answer(&answer)
    }
}

fn ok_answer(answer: &[u8]) -> Result<Value, Failed> {
    let answer: Value =
        serde_json::from_slice(answer).map_err(|_| refused("not an answer of Slack's Web API"))?;
    if answer["ok"].as_bool() == Some(true) {
        Ok(answer)
    } else {
        Err(refused(answer["error"].as_str().unwrap_or("refused")))
    }
}

async fn post_json(url: &str, token: Option<&str>, body: &Value) -> Result<Bytes, Failed> {
    let mut request =
        http::Request::post(url).header("content-type", "application/json; charset=utf-8");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|error| refused(&error.to_string()))?;
    call(request, ATTEMPT_TIMEOUT).await
}
