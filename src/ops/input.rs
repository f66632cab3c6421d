//! Operations as a front door collects them, before anything is checked, and their validation
//! into an [`Action`]: every value is checked here, once, whichever door it came through. The
//! CLI fills these from its flags, the API from its option objects, Slack from its command;
//! each door parses durations into their type, naming the option as its callers spell it.
//! Missing required fields arrive empty and are refused by the validation.

use super::{Action, ServeRequest};
use crate::caller::{Caller, User, UserSource};
use crate::error::{Error, Result};
use crate::jobs::{self, EndRequest};
use crate::locks::{self, Authority, LockRequest, ReleaseRequest, Wait, WaitPolicy, MAX_ENVS};
use crate::model;
use crate::run::RunRequest;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ListArgs {
    pub env: Option<String>,
}

/// The envs a lock, release or run names: one (`--env e`, `env: 'e'`) or several (`--env` again
/// and again, `env: ['eu', 'us']`), checked by [`Envs::names`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envs {
    pub given: Vec<String>,
    /// The caller asked for a list (an array in JS; several `--env` flags): results come as a
    /// list, one per env in this order, even of one.
    pub listed: bool,
}

impl From<Vec<String>> for Envs {
    /// Flags: one `--env` answers as one env does today, several as a list.
    fn from(given: Vec<String>) -> Self {
        let listed = given.len() > 1;
        Envs { given, listed }
    }
}

impl From<String> for Envs {
    fn from(env: String) -> Self {
        Envs {
            given: vec![env],
            listed: false,
        }
    }
}

impl Envs {
    /// Each name checked as any env is (trimmed, lowercased), at least one and at most
    /// [`MAX_ENVS`], none twice, in the order given.
    pub fn names(&self) -> Result<Vec<String>> {
        if self.given.is_empty() {
            return Err(Error::usage("env must not be empty"));
        }
        if self.given.len() > MAX_ENVS {
            return Err(Error::usage(format!(
                "at most {MAX_ENVS} envs at once, not {}",
                self.given.len()
            )));
        }
        let mut names: Vec<String> = Vec::with_capacity(self.given.len());
        for given in &self.given {
            let name = model::env_name(given)?;
            if names.contains(&name) {
                return Err(Error::usage(format!("env {name} is given twice")));
            }
            names.push(name);
        }
        Ok(names)
    }
}

/// `lock` (and the lock of `locks run`), declared once: the command line's flags, the API's
/// options and Slack's `lock` each fill it, durations already parsed at the door (each door
/// names its own option when a value is refused). Adding an option to lock: docs/development.md.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockArgs {
    pub env: Envs,
    /// When `None`, the caller's default (see `caller`).
    pub user: Option<String>,
    /// The run taking the lock; when `None`, the caller's default (see `caller::holder`).
    pub holder: Option<String>,
    pub meta: Option<String>,
    pub uberlock: bool,
    /// The lease; when `None`, [`locks::DEFAULT_TTL`].
    pub ttl: Option<Duration>,
    pub wait: Wait,
    /// When `None`, [`locks::DEFAULT_POLL_INTERVAL`].
    pub poll_interval: Option<Duration>,
    /// Give way (exit 6, `SUPERSEDED`) when a newer waiter joins the line behind this one.
    pub supersede: bool,
}

/// `locks history`: an env's holds, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryArgs {
    pub env: String,
    pub limit: Option<i64>,
    pub since: Option<Duration>,
}

/// `locks run`: a lock, and the command to run under it.
#[derive(Debug, Clone)]
pub struct RunArgs {
    pub lock: LockArgs,
    pub kill_after: Option<Duration>,
    pub command: Vec<String>,
}

