//! Salvage: a sound log rebuilt from whatever a damaged one still holds.
//!
//! The damaged log is read directly from sled, without the checks that make
//! [`SledLog::open`] refuse it, and every event that still decodes is
//! restored, in order, into a new log: the verified prefix of the chain,
//! and whatever is readable after a hole. The new log replaces the old one
//! in one rename and the old one is kept under `damaged/<time>/log`.

use std::path::{Path, PathBuf};

use std::os::unix::fs::DirBuilderExt as _;

use logbook_core::{Envelope, Hash};

use crate::{
    HEAD_KEY, READ_BUDGET, SledLog, StoreError, StoreLock, StoreOptions, decode_head, open_db,
    seq_from_key, sled_words,
};

/// What a salvage found wrong, in seq order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Seqs absent from the log: nothing of them is left.
    Missing {
        /// The first absent seq.
        from: u64,
        /// The last absent seq.
        to: u64,
    },
    /// Stored bytes that do not decode: not restored.
    Unreadable {
        /// The event.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// Restored, but the chain does not vouch for its bytes: they do not
    /// hash to what the next event or the head recorded, or it does not
    /// continue from the event the head names. Altered after it was
    /// written, or written apart from the chain.
    Unconfirmed {
        /// The event.
        seq: u64,
    },
    /// sled itself failed to read on from here: later events are lost.
    Stopped {
        /// The last seq read before the failure.
        after: u64,
        /// sled's failure, in words.
        reason: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Missing { from, to } if from == to => {
                write!(f, "seq {from}: missing, not restored")
            }
            Finding::Missing { from, to } => write!(f, "seqs {from}-{to}: missing, not restored"),
            Finding::Unreadable { seq, reason } => {
                write!(f, "seq {seq}: cannot be decoded ({reason}), not restored")
            }
            Finding::Unconfirmed { seq } => write!(
                f,
                "seq {seq}: restored, but the hash chain does not vouch for its bytes (altered, or written apart from the chain)"
            ),
            Finding::Stopped { after, reason } => write!(
                f,
                "after seq {after}: the database could not be read further ({reason}); later events are lost"
            ),
        }
    }
}

/// What [`salvage`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    /// Events restored into the new log.
    pub restored: u64,
    /// How many of them, from seq 1, continue the old chain without a
    /// break.
    pub verified_prefix: u64,
    /// The old log's highest seq.
    pub last_seq: u64,
    /// What could not be restored or verified.
    pub findings: Vec<Finding>,
    /// Where the damaged log now is.
    pub kept: PathBuf,
}

/// Rebuilds the log of the store in `dir` from every event it can still
/// read, swaps the rebuilt log in and keeps the damaged one aside. The
/// caller holds the store's lock (`_lock` is the proof) and rebuilds the
/// projections afterwards: the restored events have new seqs.
pub fn salvage(
    dir: &Path,
    _lock: &StoreLock,
    options: &StoreOptions,
) -> Result<Salvaged, StoreError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.6fZ")
        .to_string();
    let work = dir.join(format!(".repair-{stamp}"));
    let damaged_path = dir.join("log");
    let mut outcome = {
        let damaged = open_db(&damaged_path, options)?;
        let fresh = SledLog::open(&work, options)?;
        copy_readable(&damaged, &damaged_path, &fresh)?
    };
    let kept_dir = dir.join("damaged").join(&stamp);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&kept_dir)
        .map_err(|e| StoreError::io(&kept_dir, e))?;
    swap_in(&work.join("log"), &damaged_path, &kept_dir.join("log"))?;
    // Only its lock file is left.
    let _ = std::fs::remove_dir_all(&work);
    outcome.kept = kept_dir.join("log");
    Ok(outcome)
}

