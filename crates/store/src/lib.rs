//! logbook-store: the sled event log.
//!
//! It owns everything on disk under `<store>/log` and `<store>/lock`: the
//! [`SledLog`] implementation of [`EventLog`] (gap-free global sequence,
//! per-session sequence with conflict errors, the `by_session` and
//! `sessions` indexes, the `meta` head, the blake3 hash chain, atomic and
//! flushed batches), projection cursors, the lock file that serialises
//! processes ([`StoreLock`]), and chain verification and raw export. It is the
//! only crate that names sled. It does not own projected files or the
//! lifecycle rules (see `logbook-core`).
//!
//! # Layout of the sled trees
//!
//! A run is a stretch of consecutive events of one session written by one
//! append (an import writes thousands at once), so the index costs one
//! insert per run rather than per event: sled inserts are the ceiling of
//! append throughput.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `events` | seq (u64 BE) | stored envelope bytes |
//! | `by_session` | session id (16) ++ first session_seq of a run (u64 BE) | first seq (u64 BE) ++ run length (u64 BE) |
//! | `sessions` | session id (16) | seq of its first event (u64 BE) |
//! | `meta` | `head` | seq (u64 BE) ++ blake3 (32) ++ at (i64 BE) |
//! | `cursors` | projection name | last applied seq (u64 BE) |
//!
//! # Example
//!
//! ```
//! use logbook_core::{Event, EventLog, NewEvent, NoteKind, NoteRecorded, SessionId};
//! use logbook_store::{SledLog, StoreOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = SledLog::open(dir.path(), &StoreOptions::default()).unwrap();
//! let session = SessionId::new_v7();
//! let note = Event::NoteRecorded(NoteRecorded { kind: NoteKind::Plan, text: "ship".into() });
//! let stored = futures::executor::block_on(log.append(vec![NewEvent {
//!     session,
//!     expected_session_seq: 0,
//!     event: note,
//! }]))
//! .unwrap();
//! assert_eq!(stored[0].seq, 1);
//! assert!(log.verify_chain().unwrap().problem.is_none());
//! ```

mod lock;
mod salvage;
mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use logbook_core::{
    ENVELOPE_FORMAT, Envelope, EventId, EventLog, Hash, Head, LogError, NewEvent,
    ProjectionCursors, ProjectionError, SessionId, Timestamp,
};

pub use lock::StoreLock;
pub use salvage::{Finding, Salvaged, salvage};
pub use verify::{ChainProblem, ChainReport, Verification};

/// The default free-disk margin: 64 MiB, room for sled's segments and
/// snapshots beyond the write itself.
pub const DEFAULT_MIN_FREE: u64 = 64 << 20;

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How long to wait for another process's lock.
    pub lock_wait: Duration,
    /// sled's page cache. sled's default (1 GiB) would hold everything ever
    /// written in memory.
    pub cache_capacity: u64,
    /// Free disk an append must leave: below it the append is refused
    /// before sled writes anything. sled 0.34 that runs out of space
    /// mid-write can lose earlier acknowledged writes.
    pub min_free_bytes: u64,
    /// Set (with the reason) for a log opened from a copy of a read-only
    /// store: every write is refused, so nothing is recorded where no one
    /// will find it.
    pub read_only: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_secs(10),
            cache_capacity: 64 * 1024 * 1024,
            min_free_bytes: DEFAULT_MIN_FREE,
            read_only: None,
        }
    }
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the lock and did not let go in time.
    #[error("the store is locked by {} (waited {:.1}s for {})", holder.map_or_else(|| "another process".to_owned(), |p| format!("pid {p}")), waited.as_secs_f64(), path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, when readable.
        holder: Option<u32>,
        /// How long we waited.
        waited: Duration,
    },
    /// A file-system error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// sled failed (a corrupt or unreadable database, a full disk).
    #[error("event log database at {}: {}", path.display(), sled_words(source))]
    Database {
        /// The sled directory.
        path: PathBuf,
        /// The cause.
        source: sled::Error,
    },
    /// An event log operation failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

fn storage(e: sled::Error) -> LogError {
    LogError::Storage(sled_words(&e))
}

/// sled's error in words: its own text for damaged data is debug output
/// (`Read corrupted data at file offset Some(Inline(4718612)) backtrace
/// ()`).
fn sled_words(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io.to_string(),
        sled::Error::Corruption { .. } => {
            "its files are damaged (sled found data it cannot read back); \
             `logbook doctor --repair` rebuilds it from what can still be read"
                .into()
        }
        sled::Error::CollectionNotFound(_) => "one of its trees is missing".into(),
        sled::Error::Unsupported(what) => format!("unsupported: {what}"),
        sled::Error::ReportableBug(what) => format!("sled failed: {what}"),
    }
}

