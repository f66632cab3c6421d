//! Where events go, from the environment: webhooks, a Slack channel (incoming webhook, or the
//! bot token and a channel per env), and Slack DMs for a waiter's turn. Read once per process;
//! a setting that cannot work is a usage error before any lock is touched ([`check`]).

use crate::config::process_env;
use crate::config::slack::{parse_users, API_URL_VAR, BOT_TOKEN_VAR, DEFAULT_API_URL, USERS_VAR};
use crate::error::{Error, Result};
use std::sync::OnceLock;

pub const WEBHOOK_URL_VAR: &str = "DAPLAYA_WEBHOOK_URL";
pub const WEBHOOK_SECRET_VAR: &str = "DAPLAYA_WEBHOOK_SECRET";
pub const SLACK_WEBHOOK_URL_VAR: &str = "DAPLAYA_SLACK_WEBHOOK_URL";
pub const SLACK_CHANNEL_VAR: &str = "DAPLAYA_SLACK_CHANNEL";

/// Every place this process sends its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub webhooks: Vec<String>,
    pub secret: String,
    /// A Slack incoming webhook: every event, as a message in its channel.
    pub slack_webhook: Option<String>,
    /// The bot token's calls: channel messages and DMs.
    pub slack_bot: Option<SlackBot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackBot {
    pub api_url: String,
    pub token: String,
    /// `(env, channel)`; an env of `None` is every env without a channel of its own.
    pub channels: Vec<(Option<String>, String)>,
    /// `DAPLAYA_SLACK_USERS`, read the other way: a user's Slack member id, for its DM.
    pub members: Vec<(String, String)>,
}

impl SlackBot {
    /// The channel `env`'s events go to, if any.
    pub fn channel_for(&self, env: &str) -> Option<&str> {
        let own = self
            .channels
            .iter()
            .find(|(e, _)| e.as_deref() == Some(env));
        let every = self.channels.iter().find(|(e, _)| e.is_none());
        own.or(every).map(|(_, channel)| channel.as_str())
    }

    /// The member id `DAPLAYA_SLACK_USERS` maps to `user`.
    pub fn member_of(&self, user: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, mapped)| mapped == user)
            .map(|(member, _)| member.as_str())
    }
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
}

fn http_url(var: &str, url: &str) -> Result<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_string())
    } else {
        Err(Error::usage(format!(
            "{var}: '{url}' is not an http(s) URL"
        )))
    }
}

impl Targets {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Targets> {
        let set = |var: &str| env(var).filter(|value| !value.trim().is_empty());
        let webhooks = set(WEBHOOK_URL_VAR)
            .map(|urls| {
                list(&urls)
                    .map(|url| http_url(WEBHOOK_URL_VAR, url))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let secret = set(WEBHOOK_SECRET_VAR).unwrap_or_default();
        if !webhooks.is_empty() && secret.is_empty() {
            return Err(Error::usage_with_hint(
                format!("{WEBHOOK_URL_VAR} is set but {WEBHOOK_SECRET_VAR} is not: webhooks are always signed"),
                format!("{WEBHOOK_SECRET_VAR}=<a secret shared with the receiver>"),
            ));
        }
        let slack_webhook = set(SLACK_WEBHOOK_URL_VAR)
            .map(|url| http_url(SLACK_WEBHOOK_URL_VAR, url.trim()))
            .transpose()?;
        let channels = set(SLACK_CHANNEL_VAR)
            .map(|text| {
                list(&text)
                    .map(|entry| match entry.split_once('=') {
                        Some((env, channel)) if !env.is_empty() && !channel.is_empty() => {
                            Ok((Some(env.to_string()), channel.to_string()))
                        }
                        Some(_) => Err(Error::usage(format!(
                            "{SLACK_CHANNEL_VAR}: '{entry}' is not CHANNEL or ENV=CHANNEL"
                        ))),
                        None => Ok((None, entry.to_string())),
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let slack_bot = match set(BOT_TOKEN_VAR) {
            Some(token) => {
                let api_url = set(API_URL_VAR).unwrap_or_else(|| DEFAULT_API_URL.to_string());
                let api_url = http_url(API_URL_VAR, api_url.trim().trim_end_matches('/'))?;
                let members = match set(USERS_VAR) {
                    Some(text) => parse_users(&text)?,
                    None => Vec::new(),
                };
                Some(SlackBot {
                    api_url,
                    token: token.trim().to_string(),
                    channels,
                    members,
                })
            }
            None if !channels.is_empty() => {
                return Err(Error::usage(format!(
                    "{SLACK_CHANNEL_VAR} is set but {BOT_TOKEN_VAR} is not: posting to a channel needs the bot token"
                )))
            }
            None => None,
        };
        Ok(Targets {
            webhooks,
            secret,
            slack_webhook,
            slack_bot,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.slack_webhook.is_none() && self.slack_bot.is_none()
    }
}

/// This process's targets, read from its environment once (a setting refused: its error's
/// line, told again by [`check`] each time a lock would be touched).
pub(super) fn loaded() -> &'static std::result::Result<Targets, String> {
    static TARGETS: OnceLock<std::result::Result<Targets, String>> = OnceLock::new();
    TARGETS.get_or_init(|| Targets::from_env(&process_env).map_err(|error| error.to_string()))
}

/// A usage error when the environment's event settings cannot work: checked before a lock is
/// touched, so a change is never made that cannot be told.
pub fn check() -> Result<()> {
    match loaded() {
        Ok(_) => Ok(()),
        Err(error) => Err(Error::usage(error.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Targets> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Targets::from_env(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn nothing_set_sends_nothing() {
        assert!(from(&[]).unwrap().is_empty());
    }

    #[test]
    fn several_webhooks_are_signed_with_one_secret() {
        let targets = from(&[
            (WEBHOOK_URL_VAR, "http://a.test/hook, https://b.test/hook"),
            (WEBHOOK_SECRET_VAR, "s3cret"),
        ])
        .unwrap();
        assert_eq!(
            targets.webhooks,
            ["http://a.test/hook", "https://b.test/hook"]
        );
        let unsigned = from(&[(WEBHOOK_URL_VAR, "http://a.test/hook")]).unwrap_err();
        assert!(unsigned.to_string().contains(WEBHOOK_SECRET_VAR));
        let bad = from(&[(WEBHOOK_URL_VAR, "a.test"), (WEBHOOK_SECRET_VAR, "s")]).unwrap_err();
        assert!(bad.to_string().contains("'a.test' is not an http(s) URL"));
    }

    #[test]
    fn a_channel_per_env_or_for_all_and_dms_through_the_users_mapping() {
        let targets = from(&[
            (BOT_TOKEN_VAR, "xoxb-1"),
            (SLACK_CHANNEL_VAR, "#deploys production=#prod"),
            (USERS_VAR, "U1=alice,U2=bob@acme.io"),
        ])
        .unwrap();
        let bot = targets.slack_bot.unwrap();
        assert_eq!(bot.api_url, DEFAULT_API_URL);
        assert_eq!(bot.channel_for("production"), Some("#prod"));
        assert_eq!(bot.channel_for("staging"), Some("#deploys"));
        assert_eq!(bot.member_of("bob@acme.io"), Some("U2"));
        assert_eq!(bot.member_of("carol"), None);
        let tokenless = from(&[(SLACK_CHANNEL_VAR, "#deploys")]).unwrap_err();
        assert!(tokenless.to_string().contains(BOT_TOKEN_VAR));
        assert!(from(&[(BOT_TOKEN_VAR, "x"), (SLACK_CHANNEL_VAR, "=#a")]).is_err());
    }
}
