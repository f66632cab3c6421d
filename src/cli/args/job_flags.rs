//! The flags of `jobs ...`; `ops::input` validates them.

use super::lock_flags::optional;
use crate::duration;
use crate::error::{Error, Result};
use crate::ops::input::{EndArgs, GetArgs, StartArgs, WindowArgs};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Record a running job and print its id
    #[command(
        after_help = "Example:\n  daplaya jobs start --jobname deploy-prod --user \"$GIT_COMMITTER_EMAIL\" --gitversion \"$GIT_SHA\""
    )]
    Start(StartFlags),
    /// Show the most recent job of a jobname at a version
    #[command(
        after_help = "Example:\n  daplaya jobs get --jobname deploy-prod --gitversion \"$GIT_SHA\" --json"
    )]
    Get(GetFlags),
    /// End the most recent running job of a version (also: jobs end version <VERSION>)
    #[command(
        after_help = "Example:\n  daplaya jobs end --gitversion \"$GIT_SHA\" --jobname deploy-prod --skipped"
    )]
    End(EndFlags),
    /// List jobs of a jobname that have not ended, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs active --jobname deploy-prod --ttl 1h")]
    Active(WindowFlags),
    /// List skipped jobs of a jobname, started within --ttl
    #[command(after_help = "Example:\n  daplaya jobs skipped --jobname deploy-prod --ttl 2h")]
    Skipped(WindowFlags),
}

#[derive(Debug, Default, Args)]
pub struct StartFlags {
    /// The job's name, e.g. deploy-prod
    #[arg(long)]
    pub jobname: String,
    /// Who runs the job [default: as for locks lock]
    #[arg(long)]
    pub user: Option<String>,
    /// The git version (commit) the job runs at
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args)]
pub struct GetFlags {
    /// The job's name, e.g. deploy-prod
    #[arg(long)]
    pub jobname: String,
    /// The git version (commit) to look up
    #[arg(long)]
    pub gitversion: String,
}

#[derive(Debug, Default, Args)]
pub struct EndFlags {
    /// The seeds' form: `version <VERSION>`
    #[arg(value_name = "version VERSION", num_args = 0..=2, hide = true)]
    pub words: Vec<String>,
    /// The git version (commit) whose most recent running job ends
    #[arg(long)]
    pub gitversion: Option<String>,
    /// Only a job of this name (needed when the version runs under several)
    #[arg(long)]
    pub jobname: Option<String>,
    /// Only a job started by this user
    #[arg(long)]
    pub user: Option<String>,
    /// Mark the job as skipped
    #[arg(long)]
    pub skipped: bool,
}

#[derive(Debug, Default, Args)]
pub struct WindowFlags {
    /// The job's name, e.g. deploy-prod
    #[arg(long)]
    pub jobname: String,
    /// How far back to look [default: 50m]
    #[arg(long, value_name = "DUR")]
    pub ttl: Option<String>,
}

impl From<&StartFlags> for StartArgs {
    fn from(flags: &StartFlags) -> Self {
        StartArgs {
            jobname: flags.jobname.clone(),
            user: flags.user.clone(),
            gitversion: flags.gitversion.clone(),
        }
    }
}

impl From<&GetFlags> for GetArgs {
    fn from(flags: &GetFlags) -> Self {
        GetArgs {
            jobname: flags.jobname.clone(),
            gitversion: flags.gitversion.clone(),
        }
    }
}

impl From<&EndFlags> for EndArgs {
    fn from(flags: &EndFlags) -> Self {
        EndArgs {
            words: flags.words.clone(),
            gitversion: flags.gitversion.clone(),
            jobname: flags.jobname.clone(),
            user: flags.user.clone(),
            skipped: flags.skipped,
        }
    }
}

impl TryFrom<&WindowFlags> for WindowArgs {
    type Error = Error;
    fn try_from(flags: &WindowFlags) -> Result<Self> {
        Ok(WindowArgs {
            jobname: flags.jobname.clone(),
            ttl: optional(&flags.ttl, |text| duration::parse_positive("--ttl", text))?,
        })
    }
}
