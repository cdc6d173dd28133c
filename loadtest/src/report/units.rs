//! Numbers as a person reads them, shared by the report and the comparison:
//! thousands grouped, latencies with their unit.

/// 1234567 → "1,234,567".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A rate, rounded to a whole number and grouped: 12345.6 → "12,346".
pub fn format_rate(per_s: f64) -> String {
    if !per_s.is_finite() || per_s < 0.0 {
        return format!("{per_s}");
    }
    // `as` saturates; rates never come near u64::MAX.
    group_thousands(per_s.round() as u64)
}

/// A latency with the unit that keeps it short: "850 µs", "1.23 ms",
/// "45.6 ms", "1.234 s".
pub fn format_latency_us(us: u64) -> String {
    const US_PER_MS: f64 = 1_000.0;
    const US_PER_S: f64 = 1_000_000.0;
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=9_999 => format!("{:.2} ms", us as f64 / US_PER_MS),
        10_000..=999_999 => format!("{:.1} ms", us as f64 / US_PER_MS),
        _ => format!("{:.3} s", us as f64 / US_PER_S),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(format_rate(12_345.6), "12,346");
    }

    #[test]
    fn latencies_carry_their_unit() {
        assert_eq!(format_latency_us(0), "0 µs");
        assert_eq!(format_latency_us(850), "850 µs");
        assert_eq!(format_latency_us(1_234), "1.23 ms");
        assert_eq!(format_latency_us(45_600), "45.6 ms");
        assert_eq!(format_latency_us(1_234_000), "1.234 s");
    }
}
