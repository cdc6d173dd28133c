//! The metrics endpoint: a small HTTP/1.1 server on core 0 that answers
//! `GET /metrics` with every core's and partition's metrics in the
//! Prometheus text format. One request per connection (the response says
//! `Connection: close`); request heads are parsed with `httparse` and
//! bounded in size and time.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::config::{
    ACCEPT_RETRY_MS, METRICS_HEADERS_MAX, METRICS_IO_TIMEOUT_MS, METRICS_REQUEST_BYTES_MAX,
};
use crate::metrics::exposition::{render, BrokerSnapshot, CONTENT_TYPE};
use crate::metrics::process::ProcessSnapshot;
use crate::shard::Shard;
use crate::storage::io::free_bytes_of;

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: String,
    /// `Allow` header, for 405.
    allow: Option<&'static str>,
}

impl Reply {
    fn text(status: &'static str, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            allow: None,
        }
    }
}

pub async fn serve_metrics(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shard.shutdown.wait().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                glommio::spawn_local(answer(shard.clone(), stream)).detach();
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                glommio::timer::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
            }
        }
    }
}

async fn answer(shard: Rc<Shard>, mut stream: TcpStream) {
    let timeout = Some(Duration::from_millis(METRICS_IO_TIMEOUT_MS));
    if let Err(e) = stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
    {
        tracing::debug!(error = %e, "metrics endpoint: setting timeouts");
        return;
    }
    let reply = match read_head(&mut stream).await {
        Ok(Some(head)) => route(&shard, &head).await,
        Ok(None) => return,
        Err(reply) => reply,
    };
    let mut head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    if let Some(allow) = reply.allow {
        head.push_str(&format!("Allow: {allow}\r\n"));
    }
    head.push_str("\r\n");
    let written = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(reply.body.as_bytes()).await?;
        stream.close().await
    };
    if let Err(e) = written.await {
        tracing::debug!(error = %e, "metrics endpoint: writing a response");
    }
}

/// What the server needs of a request.
struct Head {
    method: String,
    path: String,
}

/// Reads until a whole request head is parsed. `Ok(None)`: the peer went
/// away (or timed out) before sending one; `Err`: answer with this.
async fn read_head(stream: &mut TcpStream) -> Result<Option<Head>, Reply> {
    let mut buf = vec![0u8; METRICS_REQUEST_BYTES_MAX];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Err(Reply::text(
                "431 Request Header Fields Too Large",
                format!("request heads are limited to {METRICS_REQUEST_BYTES_MAX} bytes\n"),
            ));
        }
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => n,
        };
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; METRICS_HEADERS_MAX];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[..filled]) {
            Ok(httparse::Status::Complete(_)) => {
                return Ok(Some(Head {
                    method: request.method.unwrap_or_default().to_string(),
                    path: request.path.unwrap_or_default().to_string(),
                }))
            }
            Ok(httparse::Status::Partial) => continue,
            Err(e) => {
                return Err(Reply::text(
                    "400 Bad Request",
                    format!("malformed HTTP request: {e}\n"),
                ))
            }
        }
    }
}

async fn route(shard: &Rc<Shard>, head: &Head) -> Reply {
    // Query strings are accepted and ignored, as Prometheus may send some.
    let path = head.path.split('?').next().unwrap_or_default();
    if path != METRICS_PATH {
        return Reply::text(
            "404 Not Found",
            format!("shardlog serves metrics at {METRICS_PATH}\n"),
        );
    }
    if head.method != "GET" {
        return Reply {
            allow: Some("GET"),
            ..Reply::text("405 Method Not Allowed", "use GET\n")
        };
    }
    let snapshots = shard.gather_metrics(true).await;
    Reply {
        status: "200 OK",
        content_type: CONTENT_TYPE,
        body: render(&snapshots, &broker_snapshot(shard)),
        allow: None,
    }
}

/// The process's figures and the data file system's free space. Blocking
/// reads of `/proc` and one statvfs, none of them disk I/O, once per
/// scrape on core 0; a failure leaves the figure out of the scrape and is
/// logged, never an error of the scrape.
fn broker_snapshot(shard: &Shard) -> BrokerSnapshot {
    let process = ProcessSnapshot::read()
        .inspect_err(|e| tracing::debug!(error = %e, "metrics: /proc/self unreadable"))
        .ok();
    let data_dir = &shard.config.data_dir;
    let data_fs_free_bytes = free_bytes_of(data_dir)
        .inspect_err(
            |e| tracing::warn!(error = %e, dir = %data_dir.display(), "metrics: statvfs failed"),
        )
        .ok();
    BrokerSnapshot {
        process,
        data_fs_free_bytes,
        min_free_bytes: shard.config.log.min_free_bytes,
    }
}