/// The sled-backed [`EventLog`]. Holds the store lock for its lifetime.
pub struct SledLog {
    db: sled::Db,
    events: sled::Tree,
    by_session: sled::Tree,
    sessions: sled::Tree,
    meta: sled::Tree,
    cursors: sled::Tree,
    /// The head as last committed. Appends serialise on this mutex, so the
    /// sequence and hash chain are computed by one writer at a time.
    head: Mutex<HeadState>,
    /// The sled directory, whose file system the free-space margin watches.
    path: PathBuf,
    min_free: u64,
    /// Set when a flush failed after a batch was taken: sled may hold it
    /// only in memory, so nothing more is built on it.
    poisoned: Mutex<Option<String>>,
    read_only: Option<String>,
    _lock: StoreLock,
}

#[derive(Clone, Copy, Debug)]
struct HeadState {
    head: Head,
    at: Timestamp,
}

const HEAD_KEY: &[u8] = b"head";

/// [`EventLog::read_from`] stops early once the envelopes it holds
/// unpacked to this many bytes. Unpacked, not stored: a transcript event
/// compresses 4 to 30 times, and 8 MB of stored bytes held a catch-up's
/// batch of 256 events at 18 MB.
const READ_BUDGET: usize = 4 << 20;

/// sled writes a snapshot to `snap.<lsn>.generating` and renames it when
/// complete. A process killed in between leaves the file behind, and sled
/// 0.34 then reads it and refuses to open ("Read corrupted data",
/// spacejam/sled#1527), bricking the store. Such a file is by definition
/// incomplete and only ever re-derivable, so it is removed before opening;
/// holding logbook's lock, no other process can be writing one.
fn remove_unfinished_snapshots(log: &Path) {
    let Ok(entries) = std::fs::read_dir(log) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!("removing the unfinished sled snapshot {name}");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Opens the sled database at `path` (the store lock already held),
/// after removing what a killed process leaves that sled cannot open.
fn open_db(path: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    remove_unfinished_snapshots(path);
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity)
            .open()
        {
            Ok(db) => return Ok(db),
            // Holding our lock, sled's own can still be held for a moment
            // by the previous holder: its flusher thread outlives the
            // handle, and at exit the kernel closes both locks' files in
            // no set order. Wait for it within the same budget.
            Err(sled::Error::Io(e))
                if is_sled_lock_busy(&e) && started.elapsed() < options.lock_wait =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(source) => {
                return Err(StoreError::Database {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

impl SledLog {
    /// Opens (creating if needed, mode 0700) the store in `dir`: takes
    /// `dir/lock`, then opens `dir/log`.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let lock = StoreLock::take(dir, options.lock_wait)?;
        Self::open_held(dir, lock, options)
    }

    /// [`Self::open`] under a lock already taken with [`StoreLock::take`]
    /// (a repair keeps it from the salvage to the rebuilt projections).
    pub fn open_held(
        dir: &Path,
        lock: StoreLock,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let path = dir.join("log");
        let db = open_db(&path, options)?;
        let db_err = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tree = |name: &str| db.open_tree(name).map_err(db_err);
        let meta = tree("meta")?;
        let head = match meta.get(HEAD_KEY).map_err(db_err)? {
            None => HeadState {
                head: Head::default(),
                at: Timestamp::from_micros(i64::MIN),
            },
            Some(raw) => decode_head(&raw).ok_or_else(|| {
                StoreError::Log(LogError::Corrupt {
                    seq: 0,
                    reason: "the head record in `meta` is malformed".into(),
                })
            })?,
        };
        let log = Self {
            events: tree("events")?,
            by_session: tree("by_session")?,
            sessions: tree("sessions")?,
            cursors: tree("cursors")?,
            meta,
            head: Mutex::new(head),
            db,
            path,
            min_free: options.min_free_bytes,
            poisoned: Mutex::new(None),
            read_only: options.read_only.clone(),
            _lock: lock,
        };
        log.repair_indexes()?;
        Ok(log)
    }

    /// Re-derives the indexes and the head for events past the stored head:
    /// the state a crash between an events batch and its index writes
    /// leaves. Each re-derived event must continue the hash chain.
    fn repair_indexes(&self) -> Result<(), LogError> {
        let mut head = self
            .head
            .lock()
            .map_err(|_| LogError::Storage("head lock poisoned".into()))?;
        let mut repaired = 0u64;
        let mut runs = Runs::default();
        for item in self.events.range((head.head.seq + 1).to_be_bytes()..) {
            let (key, raw) = item.map_err(storage)?;
            let seq = seq_from_key(&key)?;
            let env = decode_at(seq, &raw)?;
            if seq != head.head.seq + 1 || env.prev_hash != head.head.hash {
                return Err(LogError::Corrupt {
                    seq,
                    reason: "does not continue the hash chain from the stored head".into(),
                });
            }
            let seq_key = seq.to_be_bytes();
            runs.push(env.session, env.session_seq, seq);
            if env.session_seq == 1 {
                self.sessions
                    .insert(env.session.as_bytes(), &seq_key)
                    .map_err(storage)?;
            }
            head.head = Head {
                seq,
                hash: Hash(*blake3::hash(&raw).as_bytes()),
            };
            head.at = env.at;
            repaired += 1;
        }
        for run in runs.0 {
            self.by_session
                .insert(index_key(run.session, run.session_seq), &run.value()[..])
                .map_err(storage)?;
        }
        if repaired > 0 {
            tracing::warn!(
                repaired,
                "re-derived indexes for events written before a crash"
            );
            self.meta
                .insert(HEAD_KEY, encode_head(&head))
                .map_err(storage)?;
            self.flush()?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), LogError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// Refuses a write of about `bytes` that would leave less than the
    /// margin free. sled writes a value to its log and may rewrite it
    /// once when it compacts a segment, hence twice the bytes.
    fn check_space(&self, bytes: u64) -> Result<(), LogError> {
        if self.min_free == 0 {
            return Ok(());
        }
        // A file system that cannot say is not refused: the margin guards
        // against a known shortage, never invents one.
        let Some((free, _)) = self.free_space() else {
            return Ok(());
        };
        let needed = self.min_free.saturating_add(bytes.saturating_mul(2));
        if free < needed {
            return Err(LogError::DiskFull { free, needed });
        }
        Ok(())
    }

    /// Whether a flush failed after a batch was taken (see
    /// [`LogError::Poisoned`]): the handle must be reopened.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.lock().map_or(true, |p| p.is_some())
    }

    /// The free disk under the store and the margin it keeps, in bytes.
    pub fn free_space(&self) -> Option<(u64, u64)> {
        let stat = rustix::fs::statvfs(&self.path).ok()?;
        Some((stat.f_bavail.saturating_mul(stat.f_frsize), self.min_free))
    }

    /// Every session id, newest first (ids are UUIDv7: their order is their
    /// start order), read lazily: a search for a live conversation stops
    /// near the top instead of listing thousands of sessions.
    pub fn sessions_newest_first(&self) -> impl Iterator<Item = Result<SessionId, LogError>> + '_ {
        self.sessions
            .iter()
            .keys()
            .rev()
            .map(|k| k.map_err(storage).and_then(|k| session_from_key(&k)))
    }

    /// Session ids whose hex starts with the given inclusive byte range.
    pub fn sessions_in(&self, low: [u8; 16], high: [u8; 16]) -> Result<Vec<SessionId>, LogError> {
        self.sessions
            .range(low..=high)
            .keys()
            .map(|k| k.map_err(storage).and_then(|k| session_from_key(&k)))
            .collect()
    }

    /// The stored bytes of every envelope, in order (for export and
    /// verification); decoding is left to the caller.
    pub fn raw_events(&self) -> impl Iterator<Item = Result<(u64, Vec<u8>), LogError>> + '_ {
        self.events.iter().map(|item| {
            let (k, v) = item.map_err(storage)?;
            Ok((seq_from_key(&k)?, v.to_vec()))
        })
    }

    /// Resets every projection cursor (before a full replay).
    pub fn reset_cursors(&self) -> Result<(), LogError> {
        self.cursors.clear().map_err(storage)
    }

    /// The seq of the last event whose time is at or before `at` (0 if none).
    /// Times never decrease along the log, so this is a binary search.
    pub fn seq_at_time(&self, at: Timestamp) -> Result<u64, LogError> {
        let (mut low, mut high) = (0u64, self.current_head()?.head.seq);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if self.get(mid)?.at <= at {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        Ok(low)
    }

    fn current_head(&self) -> Result<HeadState, LogError> {
        self.head
            .lock()
            .map(|h| *h)
            .map_err(|_| LogError::Storage("head lock poisoned".into()))
    }

    fn get(&self, seq: u64) -> Result<Envelope, LogError> {
        let raw = self
            .events
            .get(seq.to_be_bytes())
            .map_err(storage)?
            .ok_or_else(|| LogError::Corrupt {
                seq,
                reason: "missing from the events tree".into(),
            })?;
        decode_at(seq, &raw)
    }

    fn last_session_seq(&self, session: SessionId) -> Result<u64, LogError> {
        match self.by_session.scan_prefix(session.as_bytes()).next_back() {
            None => Ok(0),
            Some(item) => {
                let (key, value) = item.map_err(storage)?;
                let run = Run::decode(&key, &value)?;
                Ok(run.session_seq + run.len - 1)
            }
        }
    }

    /// Appends recovered envelopes as they were (id, time, session,
    /// event), renumbered into this log: the next seqs, gap-free session
    /// seqs and a fresh hash chain. A time earlier than the head's is
    /// raised to it, since times never decrease along a log.
    pub fn restore(&self, batch: Vec<Envelope>) -> Result<Vec<Envelope>, LogError> {
        self.write(batch.into_iter().map(|env| Draft {
            session: env.session,
            expected_session_seq: None,
            id: env.id,
            at: Some(env.at),
            event: env.event,
        }))
    }

    /// The one write path: sequences, chains, space check, atomic batch,
    /// flush.
    fn write(
        &self,
        batch: impl ExactSizeIterator<Item = Draft>,
    ) -> Result<Vec<Envelope>, LogError> {
        if batch.len() == 0 {
            return Err(LogError::EmptyBatch);
        }
        if let Some(why) = &self.read_only {
            return Err(LogError::ReadOnly(why.clone()));
        }
        if let Some(why) = self
            .poisoned
            .lock()
            .map_err(|_| LogError::Storage("poison lock poisoned".into()))?
            .clone()
        {
            return Err(LogError::Poisoned(why));
        }
        let mut head = self
            .head
            .lock()
            .map_err(|_| LogError::Storage("head lock poisoned".into()))?;
        // Times never go backwards along the log, even if the clock does, so
        // "as of time T" is a prefix of the log.
        let now = Timestamp::from_jiff(jiff::Timestamp::now()).max(head.at);
        let mut next = *head;
        let mut session_seqs: HashMap<SessionId, u64> = HashMap::new();
        let mut rows = Vec::with_capacity(batch.len());
        let mut stored = Vec::with_capacity(batch.len());
        for draft in batch {
            let current = match session_seqs.get(&draft.session) {
                Some(&s) => s,
                None => self.last_session_seq(draft.session)?,
            };
            if let Some(expected) = draft.expected_session_seq
                && current != expected
            {
                return Err(LogError::Conflict {
                    session: draft.session,
                    expected,
                    actual: current,
                });
            }
            let at = draft.at.map_or(now, |at| at.max(next.at));
            let mut env = Envelope {
                format: ENVELOPE_FORMAT,
                seq: next.head.seq + 1,
                id: draft.id,
                at,
                session: draft.session,
                session_seq: current + 1,
                prev_hash: next.head.hash,
                event: draft.event,
            };
            let bytes = env.encode().map_err(|e| LogError::Storage(e.to_string()))?;
            // The codec picks the format (compressed or not) by size.
            env.format = bytes.first().copied().unwrap_or(ENVELOPE_FORMAT);
            next.head = Head {
                seq: env.seq,
                hash: Hash(*blake3::hash(&bytes).as_bytes()),
            };
            next.at = at;
            session_seqs.insert(env.session, env.session_seq);
            rows.push((env.seq, env.session, env.session_seq, bytes));
            stored.push(env);
        }
        self.check_space(rows.iter().map(|r| r.3.len() as u64).sum())?;
        let mut events = sled::Batch::default();
        let mut by_session = sled::Batch::default();
        let mut sessions = sled::Batch::default();
        let mut runs = Runs::default();
        for (seq, session, session_seq, bytes) in rows {
            let seq_key = seq.to_be_bytes();
            events.insert(&seq_key, bytes);
            runs.push(session, session_seq, seq);
            if session_seq == 1 {
                sessions.insert(session.as_bytes(), &seq_key);
            }
        }
        for run in runs.0 {
            by_session.insert(index_key(run.session, run.session_seq), &run.value()[..]);
        }
        // The events batch is the commit point: it lands whole or not at all.
        // The indexes and the head are derived from it and written after it;
        // sled keeps writes in order, so a crash can only leave them behind,
        // and `open` re-derives them (see `repair_indexes`).
        self.events.apply_batch(events).map_err(storage)?;
        self.by_session.apply_batch(by_session).map_err(storage)?;
        self.sessions.apply_batch(sessions).map_err(storage)?;
        self.meta
            .insert(HEAD_KEY, encode_head(&next))
            .map_err(storage)?;
        // The batch is committed in sled, so the head moves even if the
        // flush below fails; but nothing is reported appended before the
        // flush returns: acknowledged means durable.
        *head = next;
        drop(head);
        if let Err(e) = self.flush() {
            if let Ok(mut poisoned) = self.poisoned.lock() {
                *poisoned = Some(e.to_string());
            }
            return Err(e);
        }
        Ok(stored)
    }

    /// Overwrites the stored bytes of one event, bypassing every check, so
    /// that tests can prove tampering is detected.
    #[cfg(feature = "fault-injection")]
    pub fn tamper_with(&self, seq: u64, bytes: &[u8]) -> Result<(), LogError> {
        self.events
            .insert(seq.to_be_bytes(), bytes)
            .map_err(storage)?;
        self.flush()
    }

    /// Deletes one event's stored bytes, leaving a hole (fault-injection
    /// tests).
    #[cfg(feature = "fault-injection")]
    pub fn remove_event(&self, seq: u64) -> Result<(), LogError> {
        self.events.remove(seq.to_be_bytes()).map_err(storage)?;
        self.flush()
    }

    /// The stored bytes of one event (fault-injection tests).
    #[cfg(feature = "fault-injection")]
    pub fn raw(&self, seq: u64) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self
            .events
            .get(seq.to_be_bytes())
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }
}

/// sled 0.34 reports a held database lock as `ErrorKind::Other` with this
/// text around the underlying `WouldBlock` (config.rs), so the text is the
/// only signal there is.
fn is_sled_lock_busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

fn decode_at(seq: u64, raw: &[u8]) -> Result<Envelope, LogError> {
    Envelope::decode(raw).map_err(|e| corrupt(seq, e))
}

fn corrupt(seq: u64, e: impl std::fmt::Display) -> LogError {
    LogError::Corrupt {
        seq,
        reason: e.to_string(),
    }
}

fn seq_from_key(key: &[u8]) -> Result<u64, LogError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| LogError::Storage("malformed events key".into()))
}

