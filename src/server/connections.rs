//! The accept loop of `serve`: hyper's HTTP/1 connections, with the limits that keep slow and
//! hostile clients from holding the server (docs/serve.md, Limits). A client gets
//! [`HEADER_READ_TIMEOUT`] to send a request's headers, counted from when the connection opens
//! or its previous answer went out, so a silent, trickling or idle kept-alive connection is
//! closed then; headers past [`MAX_HEADER_BYTES`] are answered `431`; and at most
//! [`MAX_CONNECTIONS`] are open at once (more wait, unaccepted, until one closes).

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request's headers, and how long a kept-alive connection
/// may stay idle: nginx's `client_header_timeout` and Go's `ReadHeaderTimeout` are of this order.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request line and headers read (browsers send a few KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Connections open at once (nginx's default per worker), live-update streams included.
pub const MAX_CONNECTIONS: usize = 512;
/// After an accept error that is not about one connection (out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `stop` fires, then lets open connections finish (the
/// caller bounds how long).
pub(super) async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = stop.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !is_about_one_connection(&error) {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that went away or timed out is nobody's error.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
