//! Wall-clock instants, stored as microseconds since the Unix epoch (UTC).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond precision. Binary encodings carry the raw
/// integer (compact, stable); JSON carries RFC 3339 text for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A time string that is neither RFC 3339 nor a plain date.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{0}` is not a time (expected RFC 3339 such as 2026-11-21T12:30:00Z, or a date such as 2026-11-21)"
)]
pub struct TimeParseError(String);

impl Timestamp {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Converts from jiff, truncating to microseconds.
    pub fn from_jiff(ts: jiff::Timestamp) -> Self {
        Self(ts.as_microsecond())
    }

    /// Converts to jiff; out-of-range values clamp to jiff's limits.
    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }

    /// Parses RFC 3339 (`2026-11-21T12:30:00Z`) or a bare UTC date
    /// (`2026-11-21`, meaning its midnight).
    pub fn parse(text: &str) -> Result<Self, TimeParseError> {
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(Self::from_jiff(ts));
        }
        text.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| Self::from_jiff(z.timestamp()))
            .ok_or_else(|| TimeParseError(text.to_owned()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always six fractional digits, so the text sorts like the instant.
        write!(f, "{:.6}", self.to_jiff())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            Self::parse(&text).map_err(serde::de::Error::custom)
        } else {
            i64::deserialize(d).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_rfc3339() {
        let t = Timestamp::parse("2026-11-21T12:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T12:30:00.000000Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        let d = Timestamp::parse("2026-11-21").unwrap();
        assert_eq!(d.to_string(), "2026-11-21T00:00:00.000000Z");
        assert!(Timestamp::parse("yesterday-ish").is_err());
    }

    #[test]
    fn json_is_text() {
        let t = Timestamp::from_micros(1_000_001);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"1970-01-01T00:00:01.000001Z\""
        );
        let back: Timestamp = serde_json::from_str("\"1970-01-01T00:00:01.000001Z\"").unwrap();
        assert_eq!(back, t);
    }
}
