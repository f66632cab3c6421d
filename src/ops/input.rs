//! Operations as a front door collects them, before anything is checked, and their validation
//! into an [`Action`]: every value is checked here, once, whichever door it came through. The
//! CLI fills these from its flags; JS option objects and JSON bodies deserialize into them.
//! Missing required fields arrive empty and are refused by the validation.

use super::{Action, ServeRequest};
use crate::caller::{Caller, UserSource};
use crate::duration;
use crate::error::{Error, Result};
use crate::jobs::{self, EndRequest};
use crate::locks::{self, LockRequest, Wait, WaitPolicy};
use crate::model;
use crate::run::RunRequest;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListArgs {
    pub env: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LockArgs {
    pub env: String,
    /// When `None`, the caller's default (see `caller`).
    pub user: Option<String>,
    pub meta: Option<String>,
    pub uberlock: bool,
    #[serde(deserialize_with = "duration_text")]
    pub ttl: Option<String>,
    #[serde(deserialize_with = "duration_text")]
    pub timeout: Option<String>,
    pub no_wait: bool,
    #[serde(deserialize_with = "duration_text")]
    pub poll_interval: Option<String>,
}

/// `locks history`: an env's holds, newest first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HistoryArgs {
    pub env: String,
    pub limit: Option<i64>,
    #[serde(deserialize_with = "duration_text")]
    pub since: Option<String>,
}

/// `locks run`: a lock, and the command to run under it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RunArgs {
    #[serde(flatten)]
    pub lock: LockArgs,
    #[serde(deserialize_with = "duration_text")]
    pub kill_after: Option<String>,
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReleaseArgs {
    pub env: String,
    pub user: Option<String>,
    pub uberlock: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StartArgs {
    pub jobname: String,
    pub user: Option<String>,
    pub gitversion: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetArgs {
    pub jobname: String,
    pub gitversion: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndArgs {
    /// The seeds' positional form, `version <VERSION>` (command line only).
    #[serde(skip)]
    pub words: Vec<String>,
    pub gitversion: Option<String>,
    pub jobname: Option<String>,
    pub user: Option<String>,
    pub skipped: bool,
}

/// A jobname and how far back to look (`jobs active`, `jobs skipped`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WindowArgs {
    pub jobname: String,
    #[serde(deserialize_with = "duration_text")]
    pub ttl: Option<String>,
}

/// `serve` / `slack serve`: where to listen and which jobnames the page shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
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

/// JS callers may give a duration as milliseconds (a number) or as text (`"30s"`).
fn duration_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Millis(u64),
        Text(String),
    }
    Ok(Option::<Given>::deserialize(de)?.map(|given| match given {
        Given::Millis(ms) => ms.to_string(),
        Given::Text(text) => text,
    }))
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
            since: self
                .since
                .as_deref()
                .map(|text| duration::parse_positive("--since", text))
                .transpose()?,
        })
    }
}

impl LockArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let (request, policy, user_source) = self.parts(caller)?;
        Ok(Action::Lock {
            request,
            policy,
            user_source,
        })
    }

    fn parts(&self, caller: &Caller) -> Result<(LockRequest, WaitPolicy, UserSource)> {
        let optional = |flag: &str, value: &Option<String>, default: Duration| {
            value
                .as_deref()
                .map_or(Ok(default), |text| duration::parse_positive(flag, text))
        };
        let wait = match (&self.timeout, self.no_wait) {
            (Some(_), true) => {
                return Err(Error::usage("--timeout and --no-wait exclude each other"));
            }
            (None, true) => Wait::No,
            (Some(text), false) => Wait::Until(duration::parse("--timeout", text)?),
            (None, false) => Wait::Forever,
        };
        let env = model::env_name(&self.env)?;
        let user = caller.user(self.user.as_deref())?;
        Ok((
            LockRequest {
                envs: vec![env],
                user: user.name,
                meta: caller.lock_meta(self.meta.as_deref())?,
                uberlock: self.uberlock,
                ttl: optional("--ttl", &self.ttl, locks::DEFAULT_TTL)?,
                supersede: false,
            },
            WaitPolicy {
                wait,
                poll_interval: optional(
                    "--poll-interval",
                    &self.poll_interval,
                    locks::DEFAULT_POLL_INTERVAL,
                )?,
            },
            user.source,
        ))
    }
}

impl RunArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let (request, policy, user_source) = self.lock.parts(caller)?;
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
        let kill_after = match &self.kill_after {
            Some(text) => duration::parse_positive("--kill-after", text)?,
            None => crate::run::DEFAULT_KILL_AFTER,
        };
        Ok(Action::Run {
            request: RunRequest {
                lock: request,
                policy,
                kill_after,
                command: self.command.clone(),
            },
            user_source,
        })
    }
}

impl ReleaseArgs {
    pub fn action(&self, caller: &Caller) -> Result<Action> {
        let env = model::env_name(&self.env)?;
        let user = caller.user(self.user.as_deref())?;
        Ok(Action::Release {
            env,
            user: user.name,
            uberlock: self.uberlock,
            user_source: user.source,
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
        self.ttl
            .as_deref()
            .map_or(Ok(jobs::DEFAULT_WINDOW), |text| {
                duration::parse_positive("--ttl", text)
            })
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