fn session_from_key(key: &[u8]) -> Result<SessionId, LogError> {
    key.get(..16)
        .and_then(|b| b.try_into().ok())
        .map(SessionId::from_bytes)
        .ok_or_else(|| LogError::Storage("malformed session key".into()))
}

/// An event about to be written: a new one (`expected_session_seq` set,
/// `at` now) or a restored one (its own id and time).
struct Draft {
    session: SessionId,
    expected_session_seq: Option<u64>,
    id: EventId,
    at: Option<Timestamp>,
    event: logbook_core::Event,
}

/// Consecutive events of one session, as indexed in `by_session`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) session: SessionId,
    /// The first event's session_seq.
    pub(crate) session_seq: u64,
    /// The first event's global seq.
    pub(crate) seq: u64,
    /// How many events.
    pub(crate) len: u64,
}

impl Run {
    fn value(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, LogError> {
        let u64_at = |bytes: &[u8], at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
        };
        (|| {
            Some(Run {
                session: SessionId::from_bytes(key.get(..16)?.try_into().ok()?),
                session_seq: u64_at(key, 16)?,
                seq: u64_at(value, 0)?,
                len: u64_at(value, 8).filter(|len| *len > 0)?,
            })
        })()
        .ok_or_else(|| LogError::Storage("malformed by_session entry".into()))
    }
}

