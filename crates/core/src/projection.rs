//! Projections fold the log into files (DESIGN.md §4).
//!
//! A [`Projection`] never touches the disk itself: it writes through
//! [`ProjectionFiles`], which the binary implements with atomic
//! write-then-rename under the store (or a `replay --out` directory), and
//! tests implement in memory. Its progress is a cursor kept by
//! [`ProjectionCursors`]; [`catch_up`] applies everything past the cursor and
//! is both the normal path and crash recovery.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::envelope::Envelope;
use crate::log::{EventLog, LogError};

/// Why a projection could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing or reading a projected file failed.
    #[error("{path}: {message}")]
    File {
        /// The file, relative to the output root.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A path that would escape the output root.
    #[error("refusing unsafe projection path `{0}`")]
    UnsafePath(String),
    /// The cursor store failed.
    #[error("projection cursor: {0}")]
    Cursor(String),
    /// Rendering a file failed.
    #[error("rendering {path}: {message}")]
    Render {
        /// The file being rendered.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Checks that `path` is a plain relative path (no `..`, no root, no empty
/// parts), so nothing derived from event data can escape the output root.
pub fn check_relative(path: &str) -> Result<(), ProjectionError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(ProjectionError::UnsafePath(path.to_owned()))
    } else {
        Ok(())
    }
}

/// The file operations a projection may use, on paths relative to an
/// output root. Writes must be atomic (readers see old or new, never half).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ProjectionFiles: Send + Sync {
    /// The whole file, or `None` when it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ProjectionError>;
    /// Replaces the file atomically.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ProjectionError>;
    /// Cuts the file to `offset` (creating it if needed) and appends `bytes`:
    /// applying the same call twice leaves the same file, which makes
    /// append-style projections idempotent.
    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> Result<(), ProjectionError>;
    /// Deletes the file if it exists.
    fn remove(&self, path: &str) -> Result<(), ProjectionError>;
    /// Makes `to` hold what `from` holds, replacing it atomically: on disk
    /// the same file under a second name (a hard link: the bytes once),
    /// elsewhere a copy. A later [`Self::write_at`] on either name then
    /// changes both: remove `to` first to part them.
    fn link(&self, from: &str, to: &str) -> Result<(), ProjectionError> {
        let bytes = self.read(from)?.ok_or_else(|| ProjectionError::File {
            path: from.to_owned(),
            message: "missing".into(),
        })?;
        self.write(to, &bytes)
    }
}

/// Where projection cursors (last applied seq) are kept.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ProjectionCursors: Send + Sync {
    /// The last seq applied by `projection` (0 when none).
    fn get(&self, projection: &str) -> Result<u64, ProjectionError>;
    /// Records that `projection` has applied everything up to `seq`.
    fn set(&self, projection: &str, seq: u64) -> Result<(), ProjectionError>;
}

/// Folds events into files. Applying an envelope twice must change nothing.
///
/// The trait objects are spelt `+ 'static` because mockall cannot mock an
/// async method whose `dyn` arguments carry elided object lifetimes; the
/// parentheses that spelling needs trip `unused_parens` inside the mock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[allow(unused_parens)]
#[async_trait]
pub trait Projection: Send + Sync {
    /// A stable name: the key of the cursor.
    fn name(&self) -> &'static str;

    /// Whether this projection writes `path` (relative to the output root).
    /// `replay` deletes exactly these files and nothing else.
    fn owns(&self, path: &str) -> bool;

    /// Applies `batch` (consecutive envelopes, in order). The log may be
    /// read for history, but only up to the batch's last seq, so that a
    /// rebuild as of an earlier point sees the same history.
    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError>;
}

