//! The operator's Slack settings that both the slash command (who a member is) and the events
//! (whom a waiter's turn is told to, through which bot) read: the variables' names, Slack's
//! address, and the member-to-user mapping as the operator writes it.

use crate::error::{Error, Result};

pub const BOT_TOKEN_VAR: &str = "DAPLAYA_SLACK_BOT_TOKEN";
pub const API_URL_VAR: &str = "DAPLAYA_SLACK_API_URL";
pub const USERS_VAR: &str = "DAPLAYA_SLACK_USERS";

/// Slack's own Web API address, unless configured otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// `DAPLAYA_SLACK_USERS` as the operator writes it: `MEMBER_ID=USER` entries separated by commas
/// or white space, as `(member, user)` pairs. The users are not checked here; whoever uses them
/// checks them as users are.
pub fn parse_users(text: &str) -> Result<Vec<(String, String)>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((member, user)) if !member.is_empty() && !user.is_empty() => {
                Ok((member.to_string(), user.to_string()))
            }
            _ => Err(Error::usage_with_hint(
                format!("{USERS_VAR}: '{entry}' is not MEMBER_ID=USER"),
                format!("{USERS_VAR}=U0123ABC=alice@acme.io,U0456DEF=bob@acme.io"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_separated_by_commas_or_white_space() {
        assert_eq!(
            parse_users("U1=Alice@Acme.io,\n U2=bob@acme.io").unwrap(),
            [
                ("U1".to_string(), "Alice@Acme.io".to_string()),
                ("U2".to_string(), "bob@acme.io".to_string())
            ]
        );
        assert!(parse_users("").unwrap().is_empty());
    }

    #[test]
    fn a_malformed_mapping_is_a_usage_error_naming_the_entry() {
        for text in ["U1", "U1=", "=alice", "U1=alice,U2"] {
            let error = parse_users(text).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{text}");
            assert!(
                error.to_string().starts_with("DAPLAYA_SLACK_USERS: '"),
                "{error}"
            );
        }
    }
}
