//! Which store to use, from flags, API options and the environment. Pure: the caller hands in a
//! lookup for environment variables, so every rule here is testable without touching the
//! process environment.

pub mod slack;

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LOCKS_TABLE: &str = "DaPlayaLocks";
pub const DEFAULT_JOBS_TABLE: &str = "DaPlayaRunningJobs";
pub const DEFAULT_HISTORY_TABLE: &str = "DaPlayaLockHistory";
pub const DEFAULT_HISTORY_DAYS: u64 = 90;
const HISTORY_DAYS_VAR: &str = "DAPLAYA_HISTORY_DAYS";
/// Ten years: longer than any history a deploy lock needs, far from overflowing epoch arithmetic.
const MAX_HISTORY_DAYS: u64 = 3_650;

/// How settings read the environment: a variable's value by name. Handed in rather than read
/// from the process, so every rule that reads the environment is testable with its own.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Settings that can come from a flag / API option, else from the environment.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StoreOptions {
    pub store: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub locks_table: Option<String>,
    pub jobs_table: Option<String>,
    pub history_table: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoSettings {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub locks_table: String,
    pub jobs_table: String,
    pub history_table: String,
    /// How long a hold stays in the history after it ended (DynamoDB TTL).
    pub history_retention: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `implicit`: nothing chose it; the user is told where the file is.
    Sqlite {
        path: PathBuf,
        implicit: bool,
        /// How long a hold stays in the history after it ended.
        history_retention: Duration,
    },
    Dynamo(DynamoSettings),
}

/// Environment variables whose presence means "this user has DynamoDB set up".
const AWS_SETTINGS: [&str; 4] = [
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "DAPLAYA_AWS_REGION",
    "DAPLAYA_DYNAMODB_ENDPOINT",
];

pub fn resolve(options: &StoreOptions, env: EnvLookup<'_>) -> Result<StoreChoice> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let pick = |option: &Option<String>, name: &str| {
        option
            .clone()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| var(name))
    };
    let history_retention = history_retention(var(HISTORY_DAYS_VAR))?;
    let dynamo = || {
        StoreChoice::Dynamo(DynamoSettings {
            region: pick(&options.region, "DAPLAYA_AWS_REGION"),
            endpoint: pick(&options.endpoint, "DAPLAYA_DYNAMODB_ENDPOINT"),
            locks_table: pick(&options.locks_table, "DAPLAYA_LOCKS_TABLE")
                .unwrap_or_else(|| DEFAULT_LOCKS_TABLE.into()),
            jobs_table: pick(&options.jobs_table, "DAPLAYA_JOBS_TABLE")
                .unwrap_or_else(|| DEFAULT_JOBS_TABLE.into()),
            history_table: pick(&options.history_table, "DAPLAYA_HISTORY_TABLE")
                .unwrap_or_else(|| DEFAULT_HISTORY_TABLE.into()),
            history_retention,
        })
    };
    if let Some(store) = pick(&options.store, "DAPLAYA_STORE") {
        let store = store.trim();
        if store == "dynamodb" {
            return Ok(dynamo());
        }
        if let Some(path) = store.strip_prefix("sqlite:") {
            if path.trim().is_empty() {
                return Err(Error::usage(
                    "store 'sqlite:' needs a path, as in sqlite:./locks.db",
                ));
            }
            return Ok(StoreChoice::Sqlite {
                path: PathBuf::from(path),
                implicit: false,
                history_retention,
            });
        }
        return Err(Error::usage_with_hint(
            format!("unknown store '{store}'"),
            "use --store dynamodb or --store sqlite:<path> (also DAPLAYA_STORE)",
        ));
    }
    if options.region.is_some()
        || options.endpoint.is_some()
        || AWS_SETTINGS.iter().any(|name| var(name).is_some())
    {
        return Ok(dynamo());
    }
    if var("CI").is_some_and(|ci| ci == "true" || ci == "1") {
        return Err(Error::Config(
            "CI=true and no store is configured: a lock that only this runner can see protects nothing. \
             Set AWS credentials (and DAPLAYA_AWS_REGION) or DAPLAYA_STORE=dynamodb for the shared store, \
             or DAPLAYA_STORE=sqlite:<path> to lock on this machine only"
                .into(),
        ));
    }
    Ok(StoreChoice::Sqlite {
        path: default_sqlite_path(env),
        implicit: true,
        history_retention,
    })
}

