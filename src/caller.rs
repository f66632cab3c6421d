//! Who is calling, and from which CI run: the default lock user, holder and meta when the caller
//! does not name them. Pure: the environment comes in as a lookup and the machine (git, the login name)
//! through [`Machine`], so every rule here is testable without touching the process.
//! Front-end neutral: the CLI and the Node API use it; Slack names its own user.

use crate::config::EnvLookup;
use crate::error::{Error, Result};
use crate::locks::Meta;
use crate::model;

/// Where the user came from. Shown on stderr and in `--json` (`userSource`) when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    /// `--user` on the command line, `user` in the API: nothing to report.
    Given,
    /// An environment variable: `DAPLAYA_USER` or the CI's own.
    Variable(&'static str),
    GitConfig,
    LoginName,
}

impl UserSource {
    /// The name users see: the variable, or how the value was found.
    pub fn name(self) -> &'static str {
        match self {
            UserSource::Given => "given",
            UserSource::Variable(name) => name,
            UserSource::GitConfig => "git config user.email",
            UserSource::LoginName => "login name",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Validated (trimmed, lowercased) as every user is.
    pub name: String,
    pub source: UserSource,
}

/// What the machine knows about its user, beyond the environment.
pub trait Machine: Sync {
    /// `git config user.email` in the current directory.
    fn git_user_email(&self) -> Option<String>;
    fn login_name(&self) -> Option<String>;
}

/// The machine this process runs on.
pub struct ThisMachine;

impl Machine for ThisMachine {
    fn git_user_email(&self) -> Option<String> {
        // No git, no repository, no email set: all mean "not known here".
        let output = std::process::Command::new("git")
            .args(["config", "--get", "user.email"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn login_name(&self) -> Option<String> {
        whoami::username().ok()
    }
}

/// User variables in the order they are tried: ours, then each CI's own (GitHub's triggering
/// actor before the actor, since a re-run is triggered by someone else than the first run).
const USER_VARIABLES: [&str; 7] = [
    "DAPLAYA_USER",
    "GITHUB_TRIGGERING_ACTOR",
    "GITHUB_ACTOR",
    "GITLAB_USER_EMAIL",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
    "CIRCLE_USERNAME",
    "BUILD_USER_EMAIL",
];

/// Variables that hold the URL of the CI run, after GitHub's (which is assembled from three).
const RUN_URL_VARIABLES: [&str; 4] = [
    "CI_JOB_URL",
    "BUILD_URL",
    "BUILDKITE_BUILD_URL",
    "CIRCLE_BUILD_URL",
];

/// What validation asks when the caller leaves the user or the meta out: the environment, the
/// machine, and the meta the front door gives outside CI (`CLI`, `API`).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub env: EnvLookup<'a>,
    pub machine: &'a dyn Machine,
    pub door_meta: &'static str,
}

impl Caller<'_> {
    pub fn user(&self, given: Option<&str>) -> Result<User> {
        user(given, self.env, self.machine)
    }

    /// Which run holds what this call takes or releases: see [`holder`].
    pub fn holder(&self, given: Option<&str>, user: &str) -> Result<String> {
        holder(given, self.env, user)
    }

    /// A holder of its own for one `locks run` (never re-entrant): the run it belongs to (as
    /// [`holder`] finds it), then `#` and an id of its own.
    pub fn fresh_holder(&self, user: &str) -> Result<String> {
        let run = holder(None, self.env, user)?;
        let run: String = run.chars().take(model::MAX_HOLDER_LEN - 37).collect();
        Ok(format!("{run}#{}", uuid::Uuid::now_v7()))
    }

    /// What a lock is for: a meta the caller gave replaces the lock's; a default (the CI run,
    /// or the front door's name) marks only a fresh acquisition.
    pub fn lock_meta(&self, given: Option<&str>) -> Result<Meta> {
        let meta = meta(given, self.env, self.door_meta)?;
        Ok(match given {
            Some(_) => Meta::Given(meta),
            None => Meta::Default(meta),
        })
    }
}

/// A variable that is set to something other than blanks.
fn variable(env: EnvLookup<'_>, name: &str) -> Option<String> {
    env(name).filter(|value| !value.trim().is_empty())
}

/// The user: `given` when there is one, else the first of `DAPLAYA_USER`, the CI's variable,
/// `git config user.email`, the login name. A value that is not a valid user is a usage error
/// naming where it came from.
pub fn user(given: Option<&str>, env: EnvLookup<'_>, machine: &dyn Machine) -> Result<User> {
    if let Some(given) = given {
        return Ok(User {
            name: model::user_name(given)?,
            source: UserSource::Given,
        });
    }
    let found = USER_VARIABLES
        .iter()
        .find_map(|&name| variable(env, name).map(|value| (value, UserSource::Variable(name))))
        .or_else(|| {
            let email = machine.git_user_email()?;
            (!email.trim().is_empty()).then_some((email, UserSource::GitConfig))
        })
        .or_else(|| {
            let login = machine.login_name()?;
            (!login.trim().is_empty()).then_some((login, UserSource::LoginName))
        });
    let Some((value, source)) = found else {
        return Err(Error::usage_with_hint(
            "no user: --user is not given and none was found in DAPLAYA_USER, the CI's variables, git or the login name",
            "pass --user <USER> (or set DAPLAYA_USER)",
        ));
    };
    let name =
        model::user_name(&value).map_err(|error| from_source(error, "the user", source.name()))?;
    Ok(User { name, source })
}

/// The variable that names a holder outside of any CI's own.
pub const HOLDER_VARIABLE: &str = "DAPLAYA_HOLDER";

/// The holder: `given` when there is one, else `DAPLAYA_HOLDER`, else the CI run this process is
/// part of ([`ci_run`]), else the user (a person at a terminal renews their own lock).
pub fn holder(given: Option<&str>, env: EnvLookup<'_>, user: &str) -> Result<String> {
    if let Some(given) = given {
        return model::holder_name(given);
    }
    let found = variable(env, HOLDER_VARIABLE)
        .map(|value| (value, HOLDER_VARIABLE))
        .or_else(|| ci_run(env));
    match found {
        Some((value, source)) => {
            model::holder_name(&value).map_err(|error| from_source(error, "the holder", source))
        }
        None => Ok(user.to_string()),
    }
}

/// The CI run this process is part of, as a holder (`<ci>:<the run's own id>`), and the
/// variables it came from: every job (and the GitHub Action's post step) of one run finds the
/// same, another run another.
pub fn ci_run(env: EnvLookup<'_>) -> Option<(String, &'static str)> {
    let github = || {
        let repository = variable(env, "GITHUB_REPOSITORY")?;
        let run = variable(env, "GITHUB_RUN_ID")?;
        let attempt = variable(env, "GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        Some((
            format!(
                "github:{}/runs/{}/attempts/{}",
                repository.trim(),
                run.trim(),
                attempt.trim()
            ),
            "GITHUB_REPOSITORY/GITHUB_RUN_ID/GITHUB_RUN_ATTEMPT",
        ))
    };
    let one = |ci: &str, name: &'static str| {
        variable(env, name).map(|id| (format!("{ci}:{}", id.trim()), name))
    };
    github()
        .or_else(|| {
            variable(env, "CI_PIPELINE_ID")
                .map(|id| (format!("gitlab:pipelines/{}", id.trim()), "CI_PIPELINE_ID"))
        })
        .or_else(|| one("buildkite", "BUILDKITE_BUILD_ID"))
        .or_else(|| one("circleci", "CIRCLE_WORKFLOW_ID"))
        .or_else(|| one("jenkins", "BUILD_TAG"))
}

