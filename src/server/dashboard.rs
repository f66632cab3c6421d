//! The read-only routes: the page and its assets, its live updates, `/api/*` and `/metrics`.
//! Each reads the store and hands the result to a renderer (page.rs, ops' JSON, metrics.rs).

use super::{page, App};
use crate::error::{Error, Result};
use crate::jobs;
use crate::model;
use crate::ops::board::{self, Board, EnvCard, EnvState};
use crate::ops::report::error_document;
use crate::ops::{self, Report};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often a page's live update reads the store.
pub const LIVE_REFRESH: Duration = Duration::from_secs(2);
/// At most this many jobnames per request: each is one store read per refresh.
const MAX_JOBNAMES: usize = 20;

/// The page may load only its own stylesheet and script and talk only to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// An error as the CLI's `--json` error document, with the HTTP status its kind deserves.
fn json_error(app: &App, error: &Error) -> Response {
    let status = match error.exit_code() {
        crate::error::exit::USAGE => StatusCode::BAD_REQUEST,
        crate::error::exit::NOT_FOUND => StatusCode::NOT_FOUND,
        _ => {
            app.metrics.store_error();
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    json_response(status, error_document(error))
}

/// The query parameters named `name`, in order (`?jobname=a&jobname=b`).
pub(super) fn params(uri: &Uri, name: &str) -> Vec<String> {
    uri.query()
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `--jobname`s, then those of `?jobname=`, each once.
fn jobnames(app: &App, uri: &Uri) -> Result<Vec<String>> {
    let mut names = app.jobnames.clone();
    for name in params(uri, "jobname") {
        let name = model::job_name(&name)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.len() > MAX_JOBNAMES {
        return Err(Error::usage(format!(
            "at most {MAX_JOBNAMES} jobnames on one page"
        )));
    }
    Ok(names)
}

/// Hands the metrics the envs the page lists, each with whether it is held now.
fn observe_cards(app: &App, cards: &[EnvCard]) {
    app.metrics.observe_locks(
        cards
            .iter()
            .map(|card| (&card.lock, card.state == EnvState::Held)),
    );
}

async fn read_board(app: &App, jobnames: &[String]) -> Result<Board> {
    match board::read(app.store.as_ref(), jobnames).await {
        Ok(board) => {
            observe_cards(app, &board.envs);
            Ok(board)
        }
        Err(error) => {
            app.metrics.store_error();
            Err(error)
        }
    }
}

pub(super) async fn page(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let board = match jobnames(&app, &uri) {
        Ok(names) => read_board(&app, &names).await,
        Err(error) => Err(error),
    };
    match board {
        Ok(board) => html(
            StatusCode::OK,
            page::render(&board, &ops::describe(app.store.as_ref())),
        ),
        Err(error) => {
            let status = if error.exit_code() == crate::error::exit::USAGE {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            html(status, page::problem(&error.to_string()).into_string())
        }
    }
}

pub(super) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", page::STYLESHEET)
}

pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", page::SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Server-sent events: `board` (the page's changing part, when it changed; the event id is
/// the read time) or `checked` (the read time, when nothing changed), every [`LIVE_REFRESH`];
/// `failed` when the store could not be read. The stream ends when the server stops.
pub(super) async fn events(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let names = match jobnames(&app, &uri) {
        Ok(names) => names,
        Err(error) => return json_error(&app, &error),
    };
    let stream = live(app, names);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn live(
    app: Arc<App>,
    names: Vec<String>,
) -> impl Stream<Item = std::result::Result<Event, Infallible>> {
    struct Live {
        app: Arc<App>,
        names: Vec<String>,
        last: Option<String>,
        first: bool,
    }
    let start = Live {
        app,
        names,
        last: None,
        first: true,
    };
    futures_util::stream::unfold(start, |mut live| async move {
        if !live.first {
            tokio::select! {
                () = tokio::time::sleep(LIVE_REFRESH) => {}
                () = live.app.stopping.cancelled() => return None,
            }
        }
        live.first = false;
        let event = match read_board(&live.app, &live.names).await {
            Ok(board) => {
                let fragment = page::fragment(&board).into_string();
                if live.last.as_ref() == Some(&fragment) {
                    Event::default()
                        .event("checked")
                        .data(board.read_at.to_string())
                } else {
                    live.last = Some(fragment.clone());
                    Event::default()
                        .event("board")
                        .id(board.read_at.to_string())
                        .data(fragment)
                }
            }
            Err(error) => Event::default().event("failed").data(error.to_string()),
        };
        Some((Ok(event), live))
    })
}

/// The same document as `locks list --json` (`?env=` as `--env`): ops' locks report.
pub(super) async fn locks(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let input = ops::input::ListArgs {
        env: params(&uri, "env").into_iter().next(),
    };
    let action = match input.action() {
        Ok(action) => action,
        Err(error) => return json_error(&app, &error),
    };
    let mut no_wait = |_: &crate::locks::WaitProgress| {};
    match ops::perform(action, app.store.as_ref(), None, &mut no_wait).await {
        Ok(report) => {
            if let Report::Locks { locks, .. } = &report {
                // `locks list` judges `active` by the rules: held now.
                app.metrics
                    .observe_locks(locks.iter().map(|lock| (lock, lock.active)));
            }
            json_response(StatusCode::OK, report.to_json())
        }
        Err(error) => json_error(&app, &error),
    }
}

/// `{"jobname", "active": [...], "skipped": [...]}`: the jobs `jobs active` and `jobs skipped`
/// list, from one read.
pub(super) async fn jobs(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let jobname = match params(&uri, "jobname").first() {
        Some(name) => model::job_name(name),
        None => Err(Error::usage(
            "jobname is required: /api/jobs?jobname=<JOBNAME>",
        )),
    };
    let jobname = match jobname {
        Ok(name) => name,
        Err(error) => return json_error(&app, &error),
    };
    match jobs::overview(app.store.as_ref(), &jobname, jobs::DEFAULT_WINDOW).await {
        Ok(overview) => json_response(
            StatusCode::OK,
            json!({ "jobname": jobname, "active": overview.active, "skipped": overview.skipped }),
        ),
        Err(error) => json_error(&app, &error),
    }
}

/// The metrics of the envs the page lists (held, and released within a day), read from the
/// store at each scrape: every env on the page has its acquisitions counter, whichever client
/// took its locks and whatever this server saw before.
pub(super) async fn metrics(State(app): State<Arc<App>>) -> Response {
    match board::envs(app.store.as_ref()).await {
        Ok(cards) => observe_cards(&app, &cards),
        // The scrape still answers: the error counter is what shows the problem.
        Err(_) => app.metrics.store_error(),
    }
    (
        [(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)],
        app.metrics.encode(),
    )
        .into_response()
}
