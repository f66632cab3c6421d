//! `daplaya serve` (and its alias `slack serve`): one HTTP server (axum on the addon's Tokio
//! runtime) for the live page, its JSON, metrics, and Slack's slash-command POSTs. It stops
//! gracefully when the CLI's cancellation token fires (the JS shim cancels it on SIGINT /
//! SIGTERM). Nothing it serves changes a lock except a signed Slack command. It prints
//! nothing: the caller shows its [`ServerEvent`]s.

pub mod access;
pub mod connections;
mod dashboard;
pub mod metrics;
pub mod page;
mod slack_commands;

use crate::error::{Error, Result};
use crate::ops::report::Serving;
use crate::ops::{self, ServeRequest};
use crate::slack::Settings;
use crate::store::Store;
use access::Token;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const COMMANDS_PATH: &str = "/slack/commands";
pub const HEALTH_PATH: &str = "/healthz";
/// The live-update stream: its duration is a connection's life, not an answer time.
const EVENTS_PATH: &str = "/events";

/// After a stop is asked for, connections still open this much later are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Log lines waiting for the console; more are dropped rather than held in memory.
const LOG_BACKLOG: usize = 1_024;

/// What the server needs from the environment of whoever starts it.
pub struct Config {
    /// Slack commands are answered only with a signing secret.
    pub slack: Option<Settings>,
    pub token: Option<Token>,
}

