//! InitProducerId: an idempotent producer's id and epoch
//! (src/shard/producer_ids.rs hands them out, on this core). A request
//! carrying a valid id and epoch gets the same id with the next epoch
//! (KIP-360); one with a transactional id is refused, as transactions are
//! not served. Needs no other core: the sequence checks run on each
//! partition's owner, keyed by the id.

use std::rc::Rc;

use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::door::Answer;
use crate::shard::Shard;
use crate::storage::log::now_ms;

pub fn init_producer_id(shard: &Rc<Shard>, request: InitProducerIdRequest) -> Answer {
    let response = InitProducerIdResponse::default();
    if request.transactional_id.is_some() {
        return Answer::now(ResponseKind::InitProducerId(
            response
                .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ));
    }
    let now = now_ms();
    let (id, epoch) = if request.producer_id.0 >= 0 {
        shard
            .producer_ids
            .bump(request.producer_id.0, request.producer_epoch, now)
    } else {
        (shard.producer_ids.next(now), 0)
    };
    Answer::now(ResponseKind::InitProducerId(
        response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
    ))
}
