//! daplaya's HTTP server (axum on the addon's Tokio runtime), started by `daplaya slack serve`:
//! Slack's slash-command POSTs on `/slack/commands`, and `GET /healthz`. It stops gracefully when the
//! CLI's cancellation token fires (the JS shim cancels it on SIGINT / SIGTERM) and exits 0.

mod slack_commands;

use crate::cli::args::{Cli, ServeArgs};
use crate::cli::console::Console;
use crate::error::{Error, Result};
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

/// Runs the server until `cancel` fires. Refuses to start without a signing secret.
pub async fn run(
    args: &ServeArgs,
    cli: &Cli,
    console: &mut Console,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    cancel: &CancellationToken,
) -> Result<()> {
    let settings = Settings::from_env(env)?;
    let store: Arc<dyn Store> = Arc::from(crate::cli::open_store(cli, console, env).await?);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| {
            Error::usage_with_hint(
                format!("cannot listen on {}:{}: {e}", args.host, args.port),
                "choose another --host or --port (--port 0 picks a free one)",
            )
        })?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Store(format!("cannot read the listening address: {e}")))?;
    let url = format!("http://{address}{COMMANDS_PATH}");
    if cli.json {
        console.out(
            &serde_json::json!({
                "url": url,
                "host": address.ip().to_string(),
                "port": address.port(),
                "store": store.describe(),
            })
            .to_string(),
        );
    } else {
        console.out(&format!(
            "daplaya: answering Slack commands at {url} (store: {}); stop with Ctrl-C",
            store.describe()
        ));
    }
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
            Some(line) = lines.recv() => console.err(&line),
            () = &mut grace => break Ok(()),
        }
    };
    while let Ok(line) = lines.try_recv() {
        console.err(&line);
    }
    result.map_err(|e| Error::Store(format!("the Slack server failed: {e}")))?;
    console.err("daplaya: Slack server stopped");
    Ok(())
}