/// Groups appended events into runs.
#[derive(Default)]
struct Runs(Vec<Run>);

impl Runs {
    fn push(&mut self, session: SessionId, session_seq: u64, seq: u64) {
        if let Some(last) = self.0.last_mut()
            && last.session == session
            && last.seq + last.len == seq
            && last.session_seq + last.len == session_seq
        {
            last.len += 1;
            return;
        }
        self.0.push(Run {
            session,
            session_seq,
            seq,
            len: 1,
        });
    }
}

fn index_key(session: SessionId, session_seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    key.extend_from_slice(session.as_bytes());
    key.extend_from_slice(&session_seq.to_be_bytes());
    key
}

fn encode_head(state: &HeadState) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(&state.head.seq.to_be_bytes());
    out.extend_from_slice(&state.head.hash.0);
    out.extend_from_slice(&state.at.as_micros().to_be_bytes());
    out
}

fn decode_head(raw: &[u8]) -> Option<HeadState> {
    Some(HeadState {
        head: Head {
            seq: u64::from_be_bytes(raw.get(..8)?.try_into().ok()?),
            hash: Hash(raw.get(8..40)?.try_into().ok()?),
        },
        at: Timestamp::from_micros(i64::from_be_bytes(raw.get(40..48)?.try_into().ok()?)),
    })
}

