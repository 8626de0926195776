//! The envelope every stored event travels in, and its codec.
//!
//! Stored bytes are `[format] ++ bincode(body)`. The hash chain hashes exactly
//! those bytes, so the codec must be deterministic: one config constant,
//! [`CODEC`], everywhere.

use serde::{Deserialize, Serialize};

use crate::event::{Event, Hash};
use crate::id::{EventId, SessionId};
use crate::time::Timestamp;

/// The bincode configuration of every stored byte. Changing it changes every
/// hash: treat it as part of the on-disk format. The limit stops a corrupt
/// length prefix from asking for gigabytes.
pub const CODEC: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<{ 1 << 30 }>,
> = bincode::config::standard().with_limit::<{ 1 << 30 }>();

/// The envelope format written by this version.
pub const ENVELOPE_FORMAT: u8 = 1;

/// One event with its place in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope format version, so old logs stay readable.
    pub format: u8,
    /// Gap-free global sequence, from 1.
    pub seq: u64,
    /// Unique id of the event.
    pub id: EventId,
    /// Wall-clock time of the append.
    pub at: Timestamp,
    /// The session the event belongs to.
    pub session: SessionId,
    /// Gap-free per-session sequence, from 1.
    pub session_seq: u64,
    /// blake3 of the previous envelope's stored bytes ([`Hash::ZERO`] for seq 1).
    pub prev_hash: Hash,
    /// The payload.
    pub event: Event,
}

/// The fields of format 1 after the format byte. Borrowing keeps encoding
/// from cloning transcript bytes.
#[derive(Serialize)]
struct BodyV1Ref<'a> {
    seq: u64,
    id: EventId,
    at: Timestamp,
    session: SessionId,
    session_seq: u64,
    prev_hash: Hash,
    event: &'a Event,
}

#[derive(Deserialize)]
struct BodyV1 {
    seq: u64,
    id: EventId,
    at: Timestamp,
    session: SessionId,
    session_seq: u64,
    prev_hash: Hash,
    event: Event,
}

/// Stored bytes that are not an envelope this version can read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Zero bytes.
    #[error("empty record")]
    Empty,
    /// A format byte from a newer (or corrupt) writer.
    #[error("unknown envelope format {0}")]
    UnknownFormat(u8),
    /// The bincode body does not decode.
    #[error("undecodable envelope: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// Bytes left over after the body: a sign of corruption.
    #[error("{0} trailing bytes after the envelope")]
    Trailing(usize),
    /// Encoding failed (only for values over the size limit).
    #[error("cannot encode envelope: {0}")]
    Encode(#[from] bincode::error::EncodeError),
}

impl Envelope {
    /// Encodes to the stored bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let body = BodyV1Ref {
            seq: self.seq,
            id: self.id,
            at: self.at,
            session: self.session,
            session_seq: self.session_seq,
            prev_hash: self.prev_hash,
            event: &self.event,
        };
        let mut out = vec![ENVELOPE_FORMAT];
        bincode::serde::encode_into_std_write(&body, &mut out, CODEC)?;
        Ok(out)
    }

    /// Decodes stored bytes, upcasting older formats.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
        match format {
            1 => {
                let (b, used): (BodyV1, usize) = bincode::serde::decode_from_slice(body, CODEC)?;
                if used != body.len() {
                    return Err(CodecError::Trailing(body.len() - used));
                }
                Ok(Envelope {
                    format,
                    seq: b.seq,
                    id: b.id,
                    at: b.at,
                    session: b.session,
                    session_seq: b.session_seq,
                    prev_hash: b.prev_hash,
                    event: b.event,
                })
            }
            other => Err(CodecError::UnknownFormat(other)),
        }
    }
}