/// The wait a door's `timeout` and `no-wait` options ask for; both at once is refused, in the
/// door's own spelling of the two.
pub fn wait(timeout: Option<Duration>, no_wait: bool, both: &str) -> Result<Wait> {
    match (timeout, no_wait) {
        (Some(_), true) => Err(Error::usage(format!("{both} exclude each other"))),
        (None, true) => Ok(Wait::No),
        (Some(timeout), false) => Ok(Wait::Until(timeout)),
        (None, false) => Ok(Wait::Forever),
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReleaseArgs {
    pub env: Envs,
    pub user: Option<String>,
    pub holder: Option<String>,
    pub uberlock: bool,
    /// Release whoever holds it (with `reason`): the hold ends as forced.
    pub force: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StartArgs {
    pub jobname: String,
    pub user: Option<String>,
    pub gitversion: String,
}

#[derive(Debug, Clone, Default)]
pub struct GetArgs {
    pub jobname: String,
    pub gitversion: String,
}

#[derive(Debug, Clone, Default)]
pub struct EndArgs {
    /// The seeds' positional form, `version <VERSION>` (command line only).
    pub words: Vec<String>,
    pub gitversion: Option<String>,
    pub jobname: Option<String>,
    pub user: Option<String>,
    pub skipped: bool,
}

/// A jobname and how far back to look (`jobs active`, `jobs skipped`).
#[derive(Debug, Clone, Default)]
pub struct WindowArgs {
    pub jobname: String,
    pub ttl: Option<Duration>,
}

/// `serve` / `slack serve`: where to listen and which jobnames the page shows.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    pub host: String,
    pub port: u16,
    pub jobnames: Vec<String>,
    pub slack_required: bool,
}

impl ServeArgs {
    pub fn request(&self) -> Result<ServeRequest> {
        Ok(ServeRequest {
            host: self.host.clone(),
            port: self.port,
            jobnames: self
                .jobnames
                .iter()
                .map(|name| model::job_name(name))
                .collect::<Result<_>>()?,
            slack_required: self.slack_required,
        })
    }
}

impl ListArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::ListLocks {
            env: self.env.as_deref().map(model::env_name).transpose()?,
        })
    }
}

impl HistoryArgs {
    pub fn action(&self) -> Result<Action> {
        let limit = match self.limit {
            None => locks::DEFAULT_HISTORY_LIMIT,
            Some(limit) => usize::try_from(limit)
                .ok()
                .filter(|limit| (1..=locks::MAX_HISTORY_LIMIT).contains(limit))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--limit must be from 1 to {}, not {limit}",
                        locks::MAX_HISTORY_LIMIT
                    ))
                })?,
        };
        Ok(Action::History {
            env: model::env_name(&self.env)?,
            limit,
            since: self.since,
        })
    }
}

impl LockArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let user = caller.user(self.user.as_deref())?;
        let holder = caller.holder(self.holder.as_deref(), &user.name)?;
        let (request, policy, user_source) = self.parts(caller, user, holder)?;
        Ok(Action::Lock {
            request,
            policy,
            user_source,
            listed: self.env.listed,
        })
    }

    /// One attempt that never joins the line (Slack's `lock`): someone else's lock is a report,
    /// not an error. Checked as [`LockArgs::action`] checks it; the wait is not asked.
    pub fn attempt(&self, caller: &Caller) -> Result<Action> {
        let user = caller.user(self.user.as_deref())?;
        let holder = caller.holder(self.holder.as_deref(), &user.name)?;
        let (request, _, _) = self.parts(caller, user, holder)?;
        Ok(Action::TryLock(request))
    }

    /// The request of `user`, taking the lock for `holder`.
    fn parts(
        &self,
        caller: &Caller,
        user: User,
        holder: String,
    ) -> Result<(LockRequest, WaitPolicy, UserSource)> {
        let envs = self.env.names()?;
        Ok((
            LockRequest {
                envs,
                user: user.name,
                holder,
                meta: caller.lock_meta(self.meta.as_deref())?,
                uberlock: self.uberlock,
                ttl: self.ttl.unwrap_or(locks::DEFAULT_TTL),
                supersede: self.supersede,
            },
            WaitPolicy {
                wait: self.wait,
                poll_interval: self.poll_interval.unwrap_or(locks::DEFAULT_POLL_INTERVAL),
            },
            user.source,
        ))
    }
}

impl RunArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        if self.lock.holder.is_some() {
            return Err(Error::usage_with_hint(
                "locks run holds its lock as a run of its own, never re-entrant: --holder is for locks lock and locks release",
                "leave --holder out (a lock of this run taken with locks lock is released with locks release)",
            ));
        }
        let user = caller.user(self.lock.user.as_deref())?;
        let holder = caller.fresh_holder(&user.name)?;
        let (request, policy, user_source) = self.lock.parts(caller, user, holder)?;
        if self
            .command
            .first()
            .is_none_or(|program| program.is_empty())
        {
            return Err(Error::usage_with_hint(
                "locks run needs a command to run",
                "daplaya locks run --env <ENV> [--user <USER>] -- <command> [args...]",
            ));
        }
        let kill_after = self.kill_after.unwrap_or(crate::run::DEFAULT_KILL_AFTER);
        Ok(Action::Run {
            request: RunRequest {
                lock: request,
                policy,
                kill_after,
                command: self.command.clone(),
            },
            user_source,
            listed: self.lock.env.listed,
        })
    }
}