/// The meta: `given` when there is one, else the URL of the CI run, else `fallback` (what the
/// front door calls itself: `CLI`, `API`).
pub fn meta(given: Option<&str>, env: EnvLookup<'_>, fallback: &str) -> Result<String> {
    if let Some(given) = given {
        return model::meta(given);
    }
    match run_url(env) {
        Some((url, source)) => {
            model::meta(&url).map_err(|error| from_source(error, "the meta", source))
        }
        None => model::meta(fallback),
    }
}

/// The URL of the CI run this process is part of, and the variable(s) it came from.
fn run_url(env: EnvLookup<'_>) -> Option<(String, &'static str)> {
    let github = || {
        let server = variable(env, "GITHUB_SERVER_URL")?;
        let repository = variable(env, "GITHUB_REPOSITORY")?;
        let run = variable(env, "GITHUB_RUN_ID")?;
        Some((
            format!(
                "{}/{}/actions/runs/{}",
                server.trim().trim_end_matches('/'),
                repository.trim(),
                run.trim()
            ),
            "GITHUB_SERVER_URL/GITHUB_REPOSITORY/GITHUB_RUN_ID",
        ))
    };
    github().or_else(|| {
        RUN_URL_VARIABLES
            .iter()
            .find_map(|&name| variable(env, name).map(|url| (url, name)))
    })
}

