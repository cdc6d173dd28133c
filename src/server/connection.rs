//! One client connection, for either front door (the native protocol or
//! Kafka's, see [`FrontDoor`]). The reader task reads one frame at a time,
//! within the frame limit and the in-flight byte budgets of the connection
//! and the core, and hands it to the front door: anything that must keep
//! request order (queuing appends) happens before the next frame is read.
//! The response futures go, in order, to the writer task, which writes
//! each response as it completes: responses keep request order, and
//! requests pipeline.
//!
//! A frame too large to read closes this connection only (the native door
//! answers it first); a frame that is read but does not decode gets an
//! error response where the protocol has one, and the connection stays
//! usable.

use std::future::Future;
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};

use super::stream::SharedStream;
use crate::config::{RESPONSES_QUEUED_MAX, RESPONSE_COALESCE_BYTES_MAX};
use crate::protocol::frame::LENGTH_BYTES;
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

/// How one protocol frames requests and answers them on a connection.
pub trait FrontDoor: 'static {
    /// The bytes of the whole frame (length prefix included) that this
    /// prefix announces, or `Err(length)` when it passes `frame_bytes_max`.
    fn frame_len(prefix: [u8; LENGTH_BYTES], frame_bytes_max: u32) -> Result<usize, u64>;

    /// What to send, if anything, before closing a connection whose frame
    /// of `length` bytes passed the limit (the door logs why).
    fn refuse_too_large(shard: &Shard, length: u64, frame_bytes_max: u32) -> Option<BytesMut>;

    /// Handles one whole frame, length prefix included.
    fn handle(shard: &Rc<Shard>, frame: BytesMut) -> impl Future<Output = Handled>;
}

/// What a front door made of one frame.
pub enum Handled {
    /// A response to write once its future completes (or, with `write`
    /// false, to wait for without writing: Kafka's acks=0).
    Respond(Response),
    /// The frame could not be answered in this protocol: close the
    /// connection (the door logged why).
    Close,
}

/// A response on its way, with what the writer counts about it.
pub struct Response {
    pub future: LocalFuture<BytesMut>,
    pub write: bool,
    /// The API for metrics (the native API key numbering).
    pub api_key: u16,
    /// A fetch's reservation of the core's budget for its response.
    pub response_budget: Option<StaticPermit>,
    /// The error code a response carries at its top level, for metrics.
    pub error_of: ErrorOf,
}

/// Reads the top-level error code of a response, for metrics.
pub type ErrorOf = fn(&[u8]) -> u16;

/// What a request in flight holds until its response is written: a queue
/// slot, and its bytes of the connection's and the core's budgets.
struct Permits {
    _slot: StaticPermit,
    _connection_bytes: StaticPermit,
    _core_bytes: StaticPermit,
}

/// A response on its way to the writer, with the budget it holds.
struct Outgoing {
    response: LocalFuture<BytesMut>,
    /// False: wait for the response (holding the budget) but write nothing.
    write: bool,
    /// Released once the response is written.
    _permits: Option<Permits>,
    /// A fetch's reservation of the core's budget for its response,
    /// released once the response is written.
    _response_budget: Option<StaticPermit>,
    /// Close the connection after writing this one.
    close_after: bool,
    /// The request's API key, when its frame was read, and how to read the
    /// response's error code, for metrics.
    request: Option<(u16, Instant, ErrorOf)>,
}

pub async fn serve_connection<D: FrontDoor>(shard: Rc<Shard>, stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let stream = SharedStream::new(stream.buffered());
    // Unbounded in type, bounded by the queue-slot permits: a bounded
    // channel would allocate all RESPONSES_QUEUED_MAX slots for every
    // connection up front (27 KiB each, idle or not).
    let (queue, queued) = local_channel::new_unbounded::<Outgoing>();
    // Reader and writer are two futures of this one task, not two tasks: a
    // detached task that awaits a task of its own is never freed by glommio
    // 0.9 (DataDog/glommio#636), which leaked every connection's memory.
    let reader = {
        let (shard, stream) = (shard.clone(), stream.clone());
        async move {
            read_requests::<D>(&shard, stream, &queue).await;
            // `queue` drops here: the writer ends after the last response.
        }
    };
    future::zip(reader, write_responses(&shard, stream.clone(), queued)).await;
    let mut stream = stream;
    let _ = stream.close().await;
}