#[async_trait]
impl EventLog for SledLog {
    async fn append(&self, batch: Vec<NewEvent>) -> Result<Vec<Envelope>, LogError> {
        self.write(batch.into_iter().map(|new| Draft {
            session: new.session,
            expected_session_seq: Some(new.expected_session_seq),
            id: EventId::new_v7(),
            at: None,
            event: new.event,
        }))
    }

    async fn read_from(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, LogError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self.events.range(from.max(1).to_be_bytes()..) {
            // Transcript events can be a megabyte each: a count alone would
            // let a catch-up hold hundreds of them at once.
            if out.len() >= limit || bytes >= READ_BUDGET {
                break;
            }
            let (k, v) = item.map_err(storage)?;
            let seq = seq_from_key(&k)?;
            let (envelope, unpacked) = Envelope::decode_sized(&v).map_err(|e| corrupt(seq, e))?;
            bytes += unpacked;
            out.push(envelope);
        }
        Ok(out)
    }

    async fn read_session(&self, session: SessionId) -> Result<Vec<Envelope>, LogError> {
        let mut out = Vec::new();
        for item in self.by_session.scan_prefix(session.as_bytes()) {
            let (key, value) = item.map_err(storage)?;
            let run = Run::decode(&key, &value)?;
            let before = out.len();
            for item in self
                .events
                .range(run.seq.to_be_bytes()..(run.seq + run.len).to_be_bytes())
            {
                let (k, v) = item.map_err(storage)?;
                out.push(decode_at(seq_from_key(&k)?, &v)?);
            }
            if out.len() - before != usize::try_from(run.len).unwrap_or(usize::MAX) {
                return Err(LogError::Corrupt {
                    seq: run.seq,
                    reason: "the by_session index points past the stored events".into(),
                });
            }
        }
        Ok(out)
    }