/// The validation error, saying which variable (or lookup) gave the value.
fn from_source(error: Error, what: &str, source: &str) -> Error {
    match error {
        Error::Usage { message, .. } => Error::usage_with_hint(
            format!("{message} (from {source})"),
            format!("give {what} explicitly, or fix {source}"),
        ),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    /// A machine that answers what it is told.
    pub struct FakeMachine {
        pub git: Option<&'static str>,
        pub login: Option<&'static str>,
    }

    impl super::Machine for FakeMachine {
        fn git_user_email(&self) -> Option<String> {
            self.git.map(String::from)
        }
        fn login_name(&self) -> Option<String> {
            self.login.map(String::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FakeMachine as Fake;
    use super::*;
    use std::collections::HashMap;

    const NOWHERE: Fake = Fake {
        git: Some("dev@example.com"),
        login: Some("runner"),
    };

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn user_from(vars: &[(&str, &str)], machine: &Fake) -> Result<User> {
        user(None, &lookup(vars), machine)
    }

    fn variable_user(name: &str, source: &'static str) -> User {
        User {
            name: name.into(),
            source: UserSource::Variable(source),
        }
    }

    #[test]
    fn each_ci_names_its_user() {
        for (vars, expected) in [
            (
                &[("GITHUB_ACTOR", "Octocat")][..],
                variable_user("octocat", "GITHUB_ACTOR"),
            ),
            (
                &[
                    ("GITHUB_ACTOR", "octocat"),
                    ("GITHUB_TRIGGERING_ACTOR", "hubot"),
                ][..],
                variable_user("hubot", "GITHUB_TRIGGERING_ACTOR"),
            ),
            (
                &[("GITLAB_USER_EMAIL", "Ann@Example.com")][..],
                variable_user("ann@example.com", "GITLAB_USER_EMAIL"),
            ),
            (
                &[("BUILDKITE_BUILD_CREATOR_EMAIL", "bk@example.com")][..],
                variable_user("bk@example.com", "BUILDKITE_BUILD_CREATOR_EMAIL"),
            ),
            (
                &[("CIRCLE_USERNAME", "circler")][..],
                variable_user("circler", "CIRCLE_USERNAME"),
            ),
            (
                &[("BUILD_USER_EMAIL", "jen@example.com")][..],
                variable_user("jen@example.com", "BUILD_USER_EMAIL"),
            ),
        ] {
            assert_eq!(user_from(vars, &NOWHERE).unwrap(), expected, "{vars:?}");
        }
    }

    #[test]
    fn daplaya_user_comes_first_and_a_given_user_wins_over_all() {
        let vars = [("DAPLAYA_USER", "deployer"), ("GITHUB_ACTOR", "octocat")];
        assert_eq!(
            user_from(&vars, &NOWHERE).unwrap(),
            variable_user("deployer", "DAPLAYA_USER")
        );
        assert_eq!(
            user(Some(" Alice "), &lookup(&vars), &NOWHERE).unwrap(),
            User {
                name: "alice".into(),
                source: UserSource::Given
            }
        );
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let vars = [("DAPLAYA_USER", "  "), ("GITHUB_TRIGGERING_ACTOR", "")];
        assert_eq!(
            user_from(&vars, &NOWHERE).unwrap().source,
            UserSource::GitConfig
        );
    }

    #[test]
    fn outside_ci_git_then_the_login_name() {
        assert_eq!(
            user_from(&[], &NOWHERE).unwrap(),
            User {
                name: "dev@example.com".into(),
                source: UserSource::GitConfig
            }
        );
        let no_git = Fake {
            git: Some("\n"),
            login: Some("runner"),
        };
        assert_eq!(
            user_from(&[], &no_git).unwrap(),
            User {
                name: "runner".into(),
                source: UserSource::LoginName
            }
        );
        let nothing = Fake {
            git: None,
            login: None,
        };
        assert_eq!(
            user_from(&[], &nothing).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }

    #[test]
    fn an_invalid_value_names_its_source() {
        let long = "u".repeat(model::MAX_USER_LEN + 1);
        let err = user_from(&[("GITLAB_USER_EMAIL", &long)], &NOWHERE).unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("GITLAB_USER_EMAIL"), "{err}");
        let bad_git = Fake {
            git: Some("a\u{7}b"),
            login: None,
        };
        let err = user_from(&[], &bad_git).unwrap_err();
        assert!(err.to_string().contains("git config user.email"), "{err}");
        let err = user(Some(""), &lookup(&[("GITHUB_ACTOR", "x")]), &NOWHERE).unwrap_err();
        assert_eq!(err.to_string(), "user must not be empty");
    }

    #[test]
    fn meta_is_the_run_url_of_each_ci() {
        let github = [
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "42"),
        ];
        for (vars, expected) in [
            (&github[..], "https://github.com/acme/shop/actions/runs/42"),
            (
                &[("CI_JOB_URL", "https://gitlab.com/acme/shop/-/jobs/7")][..],
                "https://gitlab.com/acme/shop/-/jobs/7",
            ),
            (
                &[("BUILD_URL", "https://jenkins/job/deploy/3/")][..],
                "https://jenkins/job/deploy/3/",
            ),
            (
                &[(
                    "BUILDKITE_BUILD_URL",
                    "https://buildkite.com/acme/shop/builds/5",
                )][..],
                "https://buildkite.com/acme/shop/builds/5",
            ),
            (
                &[("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/shop/9")][..],
                "https://circleci.com/gh/acme/shop/9",
            ),
            // GitHub's URL needs all three parts.
            (&github[..2], "CLI"),
            (&[], "CLI"),
        ] {
            assert_eq!(meta(None, &lookup(vars), "CLI").unwrap(), expected);
        }
    }

    #[test]
    fn a_given_meta_wins_and_an_invalid_url_names_its_variable() {
        let vars = lookup(&[("CI_JOB_URL", "https://gitlab/j/1")]);
        assert_eq!(meta(Some("INC-42"), &vars, "CLI").unwrap(), "INC-42");
        assert_eq!(meta(None, &lookup(&[]), "API").unwrap(), "API");
        let long = format!("https://{}", "x".repeat(model::MAX_META_LEN));
        let err = meta(None, &lookup(&[("BUILD_URL", &long)]), "CLI").unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("BUILD_URL"), "{err}");
    }
}
