//! Accept loops: one per listener (the shared port and this core's own
//! port). Past `connections_max` over the whole broker, a new connection
//! gets a `TooManyConnections` error frame and is closed.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_lite::{future, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use super::connection::serve_connection;
use crate::config::ACCEPT_RETRY_MS;
use crate::error::ErrorCode;
use crate::protocol::frame::error_response;
use crate::shard::Shard;

pub async fn accept_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shard.shutdown.wait().await;
            None
        })
        .await;
        let stream = match accepted {
            None => return,
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                tracing::warn!(core = shard.id, error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                continue;
            }
        };
        let open = shard.connections.fetch_add(1, Ordering::Relaxed);
        let accepted = open < shard.config.connections_max;
        shard.metrics.borrow_mut().on_connection(accepted);
        if !accepted {
            shard.connections.fetch_sub(1, Ordering::Relaxed);
            glommio::spawn_local(refuse(stream, shard.config.connections_max)).detach();
            continue;
        }
        shard
            .local_connections
            .set(shard.local_connections.get() + 1);
        let shard = shard.clone();
        glommio::spawn_local(async move {
            serve_connection(shard.clone(), stream).await;
            shard
                .local_connections
                .set(shard.local_connections.get() - 1);
            shard.connections.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

async fn refuse(mut stream: TcpStream, limit: usize) {
    let message = format!("the broker serves at most {limit} connections");
    let frame = error_response(0, ErrorCode::TooManyConnections, &message);
    if let Err(e) = stream.write_all(&frame).await {
        tracing::debug!(error = %e, "refusing a connection");
    }
    let _ = stream.close().await;
}
