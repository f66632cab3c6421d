//! Every number a store row carries is checked as it is read, by both stores alike: a row is
//! written by many machines (and can be edited by hand), and a value no daplaya write makes
//! (a negative token, a stamp thousands of years out, a count past what JavaScript shows
//! exactly) must stop the reader with one clear error naming the env, never reach a decision
//! or wedge the env on the next write.

use crate::error::{Error, Result};
use crate::model::{MAX_COUNT, MAX_STAMP};

/// The row being read, for the error.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// `lock row`, `hold`.
    pub kind: &'static str,
    pub env: &'a str,
    /// Where it lives: `table DaPlayaLocks`, `the embedded store /path`.
    pub place: &'a str,
}

impl<'a> Row<'a> {
    /// A lock row of `env`, found in `place`.
    pub fn lock(env: &'a str, place: &'a str) -> Row<'a> {
        Row {
            kind: "lock row",
            env,
            place,
        }
    }

    /// A hold of `env`, found in `place`.
    pub fn hold(env: &'a str, place: &'a str) -> Row<'a> {
        Row {
            kind: "hold",
            env,
            place,
        }
    }

    pub fn invalid(&self, detail: String) -> Error {
        Error::InvalidRow {
            row: self.kind,
            env: self.env.to_string(),
            place: self.place.to_string(),
            detail,
        }
    }

    /// A time in epoch milliseconds: 0 to the year 2286.
    pub fn stamp(&self, attribute: &str, value: i128) -> Result<i64> {
        self.ranged(attribute, value, MAX_STAMP as i128)
            .map(|value| value as i64)
    }

    pub fn optional_stamp(&self, attribute: &str, value: Option<i128>) -> Result<Option<i64>> {
        value.map(|value| self.stamp(attribute, value)).transpose()
    }

    /// A token, a revision, a count or a ticket: 0 to 2^53 - 1.
    pub fn count(&self, attribute: &str, value: i128) -> Result<u64> {
        self.ranged(attribute, value, MAX_COUNT as i128)
            .map(|value| value as u64)
    }

    fn ranged(&self, attribute: &str, value: i128, max: i128) -> Result<i128> {
        if (0..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.invalid(format!("{attribute} is {value}, not 0 to {max}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_name_the_env_and_the_value() {
        let row = Row {
            kind: "lock row",
            env: "production",
            place: "table Locks",
        };
        assert_eq!(
            row.stamp("createdAt", 1_700_000_000_000).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            row.count("fencingToken", MAX_COUNT as i128).unwrap(),
            MAX_COUNT
        );
        let error = row.count("fencingToken", -1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the lock row of env production in table Locks is invalid: fencingToken is -1, not 0 to 9007199254740991"
        );
        assert_eq!((error.exit_code(), error.code()), (1, "INVALID_ROW"));
        assert!(row.count("revision", u64::MAX as i128).is_err());
        assert!(row.stamp("expiresAt", MAX_STAMP as i128 + 1).is_err());
        assert_eq!(row.optional_stamp("expiresAt", None).unwrap(), None);
    }
}
