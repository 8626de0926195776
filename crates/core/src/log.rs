//! The [`EventLog`] trait: what every crate may ask of the log.

use async_trait::async_trait;

use crate::envelope::Envelope;
use crate::event::{Event, Hash};
use crate::id::SessionId;

/// An event to append, with the optimistic-concurrency check that guards it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// The session it belongs to.
    pub session: SessionId,
    /// How many events the session must already have (its last
    /// `session_seq`; 0 for a new session). Within one batch, later events of
    /// the same session count the earlier ones.
    pub expected_session_seq: u64,
    /// The payload.
    pub event: Event,
}

/// The last appended envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Head {
    /// Its sequence number (0 for an empty log).
    pub seq: u64,
    /// blake3 of its stored bytes ([`Hash::ZERO`] for an empty log).
    pub hash: Hash,
}

/// A point in the log's history: the event at `seq` is stored as bytes
/// that hash to `hash`. Each event holds its predecessor's hash, so a pin
/// vouches for every event up to `seq`. Handoffs and ended sessions carry
/// one; `verify --anchor` checks the log still holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    /// The event pinned (0 pins the empty log).
    pub seq: u64,
    /// blake3 of its stored bytes.
    pub hash: Hash,
}

impl Pin {
    /// The history just before `env`: its predecessor, whose hash it holds
    /// (a projection sees an event, never its own stored bytes).
    pub fn before(env: &Envelope) -> Pin {
        Pin {
            seq: env.seq.saturating_sub(1),
            hash: env.prev_hash,
        }
    }
}

/// The hash of the event at `seq` as the log holds it now: its
/// successor carries it, and the head's is kept with the head. `None` when
/// the log does not hold `seq` (0 is the empty log's zero hash).
pub async fn hash_at(log: &dyn EventLog, seq: u64) -> Result<Option<Hash>, LogError> {
    if seq == 0 {
        return Ok(Some(Hash::ZERO));
    }
    let head = log.head().await?;
    if seq == head.seq {
        return Ok(Some(head.hash));
    }
    if seq > head.seq {
        return Ok(None);
    }
    Ok(log
        .read_from(seq + 1, 1)
        .await?
        .into_iter()
        .next()
        .filter(|next| next.seq == seq + 1)
        .map(|next| next.prev_hash))
}

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Someone else appended to the session first.
    #[error(
        "session {session} changed concurrently: expected it at event {expected}, found {actual}"
    )]
    Conflict {
        /// The session.
        session: SessionId,
        /// What the caller expected.
        expected: u64,
        /// What the log holds.
        actual: u64,
    },
    /// Stored bytes are not a valid envelope.
    #[error("event {seq} is corrupt: {reason}")]
    Corrupt {
        /// The sequence number of the bad record.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// An append with nothing in it.
    #[error("nothing to append")]
    EmptyBatch,
    /// The storage underneath failed.
    #[error("event log storage: {0}")]
    Storage(String),
    /// Writing would leave less free disk than the store's margin: refused
    /// before anything is written, so a full disk never lands mid-write.
    #[error(
        "refusing to write: {} MB free on the store's disk, {} MB needed with the margin (min_free_mb in config.toml)",
        free / 1_000_000,
        needed.div_ceil(1_000_000)
    )]
    DiskFull {
        /// Bytes free for this user.
        free: u64,
        /// Bytes the write and the margin need.
        needed: u64,
    },
    /// An earlier write was taken but never reached the disk; this handle
    /// takes no more, and reopening the store resumes from what is durable.
    #[error("an earlier write to the event log failed ({0}); reopen the store")]
    Poisoned(String),
    /// The store was opened from a read-only directory: it can be read,
    /// never written.
    #[error("the store is read-only ({0}); only commands that read work")]
    ReadOnly(String),
}

/// The append-only event log. Implementations must make each
/// [`EventLog::append`] batch atomic and durable before returning.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends a batch atomically (all or nothing) after checking every
    /// expected session sequence. Returns the stored envelopes.
    async fn append(&self, batch: Vec<NewEvent>) -> Result<Vec<Envelope>, LogError>;

    /// Up to `limit` envelopes with `seq >= from`, in order. It may return
    /// fewer (an implementation bounds the bytes it holds); only an empty
    /// result means there is nothing more.
    async fn read_from(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, LogError>;

    /// Every envelope of one session, in order.
    async fn read_session(&self, session: SessionId) -> Result<Vec<Envelope>, LogError>;

    /// How many events a session has: its last `session_seq` (0 if none).
    async fn session_len(&self, session: SessionId) -> Result<u64, LogError>;

    /// Up to `limit` envelopes of one session whose `session_seq` is at
    /// least `from`, in order. Lets a reader take a session's tail (a
    /// capture cursor) without decoding its whole history.
    async fn read_session_range(
        &self,
        session: SessionId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LogError>;

    /// Every session id, in id (so creation) order.
    async fn sessions(&self) -> Result<Vec<SessionId>, LogError>;

    /// The last appended envelope.
    async fn head(&self) -> Result<Head, LogError>;
}
