//! Identifiers: sessions and events are UUIDv7, so they sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The id of one logbook session. Displayed in full (36 characters, hyphenated);
/// users may type any unique prefix, see [`resolve_prefix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

/// The id of one event, unique across every store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

macro_rules! uuid_id {
    ($name:ident) => {
        impl $name {
            /// A new, time-ordered (v7) id.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (decoding, tests).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The 16 raw bytes, big-endian, which sort like the id.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Rebuilds the id from the bytes of [`Self::as_bytes`].
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

uuid_id!(SessionId);
uuid_id!(EventId);

/// Why a string is not a session id or prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, or holds characters other than hex digits and hyphens.
    #[error("`{0}` is not a session id or id prefix (expected hex digits and hyphens)")]
    Malformed(String),
    /// No session starts with the prefix.
    #[error("no session matches `{0}`")]
    Unknown(String),
    /// Several sessions start with the prefix.
    #[error("`{prefix}` is ambiguous: it matches {count} sessions ({examples})")]
    Ambiguous {
        /// What the user typed.
        prefix: String,
        /// How many sessions it matches.
        count: usize,
        /// A few of them, for the message.
        examples: String,
    },
}

impl FromStr for SessionId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| IdError::Malformed(s.to_owned()))
    }
}

/// A normalised id prefix: lower-case hex digits with hyphens removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix {
    typed: String,
    hex: String,
}

impl IdPrefix {
    /// Parses what a user typed. Hyphens may appear anywhere (people paste
    /// partial hyphenated ids); they carry no meaning.
    pub fn parse(typed: &str) -> Result<Self, IdError> {
        let hex: String = typed
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if hex.is_empty() || hex.len() > 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(IdError::Malformed(typed.to_owned()));
        }
        Ok(Self {
            typed: typed.to_owned(),
            hex,
        })
    }

    /// The inclusive byte range of every id that starts with this prefix, so
    /// an ordered index can be range-scanned instead of fully scanned.
    pub fn byte_range(&self) -> ([u8; 16], [u8; 16]) {
        let low = format!("{:0<32}", self.hex);
        let high = format!("{:f<32}", self.hex);
        (hex16(&low), hex16(&high))
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &SessionId) -> bool {
        id.0.simple().to_string().starts_with(&self.hex)
    }

    /// Picks the single id among `candidates` that matches.
    pub fn resolve<I>(&self, candidates: I) -> Result<SessionId, IdError>
    where
        I: IntoIterator<Item = SessionId>,
    {
        let matching: Vec<SessionId> = candidates
            .into_iter()
            .filter(|id| self.matches(id))
            .collect();
        match matching.as_slice() {
            [] => Err(IdError::Unknown(self.typed.clone())),
            [one] => Ok(*one),
            many => Err(IdError::Ambiguous {
                prefix: self.typed.clone(),
                count: many.len(),
                examples: many
                    .iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

fn hex16(hex32: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        // The caller built a 32-digit hex string, so every pair parses.
        *byte = u8::from_str_radix(&hex32[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SessionId {
        s.parse().unwrap()
    }

    #[test]
    fn displays_in_full_and_round_trips() {
        let a = SessionId::new_v7();
        let shown = a.to_string();
        assert_eq!(shown.len(), 36);
        assert_eq!(id(&shown), a);
    }

    #[test]
    fn v7_ids_sort_by_creation() {
        let a = SessionId::new_v7();
        let b = SessionId::new_v7();
        assert!(a < b);
    }

    #[test]
    fn prefix_resolution() {
        let a = id("01900000-0000-7000-8000-000000000001");
        let b = id("01900000-0000-7000-8000-000000000002");
        let c = id("01910000-0000-7000-8000-000000000001");
        let all = [a, b, c];
        assert_eq!(IdPrefix::parse("0191").unwrap().resolve(all).unwrap(), c);
        assert_eq!(
            IdPrefix::parse("01900000-0000-7000-8000-000000000002")
                .unwrap()
                .resolve(all)
                .unwrap(),
            b
        );
        assert!(matches!(
            IdPrefix::parse("0190").unwrap().resolve(all),
            Err(IdError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            IdPrefix::parse("ff").unwrap().resolve(all),
            Err(IdError::Unknown(_))
        ));
        assert!(IdPrefix::parse("xyz").is_err());
        assert!(IdPrefix::parse("").is_err());
        assert!(IdPrefix::parse("../../etc").is_err());
    }

    #[test]
    fn prefix_byte_range_brackets_matches() {
        let p = IdPrefix::parse("019a").unwrap();
        let (lo, hi) = p.byte_range();
        assert_eq!(lo[..2], [0x01, 0x9a]);
        assert_eq!(lo[2..], [0; 14]);
        assert_eq!(hi[2..], [0xff; 14]);
        let odd = IdPrefix::parse("019").unwrap();
        let (lo, hi) = odd.byte_range();
        assert_eq!(lo[1], 0x90);
        assert_eq!(hi[1], 0x9f);
    }
}
