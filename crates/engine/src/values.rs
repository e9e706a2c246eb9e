//! How strings are read as versions, dates and numbers — the same rules when a
//! document is checked and when a context is evaluated.

use serde_json::Value;

/// Reads a semantic version. Besides strict SemVer 2.0 (`1.2.3-beta.1`) it
/// accepts a leading `v` and one or two components (`2`, `2.3` mean `2.0.0`,
/// `2.3.0`), because mobile app versions are often written that way.
pub fn parse_semver(text: &str) -> Option<semver::Version> {
    let text = text.strip_prefix('v').unwrap_or(text);
    if let Ok(version) = semver::Version::parse(text) {
        return Some(version);
    }
    // Short forms only: digits and at most one dot, nothing else.
    let (core, rest) = match text.find(['-', '+']) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let parts = core.split('.').count();
    if core.is_empty() || parts > 2 || !core.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let padded = if parts == 1 {
        format!("{core}.0.0{rest}")
    } else {
        format!("{core}.0{rest}")
    };
    semver::Version::parse(&padded).ok()
}

/// Reads an RFC 3339 date-time (`2026-01-15T09:30:00Z`) as nanoseconds since
/// the Unix epoch.
pub fn parse_date(text: &str) -> Option<i128> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

/// A context attribute read as a date: an RFC 3339 string, or a number of
/// seconds since the Unix epoch.
pub fn attribute_date(value: &Value) -> Option<i128> {
    match value {
        Value::String(s) => parse_date(s),
        Value::Number(n) => n.as_f64().map(|secs| (secs * 1e9) as i128),
        _ => None,
    }
}

/// A context attribute read as a number: a JSON number, or a string that is a
/// plain decimal number in full — an optional `-`, digits, and optionally a
/// `.` followed by digits (`"42"`, `"-1.5"`, `"007"`; not `" 42"`, `"+5"`,
/// `"1e3"`, `".5"` or `"42abc"`). Numeric operators are the only place a
/// string is read as a number, and the format is this strict so that every
/// SDK's parser agrees.
pub fn attribute_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if is_plain_decimal(s) => s.parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// Typed equality of two JSON scalars: strings by exact (case-sensitive)
/// bytes, numbers by numeric value (`1 == 1.0`), booleans by value. Values of
/// different types are never equal. Arrays and objects compare structurally.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Byte equality tuned for the short strings of attribute names and operands.
///
/// `==` on slices calls `memcmp`, whose call and dispatch cost dominates for
/// strings of a few bytes. Up to 16 bytes this compares two overlapping
/// words instead (the standard trick: the first and the last 8, 4 or 1
/// bytes), which is branch-light and allocation-free; longer strings use `==`.
#[inline]
pub fn fast_eq(a: &str, b: &str) -> bool {
    fast_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// [`fast_eq`] on bytes (prefix and suffix tests compare byte ranges).
#[inline]
#[expect(
    clippy::arithmetic_side_effects,
    reason = "each arm's offsets stay within n, which its pattern bounds"
)]
pub fn fast_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    #[inline(always)]
    fn word8(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    }
    #[inline(always)]
    fn word4(s: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(w)
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

/// Whether a percentage or weight has at most three decimals.
pub fn has_at_most_three_decimals(value: f64) -> bool {
    let scaled = value * 1000.0;
    (scaled - scaled.round()).abs() < 1e-6
}

/// A percentage as thousandths of a percent (`25.5` → `25_500`): the unit
/// buckets are compared in.
pub fn thousandths(percentage: f64) -> u32 {
    (percentage * 1000.0).round().clamp(0.0, 100_000.0) as u32
}

/// The JSON kind of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_versions_are_padded() {
        assert_eq!(parse_semver("2.3"), semver::Version::parse("2.3.0").ok());
        assert_eq!(parse_semver("v2"), semver::Version::parse("2.0.0").ok());
        assert_eq!(
            parse_semver("2.3-beta"),
            semver::Version::parse("2.3.0-beta").ok()
        );
        assert_eq!(parse_semver("2.x"), None);
        assert_eq!(parse_semver(""), None);
        assert_eq!(parse_semver("1.2.3.4"), None);
    }

    #[test]
    fn numeric_strings_are_read_only_in_full() {
        assert_eq!(attribute_number(&json!("42")), Some(42.0));
        assert_eq!(attribute_number(&json!("-1.5")), Some(-1.5));
        assert_eq!(attribute_number(&json!("007")), Some(7.0));
        for not_plain in [" 19", "+5", "1e3", ".5", "5.", "-", "", "1_000", "0x10"] {
            assert_eq!(attribute_number(&json!(not_plain)), None, "{not_plain:?}");
        }
        assert_eq!(attribute_number(&json!("42abc")), None);
        assert_eq!(attribute_number(&json!("NaN")), None);
        assert_eq!(attribute_number(&json!("inf")), None);
        assert_eq!(attribute_number(&json!(true)), None);
    }

    #[test]
    fn equality_is_typed() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(!json_equal(&json!("1"), &json!(1)));
        assert!(!json_equal(&json!("US"), &json!("us")));
        assert!(json_equal(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]})));
    }

    #[test]
    fn fast_eq_agrees_with_eq() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abd",
            "xbc",
            "abcd",
            "abce",
            "user_id",
            "user_ic",
            "targetingKey",
            "targetingKex",
            "uargetingKey",
            "0123456789abcdef",
            "0123456789abcdeg",
            "1123456789abcdef",
            "0123456789abcdefg",
            "0123456789abcdefh",
            "é",
            "e\u{301}",
        ];
        for a in words {
            for b in words {
                assert_eq!(fast_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn three_decimals() {
        assert!(has_at_most_three_decimals(25.125));
        assert!(has_at_most_three_decimals(0.001));
        assert!(!has_at_most_three_decimals(0.0001));
        assert_eq!(thousandths(25.5), 25_500);
        assert_eq!(thousandths(0.001), 1);
    }
}
