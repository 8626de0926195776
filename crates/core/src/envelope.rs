//! The envelope every stored event travels in, and its codec.
//!
//! Stored bytes are `[1] ++ bincode(body)` (format 1), or, for a body of
//! [`COMPRESS_FROM`] bytes or more that compresses, `[2] ++
//! zstd(bincode(body))` (format 2): transcript bytes dominate a store and
//! compress about fourfold event by event. The hash chain hashes exactly
//! the stored bytes, so encoding must be deterministic: one config
//! constant, [`CODEC`], and one zstd level, everywhere.

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

/// The plain envelope format, written for small events.
pub const ENVELOPE_FORMAT: u8 = 1;

thread_local! {
    /// A catch-up decodes thousands of envelopes: one context per thread
    /// spares a context's allocation for each.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Unpacks a compressed body, at most [`MAX_BODY`] bytes of it.
fn decompress(body: &[u8]) -> Result<Vec<u8>, CodecError> {
    let too_large = || CodecError::Decompress(std::io::Error::other("expands past the size limit"));
    // Frames written by `encode` state their size: decoded in one call into
    // a buffer of that size. Anything else is streamed under the limit.
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(body) {
        if size > MAX_BODY {
            return Err(too_large());
        }
        let size = usize::try_from(size).map_err(|_| too_large())?;
        let mut out = Vec::with_capacity(size);
        DECOMPRESSOR.with_borrow_mut(|held| {
            let decompressor = match held {
                Some(d) => d,
                None => {
                    held.insert(zstd::bulk::Decompressor::new().map_err(CodecError::Decompress)?)
                }
            };
            decompressor
                .decompress_to_buffer(body, &mut out)
                .map_err(CodecError::Decompress)
        })?;
        return Ok(out);
    }
    use std::io::Read as _;
    let decoder = zstd::stream::Decoder::new(body).map_err(CodecError::Decompress)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_BODY + 1)
        .read_to_end(&mut out)
        .map_err(CodecError::Decompress)?;
    if out.len() as u64 > MAX_BODY {
        return Err(too_large());
    }
    Ok(out)
}

/// The compressed envelope format (zstd over format 1's body).
pub const COMPRESSED_FORMAT: u8 = 2;

/// Bodies at least this long are compressed when that makes them shorter.
pub const COMPRESS_FROM: usize = 512;

/// zstd's level: its default, which on real transcripts compresses at
/// about 750 MB/s here; higher levels gain little on event-sized input.
const ZSTD_LEVEL: i32 = 3;

/// The most a compressed body may expand to, like [`CODEC`]'s limit: a
/// corrupt or hostile record cannot ask for more memory.
const MAX_BODY: u64 = 1 << 30;

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
    /// A compressed body that does not decompress.
    #[error("undecompressable envelope: {0}")]
    Decompress(std::io::Error),
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
        if out.len() > COMPRESS_FROM
            && let Ok(packed) = zstd::bulk::compress(&out[1..], ZSTD_LEVEL)
            && packed.len() + 1 < out.len()
        {
            let mut compressed = Vec::with_capacity(packed.len() + 1);
            compressed.push(COMPRESSED_FORMAT);
            compressed.extend_from_slice(&packed);
            return Ok(compressed);
        }
        Ok(out)
    }

    /// Decodes stored bytes, upcasting older formats.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Self::decode_sized(bytes).map(|(envelope, _)| envelope)
    }

    /// Decodes stored bytes, and says how many bytes they unpacked to:
    /// what the envelope holds in memory, where the stored length of a
    /// compressed one says little about it.
    pub fn decode_sized(bytes: &[u8]) -> Result<(Self, usize), CodecError> {
        let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
        let unpacked;
        let body = match format {
            ENVELOPE_FORMAT => body,
            COMPRESSED_FORMAT => {
                unpacked = decompress(body)?;
                &unpacked[..]
            }
            other => return Err(CodecError::UnknownFormat(other)),
        };
        match format {
            ENVELOPE_FORMAT | COMPRESSED_FORMAT => {
                let (b, used): (BodyV1, usize) = bincode::serde::decode_from_slice(body, CODEC)?;
                if used != body.len() {
                    return Err(CodecError::Trailing(body.len() - used));
                }
                let envelope = Envelope {
                    format,
                    seq: b.seq,
                    id: b.id,
                    at: b.at,
                    session: b.session,
                    session_seq: b.session_seq,
                    prev_hash: b.prev_hash,
                    event: b.event,
                };
                Ok((envelope, body.len()))
            }
            other => Err(CodecError::UnknownFormat(other)),
        }
    }
}
