//! What a slash command asks for: the form Slack posts, and the words in its `text`. Pure and
//! validated with the same rules as the CLI (`model::env_name`, `model::meta`, ...).

use crate::caller::{Caller, ThisMachine};
use crate::error::{Error, Result};
use crate::locks::Wait;
use crate::model;
use crate::ops::input::LockArgs;

/// What a lock taken from Slack is for, unless the command says more.
pub const DEFAULT_META: &str = "Slack";

/// Slack's caller: a member always names themselves, and the server's own environment (its CI
/// variables, say) is no part of what they asked for.
pub const CALLER: Caller<'static> = Caller {
    env: &no_variables,
    machine: &ThisMachine,
    door_meta: DEFAULT_META,
};

fn no_variables(_: &str) -> Option<String> {
    None
}

/// `lock <env>` of `user` as the lock request every door fills, checked by `ops::input` as the
/// others are: one attempt with the default lease.
pub fn lock_args(env: &str, user: &str, meta: Option<String>, uberlock: bool) -> LockArgs {
    LockArgs {
        env: env.to_string().into(),
        user: Some(user.to_string()),
        // A person in Slack is their own run, as at a terminal: locking again renews.
        holder: Some(user.to_string()),
        meta,
        uberlock,
        wait: Wait::No,
        ..LockArgs::default()
    }
}

/// The fields of Slack's slash-command POST that daplaya reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlashRequest {
    pub command: Option<String>,
    pub text: String,
    /// The workspace the member is in.
    pub team_id: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub api_app_id: Option<String>,
    /// Slack's periodic certificate check: answered with an empty 200.
    pub ssl_check: bool,
}

impl SlashRequest {
    /// Reads an `application/x-www-form-urlencoded` body; the last of repeated fields wins.
    pub fn from_form(body: &[u8]) -> SlashRequest {
        let mut request = SlashRequest::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            let present = (!value.trim().is_empty()).then(|| value.clone());
            match key.as_ref() {
                "command" => request.command = present,
                "text" => request.text = value,
                "team_id" => request.team_id = present,
                "user_id" => request.user_id = present,
                "user_name" => request.user_name = present,
                "api_app_id" => request.api_app_id = present,
                "ssl_check" => request.ssl_check = value == "1",
                _ => {}
            }
        }
        request
    }

    /// The slash command as the workspace named it, for help texts (`/daplaya` by default).
    pub fn command_name(&self) -> &str {
        self.command
            .as_deref()
            .filter(|c| c.starts_with('/'))
            .unwrap_or("/daplaya")
    }
}

/// A parsed, validated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Lock {
        env: String,
        /// `None`: none typed; a fresh lock gets [`DEFAULT_META`], a renewal keeps its own.
        meta: Option<String>,
        uberlock: bool,
    },
    Release {
        env: String,
    },
    /// Release it whoever holds it, for `reason`.
    ForceRelease {
        env: String,
        reason: String,
    },
    History {
        env: String,
    },
    Leases {
        env: Option<String>,
    },
    /// `help`, an empty text, or a word daplaya does not know (kept to say so).
    Help {
        unknown: Option<String>,
    },
}

/// Slack escapes `&`, `<` and `>` in the text it sends; store what the user typed.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first word of `text` and what follows it, trimmed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    }
}

fn needs_env(verb: &str, usage: &str) -> Error {
    Error::usage_with_hint(format!("`{verb}` needs an env"), format!("use: {usage}"))
}