/// Writes each response, in request order, as it completes; responses
/// that are ready together (pipelined requests answered in one round) go
/// out in one send of up to [`RESPONSE_COALESCE_BYTES_MAX`] bytes, rather
/// than one send each; a response that is alone is sent without a copy.
async fn write_responses(
    shard: &Shard,
    mut stream: SharedStream,
    queued: local_channel::LocalReceiver<Outgoing>,
) {
    let mut coalesced = Coalesced::default();
    // What the coalesced bytes answer: their budgets stay held until sent.
    let mut answered: Vec<Outgoing> = Vec::new();
    // A response taken from the queue but not ready yet.
    let mut waiting: Option<Outgoing> = None;
    loop {
        let mut out = match waiting.take() {
            Some(out) => out,
            None if coalesced.is_empty() => {
                // Everything answered is sent: release its budgets before
                // waiting.
                answered.clear();
                match queued.recv().await {
                    Some(out) => out,
                    None => return,
                }
            }
            // Something to send: take another response only if one is there.
            None => match future::poll_once(queued.recv()).await {
                Some(Some(out)) => out,
                Some(None) | None => {
                    if !send(&mut stream, &mut coalesced, &mut answered).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let bytes = if coalesced.is_empty() {
            (&mut out.response).await
        } else {
            match future::poll_once(&mut out.response).await {
                Some(bytes) => bytes,
                None => {
                    // Not ready: send what is, then wait for it.
                    waiting = Some(out);
                    if !send(&mut stream, &mut coalesced, &mut answered).await {
                        return;
                    }
                    continue;
                }
            }
        };
        if let Some((api_key, read_at, error_of)) = out.request {
            let error = error_of(&bytes);
            let sent = if out.write { bytes.len() } else { 0 };
            let mut metrics = shard.metrics.borrow_mut();
            metrics.on_response(api_key, read_at, Instant::now(), sent, error);
        }
        let close_after = out.close_after;
        if out.write {
            coalesced.push(bytes);
        }
        answered.push(out);
        if (close_after || coalesced.len() >= RESPONSE_COALESCE_BYTES_MAX)
            && !send(&mut stream, &mut coalesced, &mut answered).await
        {
            return;
        }
        if close_after {
            return;
        }
    }
}

/// Responses waiting to go out in one send. A lone response is kept as
/// it is and written without a copy; once a second one comes, both (and
/// any after them) are copied into one buffer.
#[derive(Default)]
struct Coalesced {
    first: Option<BytesMut>,
    joined: BytesMut,
}

impl Coalesced {
    fn is_empty(&self) -> bool {
        self.first.is_none() && self.joined.is_empty()
    }

    fn len(&self) -> usize {
        self.first.as_ref().map_or(0, BytesMut::len) + self.joined.len()
    }

    fn push(&mut self, bytes: BytesMut) {
        if self.is_empty() {
            self.first = Some(bytes);
            return;
        }
        if let Some(first) = self.first.take() {
            self.joined.extend_from_slice(&first);
        }
        self.joined.extend_from_slice(&bytes);
    }

    /// What to write, and then forget.
    fn bytes(&self) -> &[u8] {
        self.first.as_deref().unwrap_or(&self.joined)
    }

    fn clear(&mut self) {
        self.first = None;
        self.joined.clear();
    }
}

/// Sends the coalesced responses and releases what they held; false if
/// the connection failed.
async fn send(
    stream: &mut SharedStream,
    coalesced: &mut Coalesced,
    answered: &mut Vec<Outgoing>,
) -> bool {
    if !coalesced.is_empty() {
        if let Err(e) = stream.write_all(coalesced.bytes()).await {
            tracing::debug!(error = %e, "connection write failed");
            return false;
        }
        coalesced.clear();
    }
    answered.clear();
    true
}

async fn read_requests<D: FrontDoor>(
    shard: &Rc<Shard>,
    mut stream: SharedStream,
    queue: &local_channel::LocalSender<Outgoing>,
) {
    let budgets = ConnectionBudgets {
        slots: Rc::new(Semaphore::new(RESPONSES_QUEUED_MAX as u64)),
        bytes: Rc::new(Semaphore::new(
            shard.config.inflight_bytes_per_connection as u64,
        )),
    };
    let frame_bytes_max = shard.config.frame_bytes_max;
    // One shutdown waiter for the whole connection, not one per read.
    let mut shutdown = shard.shutdown.wait();
    loop {
        let mut prefix = [0u8; LENGTH_BYTES];
        let read = future::or(
            async { Some(stream.read_exact(&mut prefix).await) },
            async {
                (&mut shutdown).await;
                None
            },
        )
        .await;
        match read {
            None | Some(Err(_)) => return,
            Some(Ok(())) => {}
        }
        let frame_len = match D::frame_len(prefix, frame_bytes_max) {
            Ok(len) => len,
            Err(length) => {
                if let Some(refusal) = D::refuse_too_large(shard, length, frame_bytes_max) {
                    let _ = queue
                        .send(Outgoing {
                            response: Box::pin(future::ready(refusal)),
                            write: true,
                            _permits: None,
                            _response_budget: None,
                            close_after: true,
                            request: None,
                        })
                        .await;
                }
                return;
            }
        };
        let permits = match acquire(shard, &budgets, frame_len).await {
            Some(permits) => permits,
            None => return,
        };
        let mut frame = BytesMut::zeroed(frame_len);
        frame[..LENGTH_BYTES].copy_from_slice(&prefix);
        if stream.read_exact(&mut frame[LENGTH_BYTES..]).await.is_err() {
            // Truncated, then closed: nothing to answer.
            return;
        }
        let read_at = Instant::now();
        shard.metrics.borrow_mut().on_request_read(frame_len);
        let response = match D::handle(shard, frame).await {
            Handled::Respond(response) => response,
            Handled::Close => return,
        };
        let out = Outgoing {
            response: response.future,
            write: response.write,
            _permits: Some(permits),
            _response_budget: response.response_budget,
            close_after: false,
            request: Some((response.api_key, read_at, response.error_of)),
        };
        if queue.send(out).await.is_err() {
            return;
        }
    }
}

/// One connection's limits on what it has in flight.
struct ConnectionBudgets {
    /// Requests whose responses are not written yet.
    slots: Rc<Semaphore>,
    /// Their bytes.
    bytes: Rc<Semaphore>,
}

/// Takes a queue slot and `bytes` of this connection's and this core's
/// in-flight budgets, waiting while they are spent; `None` if a semaphore
/// was closed.
async fn acquire(shard: &Rc<Shard>, budgets: &ConnectionBudgets, bytes: usize) -> Option<Permits> {
    let slot = budgets.slots.acquire_static_permit(1).await.ok()?;
    let connection = budgets
        .bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    let core = shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    Some(Permits {
        _slot: slot,
        _connection_bytes: connection,
        _core_bytes: core,
    })
}
