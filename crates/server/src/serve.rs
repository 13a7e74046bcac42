//! Accepting connections and serving HTTP/1.1 on them, within [`Limits`]: at most
//! `connections_max` connections at once (the rest wait in the listen backlog), each closed
//! when it takes longer than `header_read_timeout` to send a request's head (also when it sits
//! idle that long between requests). Bodies are read within `body_read_timeout` by
//! [`read_body`]. `axum::serve` offers none of these bounds, so this is its loop with them.

use crate::error::ApiError;
use crate::limits::{Limits, REQUEST_BYTES_MAX};
use axum::body::{Body, Bytes};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

/// How long a stopping server waits for requests in flight (long polls end sooner: they are
/// dropped with their connection).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `stop` fires, then waits up to [`SHUTDOWN_GRACE`] for
/// the connections' requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    connections_max: usize,
    tls: Option<crate::tls::Acceptor>,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(connections_max));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            _ = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // the listener itself is fine.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        match &tls {
            None => {
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let (acceptor, http, watcher) =
                    (acceptor.clone(), http.clone(), graceful.watcher());
                let handshake_timeout = limits.header_read_timeout;
                tokio::spawn(async move {
                    // A handshake that does not finish in time costs only its connection.
                    let accepted = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                    if let Ok(Ok(stream)) = accepted.await {
                        let connection = http.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(connection).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Reads a request body of at most [`REQUEST_BYTES_MAX`] bytes within `timeout`.
pub async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, REQUEST_BYTES_MAX)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::request_too_large(REQUEST_BYTES_MAX)),
        Err(_) => Err(ApiError::request_timeout(timeout)),
    }
}
