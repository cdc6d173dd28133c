//! Accept loops: one per listener (the shared port, this core's own port,
//! its Kafka port). Past `connections_max` over the whole broker, a new
//! connection is closed (a native one gets a `TooManyConnections` error
//! frame first; Kafka has no frame for it).

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_lite::{future, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use super::connection::serve_connection;
use super::native::NativeDoor;
use crate::config::ACCEPT_RETRY_MS;
use crate::error::ErrorCode;
use crate::kafka::KafkaDoor;
use crate::protocol::frame::error_response;
use crate::shard::Shard;

/// Which protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Native,
    Kafka,
}

pub async fn accept_loop(shard: Rc<Shard>, listener: TcpListener, front: Front) {
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
            glommio::spawn_local(refuse(stream, shard.config.connections_max, front)).detach();
            continue;
        }
        shard
            .local_connections
            .set(shard.local_connections.get() + 1);
        let shard = shard.clone();
        glommio::spawn_local(async move {
            match front {
                Front::Native => serve_connection::<NativeDoor>(shard.clone(), stream).await,
                Front::Kafka => serve_connection::<KafkaDoor>(shard.clone(), stream).await,
            }
            shard
                .local_connections
                .set(shard.local_connections.get() - 1);
            shard.connections.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

async fn refuse(mut stream: TcpStream, limit: usize, front: Front) {
    if front == Front::Kafka {
        tracing::debug!(limit, "refusing a Kafka connection past connections_max");
        let _ = stream.close().await;
        return;
    }
    let message = format!("the broker serves at most {limit} connections");
    let frame = error_response(0, ErrorCode::TooManyConnections, &message);
    if let Err(e) = stream.write_all(&frame).await {
        tracing::debug!(error = %e, "refusing a connection");
    }
    let _ = stream.close().await;
}
