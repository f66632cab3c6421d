//! Names a person can tell apart (docs/cli.md, Env names), after Unicode's security mechanisms for
//! identifiers (UTS #39), as browsers apply them to domain names and compilers to identifiers.
//!
//! An env name is one lock: two names that print the same would be two locks that look like
//! one, so an env name is refused unless every character is visible ASCII (a letter, a digit,
//! punctuation or the space) or a character UTS #39 allows in identifiers (no invisible, format,
//! bidi-control or compatibility characters); its letters are of one script, or Latin with Han,
//! Kana or Hangul ("highly restrictive"); and a non-ASCII name does not pass for an ASCII one
//! (its confusable skeleton is not all ASCII: Cyrillic "рор" passes for "pop").
//!
//! A user name is shown, not locked on: only what hides or reorders text is refused (default
//! ignorable characters, which include the bidi controls, and the line and paragraph
//! separators). People's names mix scripts, and a user name grants nothing a typed one would not.
//!
//! Both are stored in Unicode's composed form (NFC), so "é" typed either way is one name.

use crate::error::{Error, Result};
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

/// Letters, digits, punctuation and the space of ASCII: allowed whatever UTS #39 says of the
/// punctuation (it belongs to no script, and every font draws it apart).
fn plain_ascii(c: char) -> bool {
    c == ' ' || c.is_ascii_graphic()
}

/// What hides or reorders text: default ignorable code points (zero-width characters, the
/// byte-order mark, the bidi controls, variation selectors) and the line and paragraph
/// separators.
fn hides_or_reorders(c: char) -> bool {
    c.identifier_type() == Some(IdentifierType::Default_Ignorable)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `U+200B` and how the character misleads, for an error.
fn described(c: char) -> String {
    let kind = if hides_or_reorders(c) {
        "an invisible or text-direction character"
    } else {
        "a character outside Unicode's identifier set (UTS #39)"
    };
    format!("{kind} (U+{:04X})", c as u32)
}

/// An env name, trimmed and lowercased, as stored: composed, and legible as described above.
pub(super) fn env(what: &str, name: &str) -> Result<String> {
    let name: String = name.nfc().collect();
    if let Some(c) = name
        .chars()
        .find(|&c| !plain_ascii(c) && !c.identifier_allowed())
    {
        return Err(Error::usage(format!(
            "{what} {name:?} has {}: names are limited to what a person can tell apart",
            described(c)
        )));
    }
    let letters: String = name
        .chars()
        .filter(|c| !plain_ascii(*c) || c.is_ascii_alphanumeric())
        .collect();
    if !letters
        .as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
    {
        return Err(Error::usage(format!(
            "{what} {name:?} mixes {} letters, so it can pass for another name: use one script",
            scripts(&letters)
        )));
    }
    if !name.is_ascii() {
        let skeleton: String = unicode_security::skeleton(&name).collect();
        if skeleton.is_ascii() {
            return Err(Error::usage(format!(
                "{what} {name:?} can pass for {skeleton:?}: its letters all look like Latin ones"
            )));
        }
    }
    Ok(name)
}

/// A user name, trimmed and lowercased, as stored: composed, with nothing hidden or reordering.
pub(super) fn user(what: &str, name: &str) -> Result<String> {
    let name: String = name.nfc().collect();
    match name.chars().find(|&c| hides_or_reorders(c)) {
        Some(c) => Err(Error::usage(format!(
            "{what} {name:?} has {}: names are limited to what a person can see",
            described(c)
        ))),
        None => Ok(name),
    }
}

/// "Latin and Cyrillic": the scripts of `letters`, in order of first use.
fn scripts(letters: &str) -> String {
    let mut seen: Vec<Script> = Vec::new();
    for script in letters.chars().map(|c| c.script()) {
        if !matches!(script, Script::Common | Script::Inherited) && !seen.contains(&script) {
            seen.push(script);
        }
    }
    let names: Vec<&str> = seen.iter().map(|script| script.full_name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(name: &str) -> String {
        let error = env("env", name).unwrap_err();
        assert_eq!(error.exit_code(), crate::error::exit::USAGE, "{name:?}");
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message}");
        message
    }

    #[test]
    fn the_names_people_use_keep_working() {
        for name in [
            "prod",
            "production",
            "eu-sandbox",
            "live-env",
            "latency-count-sdk",
            "us-east-1/prod",
            "prod eu",
            "team.app:prod",
            "alice@example.com",
            "e".repeat(128).as_str(),
            "café",
            "münchen",
            "東京",
            "prod-東京",
            "本番-デプロイ",
            "продакшн",
            "ελλάδα",
        ] {
            assert_eq!(env("env", name).unwrap(), name, "{name:?}");
        }
    }

    #[test]
    fn one_name_typed_composed_or_decomposed_is_one_name() {
        assert_eq!(env("env", "cafe\u{301}").unwrap(), "café");
        assert_eq!(user("user", "jose\u{301}").unwrap(), "josé");
    }

    #[test]
    fn invisible_format_and_bidi_characters_are_refused() {
        for (name, code) in [
            ("uprod\u{200B}", "U+200B"),
            ("\u{FEFF}uprod", "U+FEFF"),
            ("up\u{202E}dorp", "U+202E"),
            ("up\u{2066}rod", "U+2066"),
            ("up\u{2028}rod", "U+2028"),
            ("up\u{00AD}rod", "U+00AD"),
            ("up\u{200D}rod", "U+200D"),
        ] {
            let message = refusal(name);
            assert!(message.contains(code), "{message}");
            assert!(message.contains("invisible"), "{message}");
            assert!(
                message.contains("\\u{"),
                "the name shows its hidden character: {message}"
            );
            let message = user("user", name).unwrap_err().to_string();
            assert!(message.contains(code), "{message}");
        }
    }

    #[test]
    fn compatibility_symbols_and_other_restricted_characters_are_refused() {
        for (name, code) in [
            ("ｐｒｏｄ", "U+FF50"),
            ("prod\u{00A0}eu", "U+00A0"),
            ("prod🚀", "U+1F680"),
        ] {
            let message = refusal(name);
            assert!(message.contains(code), "{message}");
            assert!(message.contains("UTS #39"), "{message}");
        }
    }

    #[test]
    fn mixed_scripts_are_refused_and_named() {
        let message = refusal("uprоd");
        assert!(
            message.contains("mixes Latin and Cyrillic letters"),
            "{message}"
        );
        let message = refusal("prod-αβγ");
        assert!(message.contains("Latin and Greek"), "{message}");
    }

    #[test]
    fn a_name_that_passes_for_an_ascii_one_is_refused() {
        let message = refusal("рор");
        assert!(message.contains("can pass for \"pop\""), "{message}");
    }

    #[test]
    fn user_names_may_mix_scripts_and_symbols() {
        for name in [
            "alice",
            "Алексей (alex)",
            "田中 太郎",
            "deploy-bot 🚀",
            "ｐｒｏｄ",
        ] {
            assert_eq!(user("user", name).unwrap(), name, "{name:?}");
        }
    }
}
