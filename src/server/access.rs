//! Who may read the dashboard. With `DAPLAYA_DASHBOARD_TOKEN` set, every route except
//! `/healthz` and `/slack/commands` (Slack signs its own requests) needs the token; without it
//! the server listens on loopback only, where the machine's own users are the audience, and
//! answers those routes only to a `Host` that names this machine, so that a web page whose own
//! name an attacker points at 127.0.0.1 (DNS rebinding) cannot read them.
//! Pure functions: the server hands them the request's credentials and the bound address.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

pub const TOKEN_VAR: &str = "DAPLAYA_DASHBOARD_TOKEN";
/// Holds the SHA-256 of the token (never the token itself), set when `?token=` was right.
pub const COOKIE_NAME: &str = "daplaya_token";

/// The dashboard token, compared in constant time and never printed.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// `None` when the variable is unset or blank.
    pub fn from_env(value: Option<String>) -> Option<Token> {
        let value = value?;
        let value = value.trim();
        (!value.is_empty()).then(|| Token {
            digest: digest(value),
        })
    }

    fn matches(&self, presented: &str) -> bool {
        self.digest.ct_eq(&digest(presented.trim())).into()
    }

    fn matches_cookie(&self, value: &str) -> bool {
        hex::decode(value.trim())
            .is_ok_and(|presented| self.digest.as_slice().ct_eq(&presented).into())
    }

    /// The `Set-Cookie` value that lets a browser come back without the token in its URL.
    pub fn cookie(&self) -> String {
        format!(
            "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax",
            hex::encode(self.digest)
        )
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// What a request carries that might be the token.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `token` query parameter.
    pub query: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    /// Granted by `?token=`: answer with the cookie so later requests need no token in the URL.
    GrantedRemember,
    Denied,
}

/// Decides a request to a guarded route. The first credential present decides, in the order
/// header, query, cookie: a wrong one is refused even when a later one would be right, so a
/// stale token in a shared link fails loudly instead of riding on someone's cookie.
pub fn check(token: Option<&Token>, credentials: &Credentials<'_>) -> Access {
    let Some(token) = token else {
        return Access::Granted;
    };
    if let Some(header) = credentials.authorization {
        let bearer = header
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, value)| value);
        return match bearer {
            Some(value) if token.matches(value) => Access::Granted,
            _ => Access::Denied,
        };
    }
    if let Some(value) = credentials.query {
        return if token.matches(value) {
            Access::GrantedRemember
        } else {
            Access::Denied
        };
    }
    match credentials.cookie.and_then(cookie_value) {
        Some(value) if token.matches_cookie(value) => Access::Granted,
        _ => Access::Denied,
    }
}

fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// Without a token, only this machine may connect: refuses any other address.
pub fn may_listen(address: IpAddr, token: Option<&Token>) -> Result<()> {
    if token.is_some() || address.to_canonical().is_loopback() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "refusing to serve on {address} without {TOKEN_VAR}: set it to a secret (export {TOKEN_VAR}=\"$(openssl rand -hex 32)\") or listen on 127.0.0.1"
    )))
}

/// Whether a request's `Host` names this machine: `localhost`, a `*.localhost` name (RFC 6761
/// keeps them on loopback) or a loopback address, with any port. The allow-list Django uses
/// while debugging; no other name can be made to point here by someone else's DNS.
pub fn host_is_local(host: Option<&str>) -> bool {
    let Some(host) = host.map(str::trim) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map(|(address, _)| address),
        None => Some(match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }),
    };
    let Some(name) = name.map(|name| name.trim_end_matches('.').to_ascii_lowercase()) else {
        return false;
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|address| address.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::from_env(Some(" s3cret ".into())).unwrap()
    }

    fn with(authorization: Option<&str>, query: Option<&str>, cookie: Option<&str>) -> Access {
        check(
            Some(&token()),
            &Credentials {
                authorization,
                query,
                cookie,
            },
        )
    }

    #[test]
    fn without_a_token_everything_is_granted() {
        assert_eq!(check(None, &Credentials::default()), Access::Granted);
        assert!(Token::from_env(Some("  ".into())).is_none());
        assert!(Token::from_env(None).is_none());
    }

    #[test]
    fn the_bearer_header_query_and_cookie_each_grant() {
        assert_eq!(with(Some("Bearer s3cret"), None, None), Access::Granted);
        assert_eq!(with(Some("bearer s3cret"), None, None), Access::Granted);
        assert_eq!(with(None, Some("s3cret"), None), Access::GrantedRemember);
        let cookie = token().cookie();
        let pair = cookie.split(';').next().unwrap();
        assert_eq!(
            with(None, None, Some(&format!("theme=dark; {pair}"))),
            Access::Granted
        );
    }

    #[test]
    fn wrong_or_missing_credentials_are_denied() {
        assert_eq!(with(None, None, None), Access::Denied);
        assert_eq!(with(Some("Bearer nope"), None, None), Access::Denied);
        assert_eq!(with(Some("Basic s3cret"), None, None), Access::Denied);
        assert_eq!(with(Some("s3cret"), None, None), Access::Denied);
        assert_eq!(with(None, Some("nope"), None), Access::Denied);
        assert_eq!(with(None, None, Some("daplaya_token=zz")), Access::Denied);
        // The cookie holds the digest, not the token: the raw token as a cookie is not enough.
        assert_eq!(
            with(None, None, Some("daplaya_token=s3cret")),
            Access::Denied
        );
        assert_eq!(
            with(None, None, Some("other_token=s3cret; x=y")),
            Access::Denied
        );
    }

    #[test]
    fn the_first_credential_present_decides() {
        let cookie = token().cookie();
        let pair = cookie.split(';').next().unwrap();
        assert_eq!(with(None, Some("stale"), Some(pair)), Access::Denied);
        assert_eq!(
            with(Some("Bearer stale"), Some("s3cret"), None),
            Access::Denied
        );
    }

    #[test]
    fn the_cookie_is_http_only_and_never_holds_the_token() {
        let cookie = token().cookie();
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("s3cret"));
        assert_eq!(format!("{:?}", token()), "Token(<redacted>)");
    }

    #[test]
    fn without_a_token_only_loopback_addresses_are_allowed() {
        for loopback in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            assert!(
                may_listen(loopback.parse().unwrap(), None).is_ok(),
                "{loopback}"
            );
        }
        for open in ["0.0.0.0", "::", "192.168.1.5"] {
            let error = may_listen(open.parse().unwrap(), None).unwrap_err();
            assert_eq!(error.exit_code(), 2);
            assert!(error.to_string().contains(TOKEN_VAR), "{error}");
            assert!(may_listen(open.parse().unwrap(), Some(&token())).is_ok());
        }
    }

    #[test]
    fn only_hosts_that_name_this_machine_are_local() {
        for host in [
            "localhost",
            "localhost:3000",
            "LOCALHOST.",
            "app.localhost:8080",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3:80",
            "[::1]:3000",
            "[::1]",
            "[::ffff:127.0.0.1]:3000",
        ] {
            assert!(host_is_local(Some(host)), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "evillocalhost",
            "192.168.1.5:3000",
            "[::2]:3000",
            "[::1",
            "",
            ":3000",
        ] {
            assert!(!host_is_local(Some(host)), "{host}");
        }
        assert!(!host_is_local(None));
    }
}