    async fn session_len(&self, session: SessionId) -> Result<u64, LogError> {
        self.last_session_seq(session)
    }

    async fn read_session_range(
        &self,
        session: SessionId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, LogError> {
        let from = from.max(1);
        // The run holding `from` starts at or before it.
        let start = match self
            .by_session
            .range(session.as_bytes().to_vec()..=index_key(session, from))
            .next_back()
        {
            Some(item) => item.map_err(storage)?.0.to_vec(),
            None => index_key(session, from),
        };
        let mut out = Vec::new();
        for item in self.by_session.range(start..) {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(session.as_bytes()) || out.len() >= limit {
                break;
            }
            let run = Run::decode(&key, &value)?;
            let skip = from.saturating_sub(run.session_seq);
            if skip >= run.len {
                continue;
            }
            for seq in run.seq + skip..run.seq + run.len {
                if out.len() >= limit {
                    break;
                }
                out.push(self.get(seq)?);
            }
        }
        Ok(out)
    }

    async fn sessions(&self) -> Result<Vec<SessionId>, LogError> {
        self.sessions
            .iter()
            .keys()
            .map(|k| k.map_err(storage).and_then(|k| session_from_key(&k)))
            .collect()
    }

    async fn head(&self) -> Result<Head, LogError> {
        Ok(self.current_head()?.head)
    }
}

impl ProjectionCursors for SledLog {
    fn get(&self, projection: &str) -> Result<u64, ProjectionError> {
        let raw = self
            .cursors
            .get(projection)
            .map_err(|e| ProjectionError::Cursor(e.to_string()))?;
        Ok(raw
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    fn set(&self, projection: &str, seq: u64) -> Result<(), ProjectionError> {
        self.cursors
            .insert(projection, &seq.to_be_bytes())
            .map(|_| ())
            .map_err(|e| ProjectionError::Cursor(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
