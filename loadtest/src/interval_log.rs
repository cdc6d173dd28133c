//! Latency over time as an HdrHistogram interval log (`.hlog`): one
//! compressed histogram per second of the measured window, in the format
//! Java HdrHistogram's `HistogramLogWriter` writes and
//! `HistogramLogProcessor` reads. Written and parsed by the hdrhistogram
//! crate's `interval_log` (V2 deflate serializer), never by hand.
//!
//! Each interval is serialized as soon as it ends, so a long run keeps a
//! few kilobytes per second, not a histogram per second.
//!
//! Timestamps: `StartTime` and `BaseTime` are the start of the measurement
//! window (wall clock); each interval's timestamp is seconds since then.
//! Values are microseconds, and so is the `Interval_Max` column (a
//! builder with a max-value divisor writes its header line again before
//! every interval); `HistogramLogProcessor -outputValueUnitRatio 1000`
//! prints them in milliseconds, as the `.hgrm` files are.

use std::io;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// The header line Java's `HistogramLogWriter` writes (as a comment).
const FORMAT_VERSION_COMMENT: &str = "[Histogram log format version 1.3]";
/// The column legend Java's `HistogramLogWriter` writes after the header.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// The intervals of one latency distribution, serialized as they end.
pub struct IntervalLog {
    /// The interval lines, without the header.
    lines: Vec<u8>,
    serializer: V2DeflateSerializer,
    intervals: usize,
    total_count: u64,
}

impl Default for IntervalLog {
    fn default() -> Self {
        IntervalLog::new()
    }
}

impl IntervalLog {
    pub fn new() -> IntervalLog {
        IntervalLog {
            lines: Vec::new(),
            serializer: V2DeflateSerializer::new(),
            intervals: 0,
            total_count: 0,
        }
    }

    /// Appends the interval that started `start` after the measurement
    /// start and lasted `duration`.
    pub fn push(
        &mut self,
        histogram: &Histogram<u64>,
        start: Duration,
        duration: Duration,
    ) -> Result<(), String> {
        // A builder with no headers writes nothing but the interval.
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.lines, &mut self.serializer)
            .map_err(|e| format!("writing the interval log: {e}"))?;
        writer
            .write_histogram(histogram, start, duration, None)
            .map_err(|e| format!("writing the interval log: {e}"))?;
        self.intervals += 1;
        self.total_count += histogram.len();
        Ok(())
    }

    pub fn intervals(&self) -> usize {
        self.intervals
    }

    /// Values recorded in all the intervals.
    pub fn total_count(&self) -> u64 {
        self.total_count
    }

    /// The whole file: Java's header (comments, `StartTime`, `BaseTime`,
    /// the legend), then the intervals.
    pub fn to_bytes(
        &self,
        measurement_start: SystemTime,
        comments: &[&str],
    ) -> io::Result<Vec<u8>> {
        let mut file = Vec::with_capacity(self.lines.len() + 512);
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut builder = IntervalLogWriterBuilder::new();
            for comment in comments {
                builder.add_comment(comment);
            }
            builder
                .add_comment(FORMAT_VERSION_COMMENT)
                .with_start_time(measurement_start)
                .with_base_time(measurement_start)
                .begin_log_with(&mut file, &mut serializer)?;
        }
        file.extend_from_slice(LEGEND.as_bytes());
        file.extend_from_slice(&self.lines);
        Ok(file)
    }
}

/// One interval read back from a `.hlog`.
#[derive(Debug)]
pub struct ReadInterval {
    /// Seconds since `BaseTime` (the measurement start).
    pub start: Duration,
    pub duration: Duration,
    pub histogram: Histogram<u64>,
}

/// What a `.hlog` holds: its `StartTime` and its intervals, decoded.
#[derive(Debug)]
pub struct ReadLog {
    pub start_time: Option<Duration>,
    pub intervals: Vec<ReadInterval>,
}

/// Parses a `.hlog` with the crate's `IntervalLogIterator`.
pub fn read_interval_log(bytes: &[u8]) -> Result<ReadLog, String> {
    let mut log = ReadLog {
        start_time: None,
        intervals: Vec::new(),
    };
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        match entry.map_err(|e| format!("not an interval log: {e:?}"))? {
            LogEntry::StartTime(start) => log.start_time = Some(start),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(interval) => {
                let compressed = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .map_err(|e| format!("an interval is not base64: {e}"))?;
                let histogram = deserializer
                    .deserialize(&mut compressed.as_slice())
                    .map_err(|e| format!("an interval's histogram does not decode: {e:?}"))?;
                log.intervals.push(ReadInterval {
                    start: interval.start_timestamp(),
                    duration: interval.duration(),
                    histogram,
                });
            }
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::latency_histogram;

    #[test]
    fn intervals_read_back_with_the_crates_iterator() {
        let mut log = IntervalLog::new();
        let mut seconds = Vec::new();
        for second in 0..3u64 {
            let mut histogram = latency_histogram();
            for us in 1..=(100 * (second + 1)) {
                histogram.record(us * 37).unwrap();
            }
            log.push(
                &histogram,
                Duration::from_secs(second),
                Duration::from_millis(1_000 + second),
            )
            .unwrap();
            seconds.push(histogram);
        }
        // A second in which nothing was acknowledged is an interval too.
        log.push(
            &latency_histogram(),
            Duration::from_secs(3),
            Duration::from_millis(400),
        )
        .unwrap();
        assert_eq!((log.intervals(), log.total_count()), (4, 600));

        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_079_451_250);
        let bytes = log
            .to_bytes(start, &["shardlog-loadtest produce ack"])
            .unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#shardlog-loadtest produce ack");
        assert_eq!(lines[1], "#[Histogram log format version 1.3]");
        assert_eq!(
            lines[2],
            "#[StartTime: 1796079451.250 (seconds since epoch)]"
        );
        assert!(lines.contains(&LEGEND.trim_end()), "{text}");
        // Header lines once, then nothing but intervals.
        assert_eq!(lines.iter().filter(|l| l.starts_with('#')).count(), 4);
        assert_eq!(lines.len(), 4 + 1 + 4, "{text}");
        assert!(
            lines.iter().any(|l| l.starts_with("1.000,1.001,")),
            "{text}"
        );

        let read = read_interval_log(&bytes).unwrap();
        assert_eq!(
            read.start_time,
            Some(Duration::from_millis(1_796_079_451_250))
        );
        assert_eq!(read.intervals.len(), 4);
        for (read, written) in read.intervals.iter().zip(&seconds) {
            assert_eq!(read.histogram, *written);
        }
        assert_eq!(read.intervals[2].start, Duration::from_secs(2));
        assert_eq!(read.intervals[2].duration, Duration::from_millis(1_002));
        assert!(read.intervals[3].histogram.is_empty());
    }

    #[test]
    fn garbage_is_not_an_interval_log() {
        assert!(read_interval_log(b"1.0,1.0,2.0,!!!notbase64\n").is_err());
        assert!(read_interval_log(b"what is this\n").is_err());
    }
}
