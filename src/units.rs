//! Durations and sizes as people write them (`30s`, `2m`, `500ms`, `7d`;
//! `64KiB`, `1GiB`), the one parser for the broker's flags, `SHARDLOG_*`
//! environment variables and TOML file, and for the harness's tools.
//!
//! A plain number keeps the unit its setting always had: `60000` for a
//! `..._ms` setting is milliseconds, `30` for `--duration` is seconds, `65536`
//! for a `..._bytes` setting is bytes. Units only add ways to say a value:
//! `30s` for a `..._ms` setting is 30 000, `64KiB` for a `..._bytes` setting
//! is 65 536.
//!
//! Durations are parsed by `humantime`, sizes by `bytesize`. What either
//! would read in a way a reader may not expect is refused: single-letter
//! size units (`64k`, `1m`: SI or binary? minutes?), `M` in a duration
//! (months in humantime, minutes to most readers), a value that does not
//! fit its setting, a fraction of the setting's unit.
//!
//! The functions return `String` errors that say what was wrong with the
//! value; clap and the TOML reader put the flag, variable or key in front.

use std::time::Duration;

/// What a plain number means for a duration setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainUnit {
    Milliseconds,
    Seconds,
}

/// The examples an error message offers.
const DURATION_EXAMPLES: &str = "e.g. 500ms, 30s, 2m, 1h, 7d";
const SIZE_EXAMPLES: &str = "e.g. 4096, 64KiB, 8MiB, 1GiB";

/// A duration: a plain (possibly fractional) number in `plain` units, or
/// a humantime duration (`30s`, `1h 30m`, `1.5h`).
pub fn parse_duration(text: &str, plain: PlainUnit) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("empty duration ({DURATION_EXAMPLES})"));
    }
    if let Ok(number) = trimmed.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return Err(format!(
                "{trimmed:?} is not a duration ({DURATION_EXAMPLES})"
            ));
        }
        let seconds = match plain {
            PlainUnit::Milliseconds => number / 1_000.0,
            PlainUnit::Seconds => number,
        };
        return Duration::try_from_secs_f64(seconds)
            .map_err(|e| format!("{trimmed:?} is out of range: {e}"));
    }
    let mut unit_words = trimmed
        .split(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
        .filter(|word| !word.is_empty());
    if unit_words.any(|word| ["M", "month", "months", "y", "year", "years"].contains(&word)) {
        return Err(format!(
            "{trimmed:?}: months and years have no fixed length; write minutes as m, \
             days as d ({DURATION_EXAMPLES})"
        ));
    }
    humantime::parse_duration(trimmed)
        .map_err(|e| format!("{trimmed:?} is not a duration: {e} ({DURATION_EXAMPLES})"))
}

/// A duration in whole milliseconds: `60000` or `60s` or `1m` is 60 000.
pub fn parse_milliseconds(text: &str) -> Result<u64, String> {
    // A whole number is taken as it is, exactly, beyond f64's 53 bits.
    if let Ok(milliseconds) = text.trim().parse::<u64>() {
        return Ok(milliseconds);
    }
    let duration = parse_duration(text, PlainUnit::Milliseconds)?;
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "{:?} is not a whole number of milliseconds",
            text.trim()
        ));
    }
    u64::try_from(duration.as_millis())
        .map_err(|_| format!("{:?} is too long for milliseconds in 64 bits", text.trim()))
}

/// A duration in seconds, fractions allowed: `30`, `0.5`, `30s`, `2m`.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    parse_duration(text, PlainUnit::Seconds).map(|d| d.as_secs_f64())
}

