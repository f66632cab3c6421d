//! A command line clap refused, as our one-line usage error: clap's first line, the flag or
//! subcommand it probably meant (`(did you mean '--timeout'?)`, as the API names a misspelt
//! option), and a hint: the subcommands there are after an unknown one, else the usage line.

use super::args::Cli;
use crate::error::Error;
use clap::error::{ContextKind, ContextValue};
use clap::CommandFactory;

/// `error` as a usage error; `argv` (without the program name) shows which command it was for.
pub fn usage_error(error: &clap::Error, argv: &[String]) -> Error {
    let rendered = error.to_string();
    // clap lists some details (the missing arguments) on indented lines under the first.
    let mut message = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.trim().trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ");
    let suggested: Vec<String> = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .filter_map(|kind| error.get(kind))
    .flat_map(values)
    .collect();
    if !suggested.is_empty() {
        let quoted: Vec<String> = suggested.iter().map(|s| format!("'{s}'")).collect();
        message.push_str(&format!(" (did you mean {}?)", quoted.join(" or ")));
    }
    let hint = match error.get(ContextKind::InvalidSubcommand) {
        Some(_) => subcommands_of(argv),
        None => rendered
            .lines()
            .find_map(|line| line.strip_prefix("Usage: "))
            .map(|usage| format!("usage: {usage} (see --help)")),
    };
    Error::Usage { message, hint }
}

fn values(value: &ContextValue) -> Vec<String> {
    match value {
        ContextValue::String(one) => vec![one.clone()],
        ContextValue::Strings(many) => many.clone(),
        ContextValue::StyledStrs(many) => many.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}

/// `daplaya locks takes: list, history, lock, release, run (see daplaya locks --help)`: the
/// visible subcommands of the command the words of `argv` lead to.
fn subcommands_of(argv: &[String]) -> Option<String> {
    let mut command = Cli::command();
    let mut path = vec![command.get_name().to_string()];
    for word in argv {
        let Some(sub) = command.find_subcommand(word).cloned() else {
            continue;
        };
        path.push(sub.get_name().to_string());
        command = sub;
    }
    let names: Vec<&str> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name())
        .collect();
    let path = path.join(" ");
    (!names.is_empty()).then(|| format!("{path} takes: {} (see {path} --help)", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn refused(args: &[&str]) -> Error {
        let argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let error = Cli::try_parse_from(std::iter::once("daplaya").chain(args.iter().copied()))
            .expect_err("refused");
        usage_error(&error, &argv)
    }

    #[test]
    fn a_misspelt_flag_names_the_one_meant_and_the_usage() {
        let error = refused(&["locks", "lock", "--env", "e", "--timout", "3s"]);
        assert_eq!(
            error.to_string(),
            "unexpected argument '--timout' found (did you mean '--timeout'?)"
        );
        let hint = error.hint().unwrap();
        assert!(hint.starts_with("usage: daplaya locks lock "), "{hint}");
    }

    #[test]
    fn a_misspelt_subcommand_names_the_one_meant_and_lists_them_all() {
        let error = refused(&["locks", "lok"]);
        assert_eq!(
            error.to_string(),
            "unrecognized subcommand 'lok' (did you mean 'lock'?)"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "daplaya locks takes: list, history, lock, release, run (see daplaya locks --help)"
            )
        );
        let error = refused(&["lcoks", "list"]);
        assert_eq!(
            error.to_string(),
            // `lock` is the first spec's form of `locks lock`, kept (hidden) for compatibility.
            "unrecognized subcommand 'lcoks' (did you mean 'lock' or 'locks'?)"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "daplaya takes: init, locks, jobs, serve, slack, completions (see daplaya --help)"
            )
        );
        let error = refused(&["jobs", "xyz"]);
        assert_eq!(error.to_string(), "unrecognized subcommand 'xyz'");
        assert!(error
            .hint()
            .unwrap()
            .starts_with("daplaya jobs takes: start, get, end, active, skipped"));
    }
}
