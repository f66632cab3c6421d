//! The flags of `jobs ...` and their validation.

use super::{duration_text, Action};
use crate::duration;
use crate::error::{Error, Result};
use crate::jobs::{self, EndRequest};
use crate::model;
use clap::{Args, Subcommand};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Record a running job and print its id
    #[command(
        after_help = "Example:\n  daplaya jobs start --jobname deploy-prod --user \"$GIT_COMMITTER_EMAIL\" --gitversion \"$GIT_SHA\""
    )]
    Start(StartArgs),
    /// Show the most recent job of a jobname at a version
    #[command(
        after_help = "Example:\n  daplaya jobs get --jobname deploy-prod --gitversion \"$GIT_SHA\" --json"
    )]
    Get(GetArgs),
    /// End the most recent running job of a version (also: jobs end version <VERSION>)
    #[command(
        after_help = "Example:\n  daplaya jobs end --gitversion \"$GIT_SHA\" --jobname deploy-prod --skipped"
    )]
    End(EndArgs),
    /// List jobs of a jobname that have not ended, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs active --jobname deploy-prod --ttl 1h")]
    Active(WindowArgs),
    /// List skipped jobs of a jobname, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs skipped --jobname deploy-prod --ttl 2h")]
    Skipped(WindowArgs),
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StartArgs {
    #[arg(long)]
    pub jobname: String,
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetArgs {
    #[arg(long)]
    pub jobname: String,
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndArgs {
    /// The seeds' form: `version <VERSION>`
    #[arg(value_name = "version VERSION", num_args = 0..=2, hide = true)]
    #[serde(skip)]
    pub words: Vec<String>,
    #[arg(long)]
    pub gitversion: Option<String>,
    #[arg(long)]
    pub jobname: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Mark the job as skipped
    #[arg(long)]
    pub skipped: bool,
}

#[derive(Debug, Default, Args, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WindowArgs {
    #[arg(long)]
    pub jobname: String,
    /// How far back to look [default: 50m]
    #[arg(long, value_name = "DUR")]
    #[serde(deserialize_with = "duration_text")]
    pub ttl: Option<String>,
}

impl StartArgs {
    pub fn action(&self) -> Result<Action> {
        Ok(Action::StartJob {
            jobname: model::job_name(&self.jobname)?,
            user: model::user_name(&self.user)?,
            version: model::git_version(&self.gitversion)?,
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
            window: window(self)?,
        })
    }

    pub fn skipped(&self) -> Result<Action> {
        Ok(Action::SkippedJobs {
            jobname: model::job_name(&self.jobname)?,
            window: window(self)?,
        })
    }
}

fn window(args: &WindowArgs) -> Result<Duration> {
    args.ttl
        .as_deref()
        .map_or(Ok(jobs::DEFAULT_WINDOW), |text| {
            duration::parse_positive("--ttl", text)
        })
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