impl Config {
    /// The Slack signing secret (which `slack serve` insists on) and the dashboard token.
    pub fn from_env(
        request: &ServeRequest,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Config> {
        let slack = match Settings::from_env(env) {
            Ok(settings) => Some(settings),
            Err(error) if request.slack_required => return Err(error),
            Err(_) => None,
        };
        Ok(Config {
            slack,
            token: Token::from_env(env(access::TOKEN_VAR)),
        })
    }
}

/// What the server has to say, for the front door that started it to show.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// Bound and answering.
    Listening(&'a Serving),
    /// One line for the operator's log (a request answered or refused).
    Log(&'a str),
}

pub(crate) struct App {
    slack: Option<Settings>,
    store: Arc<dyn Store>,
    log: mpsc::Sender<String>,
    token: Option<Token>,
    /// Jobnames from `--jobname`, shown on every page.
    jobnames: Vec<String>,
    metrics: Metrics,
    /// Fires when the server stops, ending the live-update streams.
    stopping: CancellationToken,
}

fn router(app: Arc<App>) -> Router {
    let guarded = Router::new()
        .route("/", get(dashboard::page))
        .route("/assets/page.css", get(dashboard::stylesheet))
        .route("/assets/page.js", get(dashboard::script))
        .route(EVENTS_PATH, get(dashboard::events))
        .route("/api/locks", get(dashboard::locks))
        .route("/api/jobs", get(dashboard::jobs))
        .route("/metrics", get(dashboard::metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), guard));
    let mut open = Router::new().route(HEALTH_PATH, get(|| async { "ok" }));
    if app.slack.is_some() {
        open = open.route(COMMANDS_PATH, post(slack_commands::slash_command));
    }
    guarded
        .merge(open)
        .layer(middleware::from_fn_with_state(app.clone(), timed))
        .with_state(app)
}

/// An HTTP response of `status` with `body` of `content_type`.
pub(crate) fn http_response(status: u16, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The token rule (access.rs) in front of every route but `/healthz` and `/slack/commands`.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if app.token.is_none() && !access::host_is_local(text(header::HOST)) {
        let _ = app.log.try_send(format!(
            "serve: refused {} (403): its Host is not this machine's (localhost or a loopback address), as a page that rebinds its own name to 127.0.0.1 would send; set {} to serve other names",
            logged(&request),
            access::TOKEN_VAR
        ));
        return http_response(403, "text/plain; charset=utf-8", "forbidden".into());
    }
    let query_token = dashboard::params(request.uri(), "token").into_iter().next();
    let credentials = access::Credentials {
        authorization: text(header::AUTHORIZATION),
        query: query_token.as_deref(),
        cookie: text(header::COOKIE),
    };
    match access::check(app.token.as_ref(), &credentials) {
        access::Access::Granted => next.run(request).await,
        access::Access::GrantedRemember => {
            let cookie = app.token.as_ref().map(Token::cookie);
            // The page drops the token from its address (history, screenshots, shared links).
            let mut response = if request.uri().path() == "/" {
                let rest = request.uri().query().map(without_token).unwrap_or_default();
                let location = if rest.is_empty() {
                    ".".to_string()
                } else {
                    format!(".?{rest}")
                };
                (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
            } else {
                next.run(request).await
            };
            if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        access::Access::Denied => {
            let _ = app.log.try_send(format!(
                "serve: refused {} (401): wrong or missing {}",
                logged(&request),
                access::TOKEN_VAR
            ));
            let challenge = [(header::WWW_AUTHENTICATE, "Bearer realm=\"daplaya\"")];
            if request.uri().path() == "/" {
                let body = page::unauthorized().into_string();
                let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
                (StatusCode::UNAUTHORIZED, challenge, html, body).into_response()
            } else {
                (StatusCode::UNAUTHORIZED, challenge, "unauthorized").into_response()
            }
        }
    }
}

fn without_token(query: &str) -> String {
    let kept = form_urlencoded::parse(query.as_bytes()).filter(|(name, _)| name != "token");
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
}

/// Records how long each answer took, by method, route and status.
async fn timed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map(MatchedPath::as_str);
    if route != Some(EVENTS_PATH) {
        app.metrics.observe_request(
            &method,
            route,
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    response
}

/// A request as the log names it: a method outside the known ones is `other`, and the path is
/// cut short, so a client cannot write much into the operator's log.
fn logged(request: &Request) -> String {
    const MAX_LOGGED_PATH: usize = 200;
    let path = request.uri().path();
    let cut = path
        .char_indices()
        .nth(MAX_LOGGED_PATH)
        .map_or(path, |(at, _)| &path[..at]);
    let more = if cut.len() < path.len() { "..." } else { "" };
    format!("{} {cut}{more}", metrics::method_label(request.method()))
}

/// A listening socket the access rule allows.
pub struct Bound {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
}

/// Binds where the request says, refusing (before anything is served or any store opened) a
/// non-loopback address without a dashboard token.
pub async fn bind(request: &ServeRequest, config: &Config) -> Result<Bound> {
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
    access::may_listen(address.ip(), config.token.as_ref())?;
    Ok(Bound { listener, address })
}

/// Runs the server until `cancel` fires.
pub async fn run(
    bound: Bound,
    request: &ServeRequest,
    config: Config,
    store: Arc<dyn Store>,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(ServerEvent<'_>) + Send),
) -> Result<()> {
    let Bound { listener, address } = bound;
    let page_url = format!("http://{address}/");
    let slack_url = config
        .slack
        .as_ref()
        .map(|_| format!("http://{address}{COMMANDS_PATH}"));
    events(ServerEvent::Listening(&Serving {
        url: match (&slack_url, request.slack_required) {
            (Some(slack_url), true) => slack_url.clone(),
            _ => page_url.clone(),
        },
        page_url,
        slack_url,
        host: address.ip().to_string(),
        port: address.port(),
        store: ops::describe(store.as_ref()),
    }));
    let (log, mut lines) = mpsc::channel(LOG_BACKLOG);
    let app = Arc::new(App {
        slack: config.slack,
        store,
        log,
        token: config.token,
        jobnames: request.jobnames.clone(),
        metrics: Metrics::default(),
        stopping: cancel.child_token(),
    });
    let server = connections::serve(listener, router(app), cancel.clone());
    tokio::pin!(server);
    let grace = async {
        cancel.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::pin!(grace);
    loop {
        tokio::select! {
            () = &mut server => break,
            Some(line) = lines.recv() => events(ServerEvent::Log(&line)),
            () = &mut grace => break,
        }
    }
    while let Ok(line) = lines.try_recv() {
        events(ServerEvent::Log(&line));
    }
    Ok(())
}
