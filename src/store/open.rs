//! Which store serves a choice: the embedded file or DynamoDB, opened for one call or kept for
//! the life of the process.

use super::{dynamo, sqlite, Store};
use crate::config::{DynamoSettings, StoreChoice};
use crate::error::Result;
use std::sync::{Arc, Mutex};

/// Opens the chosen store (creating the embedded file when needed).
pub async fn open(choice: &StoreChoice) -> Result<Box<dyn Store>> {
    Ok(match choice {
        StoreChoice::Sqlite {
            path,
            history_retention,
            ..
        } => Box::new(
            sqlite::SqliteStore::open(path)
                .await?
                .with_history_retention(*history_retention),
        ),
        StoreChoice::Dynamo(settings) => Box::new(dynamo::DynamoStore::connect(settings).await?),
    })
}

/// Like [`open`], but a DynamoDB store is kept for the life of the process and handed to later
/// calls with the same settings and the same `AWS_*` environment. For callers on one long-lived
/// runtime (the Node addon's): each JS API call would otherwise build a client and open a new
/// connection (on real DynamoDB a TLS handshake, and a credentials lookup) for a request or two.
pub async fn open_shared(choice: &StoreChoice) -> Result<Arc<dyn Store>> {
    let StoreChoice::Dynamo(settings) = choice else {
        return Ok(Arc::from(open(choice).await?));
    };
    let key = (
        settings.clone(),
        std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .collect::<Vec<_>>(),
    );
    let cached = |stores: &Vec<(SharedKey, Arc<dyn Store>)>| {
        stores
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, store)| store.clone())
    };
    if let Some(store) = cached(&SHARED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(store);
    }
    let store: Arc<dyn Store> = Arc::new(dynamo::DynamoStore::connect(settings).await?);
    let mut stores = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = cached(&stores) {
        return Ok(store);
    }
    if stores.len() >= SHARED_LIMIT {
        stores.remove(0);
    }
    stores.push((key, store.clone()));
    Ok(store)
}

type SharedKey = (DynamoSettings, Vec<(String, String)>);
const SHARED_LIMIT: usize = 8;
static SHARED: Mutex<Vec<(SharedKey, Arc<dyn Store>)>> = Mutex::new(Vec::new());
