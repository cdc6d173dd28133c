//! Native error codes as Kafka's, with Kafka's meaning: what a Kafka
//! client retries (storage full, shutting down) maps to a retriable Kafka
//! error, the rest to the non-retriable code a Kafka broker would send.

use kafka_protocol::ResponseError;

use crate::error::ErrorCode;

/// The Kafka error code for a native one.
pub fn kafka_code(code: ErrorCode) -> i16 {
    let error = match code {
        ErrorCode::None => return 0,
        ErrorCode::UnknownTopic | ErrorCode::UnknownPartition => {
            ResponseError::UnknownTopicOrPartition
        }
        ErrorCode::OffsetOutOfRange => ResponseError::OffsetOutOfRange,
        ErrorCode::CorruptBatch => ResponseError::CorruptMessage,
        ErrorCode::BatchTooLarge | ErrorCode::FrameTooLarge => ResponseError::MessageTooLarge,
        ErrorCode::InvalidTopicName => ResponseError::InvalidTopicException,
        ErrorCode::TopicAlreadyExists => ResponseError::TopicAlreadyExists,
        ErrorCode::InvalidTopicConfig => ResponseError::InvalidConfig,
        // Retriable in both protocols: space may be freed, the partition
        // reopened by a restart.
        ErrorCode::StorageFull | ErrorCode::PartitionFailed => ResponseError::KafkaStorageError,
        // Retriable: the client refreshes its metadata and finds the
        // restarted broker.
        ErrorCode::ShuttingDown => ResponseError::NotLeaderOrFollower,
        ErrorCode::UnknownApiKey | ErrorCode::UnsupportedVersion => {
            ResponseError::UnsupportedVersion
        }
        ErrorCode::MalformedRequest | ErrorCode::RequestTooLarge => ResponseError::InvalidRequest,
        ErrorCode::CorruptData | ErrorCode::Internal | ErrorCode::TooManyConnections => {
            ResponseError::UnknownServerError
        }
        ErrorCode::InvalidGroupId => ResponseError::InvalidGroupId,
        ErrorCode::UnknownMemberId => ResponseError::UnknownMemberId,
        ErrorCode::IllegalGeneration => ResponseError::IllegalGeneration,
        ErrorCode::RebalanceInProgress => ResponseError::RebalanceInProgress,
        ErrorCode::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
        ErrorCode::GroupNotEmpty => ResponseError::NonEmptyGroup,
        ErrorCode::InconsistentGroupStrategy => ResponseError::InconsistentGroupProtocol,
        ErrorCode::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge,
        ErrorCode::GroupFull => ResponseError::GroupMaxSizeReached,
        ErrorCode::TooManyGroups => ResponseError::CoordinatorNotAvailable,
        ErrorCode::OutOfOrderSequence => ResponseError::OutOfOrderSequenceNumber,
        ErrorCode::ProducerFenced => ResponseError::InvalidProducerEpoch,
    };
    error.code()
}

/// The Kafka error code for a native code as it came off the wire.
pub fn kafka_code_of(code: u16) -> i16 {
    ErrorCode::from_u16(code).map_or(ResponseError::UnknownServerError.code(), kafka_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_native_errors_stay_retriable_in_kafka() {
        for code in ErrorCode::ALL {
            if code == ErrorCode::None {
                assert_eq!(kafka_code(code), 0);
                continue;
            }
            let kafka = ResponseError::try_from_code(kafka_code(code)).unwrap();
            if code.is_retriable() {
                assert!(kafka.is_retriable(), "{code:?} became {kafka:?}");
            }
        }
    }

    #[test]
    fn the_data_path_errors_are_kafkas() {
        assert_eq!(kafka_code(ErrorCode::UnknownTopic), 3);
        assert_eq!(kafka_code(ErrorCode::OffsetOutOfRange), 1);
        assert_eq!(kafka_code(ErrorCode::CorruptBatch), 2);
        assert_eq!(kafka_code(ErrorCode::BatchTooLarge), 10);
        assert_eq!(kafka_code(ErrorCode::TopicAlreadyExists), 36);
        assert_eq!(kafka_code_of(9999), -1);
    }
}