/// A size in bytes: `65536`, `64KiB`, `64KB` (64 000), `1.5GiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if let Ok(bytes) = trimmed.parse::<u64>() {
        return Ok(bytes);
    }
    let number_len = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_len);
    let unit = unit.trim();
    if number.is_empty() {
        return Err(format!("{trimmed:?} is not a size ({SIZE_EXAMPLES})"));
    }
    if unit.len() == 1 && "kmgtpe".contains(unit.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{trimmed:?} is ambiguous: write {number}{}iB (powers of 1024) or {number}{}B \
             (powers of 1000)",
            unit.to_ascii_uppercase(),
            unit.to_ascii_uppercase()
        ));
    }
    // Bytes in one `unit`, by bytesize's own reading of it.
    let factor = unit
        .parse::<bytesize::Unit>()
        .ok()
        .and_then(|_| format!("1{unit}").parse::<bytesize::ByteSize>().ok())
        .map(|one| one.as_u64())
        .ok_or_else(|| format!("{trimmed:?}: unknown size unit {unit:?} ({SIZE_EXAMPLES})"))?;
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{trimmed:?} is not a size ({SIZE_EXAMPLES})"))?;
    let bytes = value * factor as f64;
    if bytes.fract() != 0.0 {
        return Err(format!("{trimmed:?} is not a whole number of bytes"));
    }
    if bytes >= u64::MAX as f64 {
        return Err(format!("{trimmed:?} is too large for 64 bits"));
    }
    // Whole numbers are multiplied exactly, beyond f64's 53 bits.
    match number.parse::<u64>() {
        Ok(whole) => whole
            .checked_mul(factor)
            .ok_or_else(|| format!("{trimmed:?} is too large for 64 bits")),
        Err(_) => Ok(bytes as u64),
    }
}

/// A size that must fit `T` (`u32`, `usize`, `u64`).
pub fn parse_bytes_as<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let bytes = parse_bytes(text)?;
    T::try_from(bytes).map_err(|_| {
        format!(
            "{:?} ({bytes} bytes) is larger than this setting allows ({} bytes at most)",
            text.trim(),
            max_of::<T>()
        )
    })
}

/// The largest u64 that converts into `T`.
fn max_of<T: TryFrom<u64>>() -> u64 {
    [
        u64::MAX,
        usize::MAX as u64,
        u64::from(u32::MAX),
        u64::from(u16::MAX),
    ]
    .into_iter()
    .find(|&max| T::try_from(max).is_ok())
    .unwrap_or(0)
}

/// clap value parsers: `#[arg(value_parser = units::bytes_u32)]`.
pub fn bytes_u32(text: &str) -> Result<u32, String> {
    parse_bytes_as(text)
}
pub fn bytes_u64(text: &str) -> Result<u64, String> {
    parse_bytes_as(text)
}
pub fn bytes_usize(text: &str) -> Result<usize, String> {
    parse_bytes_as(text)
}
pub fn milliseconds(text: &str) -> Result<u64, String> {
    parse_milliseconds(text)
}
pub fn seconds(text: &str) -> Result<f64, String> {
    parse_seconds(text)
}
/// A [`Duration`]; a plain number is seconds.
pub fn duration_plain_seconds(text: &str) -> Result<Duration, String> {
    parse_duration(text, PlainUnit::Seconds)
}