impl ReleaseArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let envs = self.env.names()?;
        let authority = match (self.force, &self.reason) {
            (true, Some(reason)) => Authority::Force {
                reason: model::reason(reason)?,
            },
            (true, None) => {
                return Err(Error::usage_with_hint(
                    "--force needs --reason: breaking someone's lock is recorded with why",
                    "daplaya locks release --env <ENV> --force --reason \"<WHY>\"",
                ))
            }
            (false, Some(_)) => return Err(Error::usage("--reason goes with --force")),
            (false, None) => Authority::Holder,
        };
        let user = caller.user(self.user.as_deref())?;
        let holder = caller.holder(self.holder.as_deref(), &user.name)?;
        Ok(Action::Release {
            request: ReleaseRequest {
                envs,
                user: user.name,
                holder,
                uberlock: self.uberlock,
                authority,
            },
            user_source: user.source,
            listed: self.env.listed,
        })
    }
}

impl StartArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let jobname = model::job_name(&self.jobname)?;
        let user = caller.user(self.user.as_deref())?;
        Ok(Action::StartJob {
            jobname,
            user: user.name,
            version: model::git_version(&self.gitversion)?,
            user_source: user.source,
        })
    }
}

impl GetArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::GetJob {
            jobname: model::job_name(&self.jobname)?,
            version: model::git_version(&self.gitversion)?,
        })
    }
}

impl EndArgs {
    pub fn action(&self) -> Result<Action> {
        let version = end_version(&self.words, self.gitversion.as_deref())?;
        Ok(Action::EndJob(EndRequest {
            version: model::git_version(&version)?,
            jobname: self.jobname.as_deref().map(model::job_name).transpose()?,
            user: self.user.as_deref().map(model::user_name).transpose()?,
            skipped: self.skipped,
        }))
    }
}

impl WindowArgs {
    pub fn active(&self) -> Result<Action> {
        Ok(Action::ActiveJobs {
            jobname: model::job_name(&self.jobname)?,
            window: self.window()?,
        })
    }

    pub fn skipped(&self) -> Result<Action> {
        Ok(Action::SkippedJobs {
            jobname: model::job_name(&self.jobname)?,
            window: self.window()?,
        })
    }

    fn window(&self) -> Result<Duration> {
        Ok(self.ttl.unwrap_or(jobs::DEFAULT_WINDOW))
    }
}

/// `jobs end` takes the version as `--gitversion V` or, as the seeds wrote it, `version V`.
fn end_version(words: &[String], gitversion: Option<&str>) -> Result<String> {
    let positional = match words {
        [] => None,
        [keyword, version] if keyword == "version" => Some(version.as_str()),
        _ => {
            return Err(Error::usage_with_hint(
                format!("unexpected argument '{}'", words.join(" ")),
                "use: daplaya jobs end --gitversion <VERSION> (or: jobs end version <VERSION>)",
            ))
        }
    };
    match (positional, gitversion) {
        (Some(_), Some(_)) => Err(Error::usage(
            "give the version once: either `version <VERSION>` or --gitversion",
        )),
        (Some(version), None) | (None, Some(version)) => Ok(version.to_string()),
        (None, None) => Err(Error::usage_with_hint(
            "jobs end needs a version",
            "use: daplaya jobs end --gitversion <VERSION> [--jobname <JOBNAME>] [--skipped]",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(given: &[&str]) -> Result<Vec<String>> {
        Envs::from(given.iter().map(|e| e.to_string()).collect::<Vec<_>>()).names()
    }

    #[test]
    fn envs_are_checked_one_by_one_at_most_25_and_none_twice() {
        assert_eq!(names(&[" EU ", "us"]).unwrap(), ["eu", "us"]);
        let max: Vec<String> = (0..MAX_ENVS).map(|i| format!("e{i}")).collect();
        let max: Vec<&str> = max.iter().map(String::as_str).collect();
        assert_eq!(names(&max).unwrap().len(), MAX_ENVS);
        let over = [max.as_slice(), &["one-more"]].concat();
        assert_eq!(
            names(&over).unwrap_err().to_string(),
            "at most 25 envs at once, not 26"
        );
        assert_eq!(
            names(&["eu", "EU "]).unwrap_err().to_string(),
            "env eu is given twice"
        );
        assert_eq!(
            names(&["eu", ""]).unwrap_err().to_string(),
            "env must not be empty"
        );
        assert!(names(&[]).is_err());
    }

    #[test]
    fn one_env_answers_as_one_and_a_list_as_a_list() {
        let flags = |n: usize| Envs::from(vec!["e".to_string(); n]).listed;
        assert!(!flags(1) && flags(2));
        assert!(!Envs::from("eu".to_string()).listed);
    }
}
