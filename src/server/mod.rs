//! daplaya's HTTP server (axum on the addon's Tokio runtime), started by `daplaya slack serve`:
//! Slack's slash-command POSTs on `/slack/commands`, and `GET /healthz`. It stops gracefully
//! when its cancellation token fires. It prints nothing: the caller shows its [`ServerEvent`]s.

pub mod access;
pub mod board;
pub mod page;
mod slack_commands;

use crate::error::{Error, Result};
use crate::ops::report::Serving;
use crate::ops::ServeRequest;
use crate::slack::Settings;
use crate::store::Store;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const COMMANDS_PATH: &str = "/slack/commands";
pub const HEALTH_PATH: &str = "/healthz";

/// After a stop is asked for, connections still open this much later are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Log lines waiting for the console; more are dropped rather than held in memory.
const LOG_BACKLOG: usize = 1_024;

pub(crate) struct App {
    settings: Settings,
    store: Arc<dyn Store>,
    log: mpsc::Sender<String>,
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(COMMANDS_PATH, post(slack_commands::slash_command))
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .with_state(app)
}

pub(crate) fn respond(status: u16, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// What the server has to say, for the front door that started it to show.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// Bound and answering.
    Listening(&'a Serving),
    /// One line for the operator's log (a request answered or refused).
    Log(&'a str),
}

/// Runs the server until `cancel` fires.
pub async fn run(
    request: &ServeRequest,
    settings: Settings,
    store: Arc<dyn Store>,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(ServerEvent<'_>) + Send),
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((request.host.as_str(), request.port))
        .await
        .map_err(|source| Error::Listen {
            address: format!("{}:{}", request.host, request.port),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| Error::Server {
        context: "cannot read the listening address",
        source,
    })?;
    events(ServerEvent::Listening(&Serving {
        url: format!("http://{address}{COMMANDS_PATH}"),
        host: address.ip().to_string(),
        port: address.port(),
        store: store.describe(),
    }));
    let (log, mut lines) = mpsc::channel(LOG_BACKLOG);
    let app = Arc::new(App {
        settings,
        store,
        log,
    });
    let server = axum::serve(listener, router(app))
        .with_graceful_shutdown(cancel.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    let grace = async {
        cancel.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::pin!(grace);
    let result = loop {
        tokio::select! {
            result = &mut server => break result,
            Some(line) = lines.recv() => events(ServerEvent::Log(&line)),
            () = &mut grace => break Ok(()),
        }
    };
    while let Ok(line) = lines.try_recv() {
        events(ServerEvent::Log(&line));
    }
    result.map_err(|source| Error::Server {
        context: "the Slack server failed",
        source,
    })
}
