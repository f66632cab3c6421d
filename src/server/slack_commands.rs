//! `POST /slack/commands`: reads the (small) body within a time limit, and hands the headers
//! and body to `slack::handle`, which verifies and answers them.

use super::{http_response, App};
use crate::model::now_ms;
use crate::slack::{handle, Incoming, Rejection, MAX_BODY_BYTES};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

/// A client gets this long to send its (small) body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);

fn refuse(app: &App, rejection: Rejection) -> Response {
    let _ = app.log.try_send(format!(
        "slack: refused a request ({}): {}",
        rejection.status(),
        rejection.reason()
    ));
    let response = rejection.response();
    http_response(response.status, response.content_type, response.body)
}

pub(super) async fn slash_command(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return refuse(&app, Rejection::TooLarge);
    }
    let bytes = match tokio::time::timeout(
        BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        // Over the limit (or the client went away mid-body: nobody reads this answer).
        Ok(Err(_)) => return refuse(&app, Rejection::TooLarge),
        Err(_) => return http_response(408, "text/plain; charset=utf-8", "request timeout".into()),
    };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let incoming = Incoming {
        timestamp: text("x-slack-request-timestamp"),
        signature: text("x-slack-signature"),
        body: &bytes,
    };
    // The route exists only when the server has a signing secret.
    let Some(settings) = &app.slack else {
        return http_response(404, "text/plain; charset=utf-8", "not found".into());
    };
    let store = Arc::clone(&app.store);
    let (response, log) = handle(
        settings,
        incoming,
        now_ms() / 1000,
        || async move { Ok(store) },
    )
    .await;
    let _ = app.log.try_send(log);
    http_response(response.status, response.content_type, response.body)
}
