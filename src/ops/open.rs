//! Choosing and opening the store an invocation's options and the environment point at. What
//! the user should be told about the choice is a [`Notice`] for the front door to show (or not).

use crate::config::{self, EnvLookup, StoreChoice, StoreOptions};
use crate::error::Result;
use crate::store::{self, Store};
use std::path::PathBuf;
use std::sync::Arc;

/// Something about the chosen store worth telling the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Nothing chose a store: locks live in this file, on this machine only.
    EmbeddedStore { path: PathBuf },
}

/// How long an opened store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// For this call only (one command line).
    Call,
    /// Kept for later calls with the same settings (a long-lived process: the Node API, a
    /// serverless Slack handler), so they reuse one DynamoDB client and its connection.
    Shared,
}

/// A store chosen, not yet opened: a bad setting fails here, before any request is read.
#[derive(Debug, Clone)]
pub struct ChosenStore(StoreChoice);

impl ChosenStore {
    pub fn choose(options: &StoreOptions, env: EnvLookup<'_>) -> Result<ChosenStore> {
        config::resolve(options, env).map(ChosenStore)
    }

    pub fn notice(&self) -> Option<Notice> {
        match &self.0 {
            StoreChoice::Sqlite {
                path,
                implicit: true,
                ..
            } => Some(Notice::EmbeddedStore { path: path.clone() }),
            _ => None,
        }
    }

    pub async fn open(&self, lifetime: Lifetime) -> Result<Arc<dyn Store>> {
        match lifetime {
            Lifetime::Call => Ok(Arc::from(store::open::open(&self.0).await?)),
            Lifetime::Shared => store::open::open_shared(&self.0).await,
        }
    }
}