/// Parses the command text (`lock production hotfix`, `leases`, ...).
pub fn parse(text: &str) -> Result<Command> {
    let text = unescape(text);
    let (verb, rest) = split_word(&text);
    let verb_lower = verb.to_lowercase();
    match verb_lower.as_str() {
        "" | "help" => Ok(Command::Help { unknown: None }),
        "lock" | "uberlock" => {
            let uberlock = verb_lower == "uberlock";
            let (env, meta) = split_word(rest);
            if env.is_empty() {
                return Err(needs_env(
                    &verb_lower,
                    &format!("{verb_lower} <ENV> [META...]"),
                ));
            }
            Ok(Command::Lock {
                env: model::env_name(env)?,
                meta: (!meta.is_empty()).then(|| model::meta(meta)).transpose()?,
                uberlock,
            })
        }
        "force-release" => {
            let usage = "force-release <ENV> <REASON...>";
            let (env, reason) = split_word(rest);
            if env.is_empty() {
                return Err(needs_env(&verb_lower, usage));
            }
            if reason.is_empty() {
                return Err(Error::usage_with_hint(
                    "`force-release` needs a reason: breaking someone's lock is recorded with why",
                    format!("use: {usage}"),
                ));
            }
            Ok(Command::ForceRelease {
                env: model::env_name(env)?,
                reason: model::reason(reason)?,
            })
        }
        "release" | "history" => {
            let usage = format!("{verb_lower} <ENV>");
            let (env, extra) = split_word(rest);
            if env.is_empty() {
                return Err(needs_env(&verb_lower, &usage));
            }
            if !extra.is_empty() {
                return Err(Error::usage_with_hint(
                    format!("unexpected `{extra}` after the env"),
                    format!("use: {usage}"),
                ));
            }
            let env = model::env_name(env)?;
            Ok(if verb_lower == "release" {
                Command::Release { env }
            } else {
                Command::History { env }
            })
        }
        "leases" | "list" => {
            let (env, extra) = split_word(rest);
            if !extra.is_empty() {
                return Err(Error::usage_with_hint(
                    format!("unexpected `{extra}` after the env"),
                    "use: leases [<ENV>]",
                ));
            }
            Ok(Command::Leases {
                env: (!env.is_empty())
                    .then(|| model::env_name(env))
                    .transpose()?,
            })
        }
        _ => Ok(Command::Help {
            unknown: Some(verb.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(env: &str, meta: Option<&str>, uberlock: bool) -> Command {
        Command::Lock {
            env: env.into(),
            meta: meta.map(String::from),
            uberlock,
        }
    }

    #[test]
    fn lock_and_uberlock_take_an_env_and_optional_meta() {
        assert_eq!(
            parse("lock production").unwrap(),
            lock("production", None, false)
        );
        assert_eq!(
            parse("  LOCK  Production   hotfix for   INC-42 ").unwrap(),
            lock("production", Some("hotfix for   INC-42"), false)
        );
        assert_eq!(
            parse("uberlock staging").unwrap(),
            lock("staging", None, true)
        );
        assert_eq!(
            parse("Uberlock staging freeze &amp; audit &lt;https://x&gt;").unwrap(),
            lock("staging", Some("freeze & audit <https://x>"), true)
        );
    }

    #[test]
    fn release_history_and_leases() {
        assert_eq!(
            parse("release Prod").unwrap(),
            Command::Release { env: "prod".into() }
        );
        assert_eq!(
            parse(" History  Prod ").unwrap(),
            Command::History { env: "prod".into() }
        );
        assert_eq!(parse("leases").unwrap(), Command::Leases { env: None });
        assert_eq!(
            parse("leases PROD").unwrap(),
            Command::Leases {
                env: Some("prod".into())
            }
        );
    }

    #[test]
    fn force_release_takes_an_env_and_a_reason() {
        assert_eq!(
            parse("force-release Prod the deploy runner died").unwrap(),
            Command::ForceRelease {
                env: "prod".into(),
                reason: "the deploy runner died".into()
            }
        );
        for text in [
            "force-release",
            "force-release prod",
            "force-release prod   ",
        ] {
            assert_eq!(
                parse(text).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{text}"
            );
        }
    }

    #[test]
    fn help_for_empty_help_and_unknown_words() {
        for text in ["", "   ", "help", "HELP me"] {
            assert_eq!(
                parse(text).unwrap(),
                Command::Help { unknown: None },
                "{text:?}"
            );
        }
        assert_eq!(
            parse("deploy prod").unwrap(),
            Command::Help {
                unknown: Some("deploy".into())
            }
        );
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for text in [
            "lock",
            "uberlock   ",
            "release",
            "release prod now",
            "history",
            "history prod now",
            "leases a b",
            &format!("lock {}", "e".repeat(model::MAX_NAME_LEN + 1)),
            &format!("lock prod {}", "m".repeat(model::MAX_META_LEN + 1)),
        ] {
            assert_eq!(
                parse(text).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{text:?}"
            );
        }
        assert!(parse("lock")
            .unwrap_err()
            .to_string()
            .contains("needs an env"));
    }

    #[test]
    fn the_form_gives_the_workspace_the_member_and_the_handle() {
        let request = SlashRequest::from_form(
            b"command=%2Fdaplaya&text=lock+prod+a%26b&team_id=T1&user_id=U1&user_name=Road.Runner&api_app_id=A1",
        );
        assert_eq!(request.text, "lock prod a&b");
        assert_eq!(request.command_name(), "/daplaya");
        assert_eq!(
            (
                request.team_id.as_deref(),
                request.user_id.as_deref(),
                request.user_name.as_deref()
            ),
            (Some("T1"), Some("U1"), Some("Road.Runner"))
        );
        assert_eq!(request.api_app_id.as_deref(), Some("A1"));
        assert!(!request.ssl_check);

        let by_id = SlashRequest::from_form(b"user_id=U2CERLKJA&user_name=&text=");
        assert_eq!(by_id.user_name, None);
        assert!(SlashRequest::from_form(b"ssl_check=1&token=x").ssl_check);
        assert_eq!(
            SlashRequest::from_form(b"command=%2Flocks").command_name(),
            "/locks"
        );
    }
}