/// The bytes of a projected JSON file: pretty, with a final newline, so
/// files diff well and rebuild byte for byte. Every JSON projection writes
/// through this.
pub fn json_file<T: serde::Serialize>(path: &str, value: &T) -> Result<Vec<u8>, ProjectionError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| ProjectionError::Render {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The seq of the event of `env`'s session just before `env` (0 when `env`
/// is its first). A projection that goes on from its own file checks the
/// file ends exactly there; otherwise the file is missing, stale or not its
/// own, and it folds the session from the log instead.
pub async fn seq_before(log: &dyn EventLog, env: &Envelope) -> Result<u64, LogError> {
    if env.session_seq <= 1 {
        return Ok(0);
    }
    Ok(log
        .read_session_range(env.session, env.session_seq - 1, 1)
        .await?
        .first()
        .map_or(0, |e| e.seq))
}

/// A session's fold as stored in its own file, and how to go on from it.
pub trait SessionFold: Sized {
    /// The last log seq folded in.
    fn seq(&self) -> u64;
    /// Folds one envelope of the session.
    fn apply(&mut self, env: &Envelope);
}

/// Brings the fold of every session `batch` touches up to date with the
/// batch and hands it to `each`, one session at a time, in the order the
/// sessions first appear. A fold goes on from what `load` finds when that
/// ends exactly at the event before the batch's first of the session;
/// otherwise (missing, stale, not its own) `fresh` starts one and the
/// session's history is folded from the log. One fold is held at a time:
/// an import interleaves its files, so one batch can touch a hundred
/// sessions, and holding all their folds at once took a 1 GB `verify` to
/// half a gigabyte.
pub async fn fold_each_session<F: SessionFold>(
    log: &dyn EventLog,
    batch: &[Envelope],
    load: impl Fn(crate::SessionId) -> Result<Option<F>, ProjectionError>,
    fresh: impl Fn(crate::SessionId) -> F,
    mut each: impl FnMut(F) -> Result<(), ProjectionError>,
) -> Result<(), ProjectionError> {
    let mut sessions: Vec<crate::SessionId> = Vec::new();
    for env in batch {
        if !sessions.contains(&env.session) {
            sessions.push(env.session);
        }
    }
    for session in sessions {
        let mut mine = batch.iter().filter(|e| e.session == session);
        let Some(first) = mine.next() else { continue };
        let before = seq_before(log, first).await?;
        let mut fold = match load(session)? {
            Some(f) if f.seq() == before => f,
            _ => {
                let mut fold = fresh(session);
                for earlier in log.read_session(session).await? {
                    if earlier.seq < first.seq {
                        fold.apply(&earlier);
                    }
                }
                fold
            }
        };
        fold.apply(first);
        for env in mine {
            fold.apply(env);
        }
        each(fold)?;
    }
    Ok(())
}

/// How many envelopes one catch-up step reads: bounded so a log full of
/// transcript bytes never has to fit in memory at once.
pub const CATCH_UP_CHUNK: usize = 256;

/// Batches of at least this [`weight`] are folded into the projections in parallel; a hook's
/// few events are not worth a thread.
const PARALLEL_FROM: usize = 256 << 10;

/// How much folding a batch costs, in bytes: transcript bytes, or a
/// kilobyte per other event.
fn weight(batch: &[Envelope]) -> usize {
    batch
        .iter()
        .map(|e| match &e.event {
            crate::Event::TranscriptCaptured(t) => t.bytes.0.len(),
            _ => 1024,
        })
        .sum()
}

/// Applies every envelope past each projection's cursor, up to `until`
/// (inclusive; `None` means the head). Files are written before the cursor
/// moves, so a crash in between only repeats idempotent work. Returns how
/// many envelopes were read.
pub async fn catch_up(
    log: &(dyn EventLog + 'static),
    cursors: &dyn ProjectionCursors,
    files: &(dyn ProjectionFiles + 'static),
    projections: &[Box<dyn Projection>],
    until: Option<u64>,
) -> Result<u64, ProjectionError> {
    let head = log.head().await?.seq;
    let until = until.map_or(head, |u| u.min(head));
    let mut positions = Vec::with_capacity(projections.len());
    for p in projections {
        positions.push(cursors.get(p.name())?);
    }
    let Some(&lowest) = positions.iter().min() else {
        return Ok(0);
    };
    let mut next = lowest + 1;
    let mut read = 0;
    while next <= until {
        let room = usize::try_from(until - next + 1).unwrap_or(usize::MAX);
        let mut batch = log.read_from(next, CATCH_UP_CHUNK.min(room)).await?;
        batch.retain(|e| e.seq <= until);
        let Some(last) = batch.last().map(|e| e.seq) else {
            break;
        };
        read += batch.len() as u64;
        let due: Vec<(&dyn Projection, &[Envelope])> = projections
            .iter()
            .zip(positions.iter_mut())
            .filter_map(|(p, position)| {
                let fresh = batch.partition_point(|e| e.seq <= *position);
                *position = last;
                (fresh < batch.len()).then_some((p.as_ref(), &batch[fresh..]))
            })
            .collect();
        if due.len() > 1 && weight(&batch) >= PARALLEL_FROM {
            // Projections write disjoint files and keep their own cursors,
            // so a large batch (an import, a catch-up) folds into each on
            // its own thread: the fold, not the log, is the bottleneck.
            let outcomes: Vec<Result<(), ProjectionError>> = std::thread::scope(|scope| {
                let running: Vec<_> = due
                    .iter()
                    .map(|&(p, fresh)| {
                        scope.spawn(move || {
                            futures::executor::block_on(p.apply(log, fresh, files))?;
                            cursors.set(p.name(), last)
                        })
                    })
                    .collect();
                running
                    .into_iter()
                    .map(|t| {
                        t.join().unwrap_or_else(|_| {
                            Err(ProjectionError::Cursor(
                                "a projection thread panicked".into(),
                            ))
                        })
                    })
                    .collect()
            });
            outcomes.into_iter().collect::<Result<(), _>>()?;
        } else {
            for (p, fresh) in due {
                p.apply(log, fresh, files).await?;
                cursors.set(p.name(), last)?;
            }
        }
        next = last + 1;
    }
    Ok(read)
}

/// The error for a [`ProjectionFiles::write_at`] past the end of a file:
/// earlier output is missing, and only a replay can restore it.
pub fn short_file(path: &str, offset: u64) -> ProjectionError {
    ProjectionError::File {
        path: path.to_owned(),
        message: format!(
            "is shorter than the {offset} bytes already projected into it; run `logbook replay`"
        ),
    }
}

/// Cursors in memory: for rebuilds that must not touch the live store.
#[derive(Debug, Default)]
pub struct MemoryCursors(Mutex<BTreeMap<String, u64>>);

impl ProjectionCursors for MemoryCursors {
    fn get(&self, projection: &str) -> Result<u64, ProjectionError> {
        let map = self
            .0
            .lock()
            .map_err(|_| ProjectionError::Cursor("poisoned".into()))?;
        Ok(map.get(projection).copied().unwrap_or(0))
    }

    fn set(&self, projection: &str, seq: u64) -> Result<(), ProjectionError> {
        self.0
            .lock()
            .map_err(|_| ProjectionError::Cursor("poisoned".into()))?
            .insert(projection.to_owned(), seq);
        Ok(())
    }
}

/// Files in memory, for tests and dry runs.
#[derive(Debug, Default)]
pub struct MemoryFiles(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemoryFiles {
    /// A copy of every file.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn with<T>(
        &self,
        path: &str,
        f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> T,
    ) -> Result<T, ProjectionError> {
        check_relative(path)?;
        let mut map = self.0.lock().map_err(|_| ProjectionError::File {
            path: path.to_owned(),
            message: "poisoned".into(),
        })?;
        Ok(f(&mut map))
    }
}

impl ProjectionFiles for MemoryFiles {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        self.with(path, |m| m.get(path).cloned())
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ProjectionError> {
        self.with(path, |m| {
            m.insert(path.to_owned(), bytes.to_vec());
        })
    }

    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> Result<(), ProjectionError> {
        let done = self.with(path, |m| {
            let file = m.entry(path.to_owned()).or_default();
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            if file.len() < offset {
                return false;
            }
            file.truncate(offset);
            file.extend_from_slice(bytes);
            true
        })?;
        if done {
            Ok(())
        } else {
            Err(short_file(path, offset))
        }
    }

    fn remove(&self, path: &str) -> Result<(), ProjectionError> {
        self.with(path, |m| {
            m.remove(path);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Head, MockEventLog};
    use crate::{Envelope, Event, EventId, Hash, NoteKind, NoteRecorded, SessionId, Timestamp};

    fn env(seq: u64) -> Envelope {
        Envelope {
            format: 1,
            seq,
            id: EventId::new_v7(),
            at: Timestamp::from_micros(0),
            session: SessionId::from_uuid(uuid::Uuid::from_u128(1)),
            session_seq: seq,
            prev_hash: Hash::ZERO,
            event: Event::NoteRecorded(NoteRecorded {
                kind: NoteKind::Memory,
                text: String::new(),
            }),
        }
    }

    /// A fold that counts how many of its kind are alive.
    struct Counted {
        session: SessionId,
        seqs: Vec<u64>,
        alive: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl SessionFold for Counted {
        fn seq(&self) -> u64 {
            self.seqs.last().copied().unwrap_or(0)
        }
        fn apply(&mut self, env: &Envelope) {
            self.seqs.push(env.seq);
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.alive.set(self.alive.get() - 1);
        }
    }

    #[test]
    fn folds_are_handed_on_one_session_at_a_time_in_order_of_first_appearance() {
        let session = |n: u128| SessionId::from_uuid(uuid::Uuid::from_u128(n));
        // An import interleaves its files: three sessions, each starting here.
        let batch: Vec<Envelope> = [(1, 1), (2, 2), (1, 3), (3, 4), (2, 5), (3, 6), (1, 7)]
            .into_iter()
            .map(|(s, seq)| {
                let mut e = env(seq);
                e.session = session(s);
                e.session_seq = 1;
                e
            })
            .collect();
        let mut log = MockEventLog::new();
        log.expect_read_session().times(3).returning(|_| Ok(vec![]));
        let alive = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut handed = Vec::new();
        futures::executor::block_on(fold_each_session(
            &log,
            &batch,
            |_| Ok(None),
            |id| {
                alive.set(alive.get() + 1);
                Counted {
                    session: id,
                    seqs: Vec::new(),
                    alive: alive.clone(),
                }
            },
            |fold| {
                assert_eq!(alive.get(), 1, "more than one fold held at once");
                handed.push((fold.session, fold.seqs.clone()));
                Ok(())
            },
        ))
        .unwrap();
        assert_eq!(
            handed,
            [
                (session(1), vec![1, 3, 7]),
                (session(2), vec![2, 5]),
                (session(3), vec![4, 6]),
            ]
        );
        assert_eq!(alive.get(), 0);
    }

    #[test]
    fn catch_up_reads_only_past_the_cursor_and_moves_it_after_applying() {
        let mut log = MockEventLog::new();
        log.expect_head().returning(|| {
            Ok(Head {
                seq: 5,
                hash: Hash::ZERO,
            })
        });
        // The cursor is at 3: the log must be asked for 4 onwards, once
        // with data and once more only if that did not reach the head.
        log.expect_read_from()
            .withf(|from, _| *from == 4)
            .times(1)
            .returning(|_, _| Ok(vec![env(4), env(5)]));
        let cursors = MemoryCursors::default();
        cursors.set("p", 3).unwrap();
        let mut projection = MockProjection::new();
        projection.expect_name().return_const("p");
        projection
            .expect_apply()
            .withf(|_, batch, _| batch.iter().map(|e| e.seq).collect::<Vec<_>>() == [4, 5])
            .times(1)
            .returning(|_, _, _| Ok(()));
        let projections: Vec<Box<dyn Projection>> = vec![Box::new(projection)];
        let read = futures::executor::block_on(catch_up(
            &log,
            &cursors,
            &MemoryFiles::default(),
            &projections,
            None,
        ))
        .unwrap();
        assert_eq!(read, 2);
        assert_eq!(cursors.get("p").unwrap(), 5);
    }

    #[test]
    fn a_failed_apply_leaves_the_cursor_where_it_was() {
        let mut log = MockEventLog::new();
        log.expect_head().returning(|| {
            Ok(Head {
                seq: 1,
                hash: Hash::ZERO,
            })
        });
        log.expect_read_from().returning(|_, _| Ok(vec![env(1)]));
        let mut projection = MockProjection::new();
        projection.expect_name().return_const("p");
        projection.expect_apply().returning(|_, _, _| {
            Err(ProjectionError::File {
                path: "x".into(),
                message: "disk full".into(),
            })
        });
        let projections: Vec<Box<dyn Projection>> = vec![Box::new(projection)];
        let cursors = MemoryCursors::default();
        let result = futures::executor::block_on(catch_up(
            &log,
            &cursors,
            &MemoryFiles::default(),
            &projections,
            None,
        ));
        assert!(result.is_err());
        assert_eq!(cursors.get("p").unwrap(), 0, "re-applied on the next open");
    }
}