/// `DAPLAYA_HISTORY_DAYS`: whole days, 1 to ten years; 90 when unset.
fn history_retention(days: Option<String>) -> Result<Duration> {
    let days = match days {
        None => DEFAULT_HISTORY_DAYS,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|days| (1..=MAX_HISTORY_DAYS).contains(days))
            .ok_or_else(|| {
                Error::usage(format!(
                    "{HISTORY_DAYS_VAR} must be a whole number of days from 1 to {MAX_HISTORY_DAYS}, not '{text}'"
                ))
            })?,
    };
    Ok(Duration::from_secs(days * 86_400))
}

/// A per-user file: `$XDG_DATA_HOME/daplaya/daplaya.db` or the platform's data directory.
fn default_sqlite_path(env: EnvLookup<'_>) -> PathBuf {
    env("XDG_DATA_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("daplaya")
        .join("daplaya.db")
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(options: StoreOptions, vars: &[(&str, &str)]) -> Result<StoreChoice> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&options, &|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_configured_means_the_embedded_store() {
        let choice = resolve_with(StoreOptions::default(), &[("XDG_DATA_HOME", "/data")]).unwrap();
        assert_eq!(
            choice,
            StoreChoice::Sqlite {
                path: PathBuf::from("/data/daplaya/daplaya.db"),
                implicit: true,
                history_retention: Duration::from_secs(90 * 86_400),
            }
        );
    }

    #[test]
    fn any_aws_setting_means_dynamodb() {
        for name in AWS_SETTINGS {
            let choice = resolve_with(StoreOptions::default(), &[(name, "x")]).unwrap();
            assert!(matches!(choice, StoreChoice::Dynamo(_)), "{name}");
        }
    }

    #[test]
    fn an_explicit_store_wins() {
        let choice = resolve_with(
            StoreOptions::default(),
            &[("DAPLAYA_STORE", "sqlite:/tmp/x.db"), ("AWS_PROFILE", "p")],
        )
        .unwrap();
        assert!(matches!(
            choice,
            StoreChoice::Sqlite {
                implicit: false,
                ..
            }
        ));
        let choice = resolve_with(
            StoreOptions {
                store: Some("dynamodb".into()),
                ..Default::default()
            },
            &[
                ("DAPLAYA_STORE", "sqlite:/tmp/x.db"),
                ("DAPLAYA_LOCKS_TABLE", "L"),
            ],
        )
        .unwrap();
        let StoreChoice::Dynamo(settings) = choice else {
            panic!("dynamodb was asked for")
        };
        assert_eq!(settings.locks_table, "L");
        assert_eq!(settings.jobs_table, DEFAULT_JOBS_TABLE);
        assert_eq!(settings.history_table, DEFAULT_HISTORY_TABLE);
    }

    #[test]
    fn history_retention_comes_in_whole_days() {
        let retention = |days: &str| match resolve_with(
            StoreOptions::default(),
            &[("DAPLAYA_STORE", "dynamodb"), (HISTORY_DAYS_VAR, days)],
        )? {
            StoreChoice::Dynamo(settings) => Ok::<_, Error>(settings.history_retention),
            other => panic!("dynamodb was asked for, got {other:?}"),
        };
        assert_eq!(retention("7").unwrap(), Duration::from_secs(7 * 86_400));
        for bad in ["0", "-1", "1.5", "a week", "3651"] {
            assert_eq!(
                retention(bad).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{bad}"
            );
        }
    }

    #[test]
    fn ci_without_a_store_is_refused() {
        let err = resolve_with(StoreOptions::default(), &[("CI", "true")]).unwrap_err();
        assert_eq!(err.code(), "STORE_NOT_CONFIGURED");
        assert!(resolve_with(
            StoreOptions::default(),
            &[("CI", "true"), ("DAPLAYA_STORE", "sqlite:a.db")]
        )
        .is_ok());
    }

    #[test]
    fn unknown_and_empty_stores_are_usage_errors() {
        for bad in ["mysql", "sqlite:", "sqlite:  "] {
            let err = resolve_with(StoreOptions::default(), &[("DAPLAYA_STORE", bad)]).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT", "{bad}");
        }
    }
}
