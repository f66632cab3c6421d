//! Job rules: a record per pipeline run of a job name at a git version.

use crate::error::{Error, Result};
use crate::model::{now_ms, Job};
use crate::store::{JobEnd, Store};
use std::collections::BTreeSet;
use std::time::Duration;

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(50 * 60);

pub async fn start(store: &dyn Store, jobname: &str, user: &str, version: &str) -> Result<Job> {
    let job = Job {
        id: uuid::Uuid::now_v7().to_string(),
        user: user.to_string(),
        jobname: jobname.to_string(),
        version: version.to_string(),
        started: now_ms(),
        ended: None,
        skipped: false,
    };
    store.insert_job(&job).await?;
    Ok(job)
}

/// The most recent job of a jobname at a version.
pub async fn get(store: &dyn Store, jobname: &str, version: &str) -> Result<Job> {
    store
        .jobs_for_version(version)
        .await?
        .into_iter()
        .find(|job| job.jobname == jobname)
        .ok_or_else(|| Error::NotFound(format!("no job {jobname} at version {version}")))
}

#[derive(Debug, Clone, Default)]
pub struct EndRequest {
    pub version: String,
    pub jobname: Option<String>,
    pub user: Option<String>,
    pub skipped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub job: Job,
    /// False when the job had ended already: nothing was changed.
    pub changed: bool,
}

/// Ends the most recent running job of a version (and jobname / user, when given).
pub async fn end(store: &dyn Store, request: &EndRequest) -> Result<Ended> {
    let matching: Vec<Job> = store
        .jobs_for_version(&request.version)
        .await?
        .into_iter()
        .filter(|job| {
            request
                .jobname
                .as_ref()
                .is_none_or(|name| &job.jobname == name)
        })
        .filter(|job| request.user.as_ref().is_none_or(|user| &job.user == user))
        .collect();
    let running: Vec<&Job> = matching.iter().filter(|job| job.ended.is_none()).collect();
    let jobnames: BTreeSet<&str> = running.iter().map(|job| job.jobname.as_str()).collect();
    if jobnames.len() > 1 {
        let names: Vec<&str> = jobnames.into_iter().collect();
        return Err(Error::Ambiguous(format!(
            "version {} is running as several jobs ({}); name one with --jobname",
            request.version,
            names.join(", ")
        )));
    }
    let Some(job) = running.first() else {
        return match matching.into_iter().next() {
            Some(job) => Ok(Ended {
                job,
                changed: false,
            }),
            None => Err(Error::NotFound(describe_missing(request))),
        };
    };
    let ended = now_ms();
    match store.end_job(job, ended, request.skipped).await? {
        JobEnd::Done => Ok(Ended {
            job: Job {
                ended: Some(ended),
                skipped: request.skipped,
                ..(*job).clone()
            },
            changed: true,
        }),
        JobEnd::AlreadyEnded(job) => Ok(Ended {
            job,
            changed: false,
        }),
    }
}

fn describe_missing(request: &EndRequest) -> String {
    let mut what = format!("no job at version {}", request.version);
    if let Some(name) = &request.jobname {
        what = format!("no job {name} at version {}", request.version);
    }
    if let Some(user) = &request.user {
        what.push_str(&format!(" started by {user}"));
    }
    what
}

/// The running and the skipped jobs of a jobname started within `window`, from one read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overview {
    pub active: Vec<Job>,
    pub skipped: Vec<Job>,
}

pub async fn overview(store: &dyn Store, jobname: &str, window: Duration) -> Result<Overview> {
    let jobs = recent(store, jobname, window).await?;
    Ok(Overview {
        active: jobs
            .iter()
            .filter(|job| job.ended.is_none())
            .cloned()
            .collect(),
        skipped: jobs.into_iter().filter(|job| job.skipped).collect(),
    })
}

/// Jobs of a jobname that have not ended, started within `window`.
pub async fn active(store: &dyn Store, jobname: &str, window: Duration) -> Result<Vec<Job>> {
    Ok(overview(store, jobname, window).await?.active)
}

/// Jobs of a jobname marked skipped, started within `window`.
pub async fn skipped(store: &dyn Store, jobname: &str, window: Duration) -> Result<Vec<Job>> {
    Ok(overview(store, jobname, window).await?.skipped)
}

async fn recent(store: &dyn Store, jobname: &str, window: Duration) -> Result<Vec<Job>> {
    let since = now_ms() - window.as_millis() as i64;
    store.recent_jobs(jobname, since).await
}