/// Reads `damaged` in seq order into `fresh`, in batches of bounded size.
fn copy_readable(damaged: &sled::Db, path: &Path, fresh: &SledLog) -> Result<Salvaged, StoreError> {
    let db_err = |source| StoreError::Database {
        path: path.to_owned(),
        source,
    };
    let events = damaged.open_tree("events").map_err(db_err)?;
    let stored_head = damaged
        .open_tree("meta")
        .map_err(db_err)?
        .get(HEAD_KEY)
        .ok()
        .flatten()
        .and_then(|raw| decode_head(&raw));
    let mut out = Salvaged {
        restored: 0,
        verified_prefix: 0,
        last_seq: 0,
        findings: Vec::new(),
        kept: PathBuf::new(),
    };
    // The previous stored event: its seq, the hash of its bytes, and
    // whether it was restored (only a restored event can be unconfirmed).
    let mut previous: (u64, Hash, bool) = (0, Hash::default(), false);
    let mut unbroken = true;
    let mut batch = Vec::new();
    let mut batch_bytes = 0usize;
    for item in events.iter() {
        let (key, raw) = match item {
            Ok(kv) => kv,
            Err(e) => {
                out.findings.push(Finding::Stopped {
                    after: previous.0,
                    reason: sled_words(&e),
                });
                break;
            }
        };
        let seq = seq_from_key(&key)?;
        out.last_seq = seq;
        if seq != previous.0 + 1 {
            out.findings.push(Finding::Missing {
                from: previous.0 + 1,
                to: seq - 1,
            });
            unbroken = false;
        }
        let hash = Hash(*blake3::hash(&raw).as_bytes());
        match Envelope::decode_sized(&raw) {
            Err(e) => {
                out.findings.push(Finding::Unreadable {
                    seq,
                    reason: e.to_string(),
                });
                unbroken = false;
                previous = (seq, hash, false);
            }
            Ok((env, unpacked)) => {
                let linked = seq == previous.0 + 1 && env.prev_hash == previous.1;
                if !linked && previous.2 && seq == previous.0 + 1 {
                    // One of the two is not what the chain recorded. The
                    // head settles which when it names the earlier one
                    // (the shape a write cut off by a full disk leaves).
                    let head_vouches = stored_head
                        .is_some_and(|h| h.head.seq == previous.0 && h.head.hash == previous.1);
                    if head_vouches {
                        out.findings.push(Finding::Unconfirmed { seq });
                    } else {
                        out.findings.push(Finding::Unconfirmed { seq: previous.0 });
                        out.verified_prefix = out.verified_prefix.min(previous.0 - 1);
                    }
                }
                if !linked || env.seq != seq {
                    unbroken = false;
                }
                if unbroken {
                    out.verified_prefix += 1;
                }
                out.restored += 1;
                batch_bytes += unpacked;
                batch.push(env);
                previous = (seq, hash, true);
                if batch_bytes >= READ_BUDGET {
                    fresh.restore(std::mem::take(&mut batch))?;
                    batch_bytes = 0;
                }
            }
        }
    }
    if !batch.is_empty() {
        fresh.restore(batch)?;
    }
    // The head vouches for the last event, if it names it.
    if previous.2
        && stored_head.is_some_and(|h| h.head.seq == previous.0 && h.head.hash != previous.1)
    {
        out.findings.push(Finding::Unconfirmed { seq: previous.0 });
        out.verified_prefix = out.verified_prefix.min(previous.0 - 1);
    }
    fresh.flush()?;
    Ok(out)
}

/// Puts `fresh` where `live` is and moves the old one to `kept`. With
/// `RENAME_EXCHANGE` the store is never without a log: a crash after the
/// exchange leaves the damaged log in the repair's work directory.
fn swap_in(fresh: &Path, live: &Path, kept: &Path) -> Result<(), StoreError> {
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, fresh, cwd, live, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => std::fs::rename(fresh, kept).map_err(|e| StoreError::io(kept, e)),
        Err(_) => {
            // A file system without the exchange: two renames, the old log
            // first, so the worst a crash leaves is a missing `log` with
            // both copies still on disk.
            std::fs::rename(live, kept).map_err(|e| StoreError::io(live, e))?;
            std::fs::rename(fresh, live).map_err(|e| StoreError::io(live, e))
        }
    }
}