/// serde `deserialize_with` functions for TOML (and JSON) settings that
/// take either a number (in the setting's own unit) or a string with a
/// unit: `segment_bytes = 1073741824` or `segment_bytes = "1GiB"`.
pub mod de {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserializer, Visitor};

    /// A number or a string, handed to `parse`.
    struct NumberOrText<T> {
        parse: fn(&str) -> Result<T, String>,
        expecting: &'static str,
        _target: PhantomData<T>,
    }

    impl<T> Visitor<'_> for NumberOrText<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            (self.parse)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            if v < 0 {
                return Err(E::custom(format!("{v} is negative")));
            }
            (self.parse)(&v.to_string()).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            (self.parse)(&v.to_string()).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }

    fn number_or_text<'de, D: Deserializer<'de>, T>(
        deserializer: D,
        parse: fn(&str) -> Result<T, String>,
        expecting: &'static str,
    ) -> Result<T, D::Error> {
        deserializer.deserialize_any(NumberOrText {
            parse,
            expecting,
            _target: PhantomData,
        })
    }

    const SIZE: &str = "a size: a number of bytes or a string such as \"64KiB\"";
    const MILLISECONDS: &str = "a duration: a number of milliseconds or a string such as \"30s\"";
    const SECONDS: &str = "a duration: a number of seconds or a string such as \"30s\"";

    pub fn option_bytes_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        number_or_text(d, super::bytes_u32, SIZE).map(Some)
    }
    pub fn option_bytes_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        number_or_text(d, super::bytes_u64, SIZE).map(Some)
    }
    pub fn option_bytes_usize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        number_or_text(d, super::bytes_usize, SIZE).map(Some)
    }
    pub fn option_milliseconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        number_or_text(d, super::milliseconds, MILLISECONDS).map(Some)
    }
    pub fn bytes_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        number_or_text(d, super::bytes_u32, SIZE)
    }
    pub fn bytes_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        number_or_text(d, super::bytes_usize, SIZE)
    }
    pub fn milliseconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        number_or_text(d, super::milliseconds, MILLISECONDS)
    }
    pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        number_or_text(d, super::seconds, SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_keep_their_unit() {
        assert_eq!(parse_milliseconds("60000"), Ok(60_000));
        assert_eq!(parse_milliseconds(&u64::MAX.to_string()), Ok(u64::MAX));
        assert_eq!(parse_seconds("30"), Ok(30.0));
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        assert_eq!(parse_bytes("65536"), Ok(65_536));
        assert_eq!(parse_bytes(" 7 "), Ok(7));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_milliseconds("30s"), Ok(30_000));
        assert_eq!(parse_milliseconds("500ms"), Ok(500));
        assert_eq!(parse_milliseconds("2m"), Ok(120_000));
        assert_eq!(parse_milliseconds("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_milliseconds("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_seconds("1.5h"), Ok(5_400.0));
        assert_eq!(parse_seconds("2days"), Ok(172_800.0));
        assert_eq!(parse_seconds("1 day"), Ok(86_400.0));
        assert_eq!(parse_seconds("250ms"), Ok(0.25));
        assert_eq!(duration_plain_seconds("90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("64 KiB"), Ok(65_536));
        assert_eq!(parse_bytes("64KB"), Ok(64_000));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1_536));
        assert_eq!(parse_bytes("8mib"), Ok(8 << 20));
        assert_eq!(parse_bytes("100B"), Ok(100));
        assert_eq!(parse_bytes("15EiB"), Ok(15 << 60));
    }

    #[test]
    fn ambiguous_and_malformed_values_are_refused() {
        let ambiguous = parse_bytes("64k").unwrap_err();
        assert!(ambiguous.contains("ambiguous"), "{ambiguous}");
        assert!(ambiguous.contains("64KiB"), "{ambiguous}");
        assert!(parse_bytes("1m").is_err());
        assert!(parse_bytes("KiB").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("12 apples").is_err());
        assert!(parse_bytes("0.3B").is_err(), "a fraction of a byte");
        assert!(parse_milliseconds("1M").unwrap_err().contains("months"));
        assert!(parse_milliseconds("1y").is_err());
        assert!(parse_milliseconds("2 years").is_err());
        assert!(parse_milliseconds("1d 1M").is_err());
        assert!(parse_milliseconds("").is_err());
        assert!(parse_milliseconds("-5").is_err());
        assert!(parse_milliseconds("5 parsecs").is_err());
        assert!(parse_milliseconds("1500us")
            .unwrap_err()
            .contains("whole number of milliseconds"));
        assert!(parse_seconds("nan").is_err());
    }

    #[test]
    fn values_out_of_range_are_refused() {
        assert!(parse_bytes("16EiB").unwrap_err().contains("too large"));
        assert!(parse_bytes("99999999999999999999").is_err());
        assert_eq!(
            bytes_u32("4GiB").map_err(|e| e.contains("larger")),
            Err(true)
        );
        assert_eq!(bytes_u32("4095MiB"), Ok(4095 << 20));
        assert!(parse_milliseconds("1e30").is_err());
    }

    #[test]
    fn toml_takes_numbers_and_strings() {
        #[derive(serde::Deserialize, Debug)]
        struct File {
            #[serde(default, deserialize_with = "de::option_bytes_u64")]
            size: Option<u64>,
            #[serde(default, deserialize_with = "de::option_milliseconds")]
            interval_ms: Option<u64>,
        }
        let file: File = toml::from_str("size = \"64KiB\"\ninterval_ms = 250").unwrap();
        assert_eq!((file.size, file.interval_ms), (Some(65_536), Some(250)));
        let file: File = toml::from_str("size = 10\ninterval_ms = \"2m\"").unwrap();
        assert_eq!((file.size, file.interval_ms), (Some(10), Some(120_000)));
        let file: File = toml::from_str("").unwrap();
        assert_eq!((file.size, file.interval_ms), (None, None));
        let err = toml::from_str::<File>("size = \"64k\"").unwrap_err();
        assert!(err.to_string().contains("size"), "{err}");
        assert!(err.to_string().contains("ambiguous"), "{err}");
    }
}
