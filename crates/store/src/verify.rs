//! Verification of the hash chain and the indexes.

use std::collections::HashMap;
use std::fmt;

use logbook_core::{Envelope, Hash, Head, LogError, SessionId};

use crate::SledLog;

/// What a clean chain holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// Distinct sessions seen.
    pub sessions: u64,
    /// The head, as recomputed.
    pub head: Head,
}

/// The first thing wrong with a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// A sequence number is missing.
    Gap {
        /// The seq that should come next.
        expected: u64,
        /// The seq found instead.
        found: u64,
    },
    /// The stored bytes do not decode.
    Undecodable {
        /// The record.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The envelope claims another seq than its key.
    MisplacedSeq {
        /// The key it is stored under.
        seq: u64,
        /// The seq inside.
        claims: u64,
    },
    /// The bytes of `seq` do not hash to what the next link recorded.
    Tampered {
        /// The altered record.
        seq: u64,
        /// Where the mismatch was seen (`seq + 1`, or `head`).
        witness: String,
    },
    /// A session's own sequence is broken.
    SessionSeq {
        /// The record.
        seq: u64,
        /// The session.
        session: SessionId,
        /// What it should be.
        expected: u64,
        /// What it is.
        found: u64,
    },
    /// The stored head does not match the last event.
    Head {
        /// The stored head's seq.
        stored: u64,
        /// The last event's seq.
        actual: u64,
    },
    /// An index entry that points nowhere or at the wrong event.
    Index {
        /// The record concerned.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}

impl ChainProblem {
    /// The first bad sequence number, for `verify`'s message.
    pub fn seq(&self) -> u64 {
        match self {
            ChainProblem::Gap { expected, .. } => *expected,
            ChainProblem::Undecodable { seq, .. }
            | ChainProblem::MisplacedSeq { seq, .. }
            | ChainProblem::Tampered { seq, .. }
            | ChainProblem::SessionSeq { seq, .. }
            | ChainProblem::Index { seq, .. } => *seq,
            ChainProblem::Head { actual, .. } => *actual,
        }
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::Gap { expected, found } => {
                write!(
                    f,
                    "seq {expected}: missing (the next stored event is {found})"
                )
            }
            ChainProblem::Undecodable { seq, reason } => {
                write!(f, "seq {seq}: cannot be decoded ({reason})")
            }
            ChainProblem::MisplacedSeq { seq, claims } => {
                write!(f, "seq {seq}: the stored envelope claims seq {claims}")
            }
            ChainProblem::Tampered { seq, witness } => write!(
                f,
                "seq {seq}: its bytes do not match the hash recorded by {witness} (altered after it was written)"
            ),
            ChainProblem::SessionSeq {
                seq,
                session,
                expected,
                found,
            } => write!(
                f,
                "seq {seq}: session {session} should be at event {expected}, found {found}"
            ),
            ChainProblem::Head { stored, actual } => write!(
                f,
                "seq {actual}: the stored head says {stored} but the log ends at {actual}"
            ),
            ChainProblem::Index { seq, reason } => write!(f, "seq {seq}: {reason}"),
        }
    }
}

/// The outcome of [`SledLog::verify_chain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// What was checked.
    pub report: ChainReport,
    /// The first problem, if any.
    pub problem: Option<ChainProblem>,
}

impl SledLog {
    /// Walks the whole log: sequence without gaps, every envelope decodes,
    /// each `prev_hash` matches the previous bytes, per-session sequences
    /// without gaps, the head and the session index agree. Stops at the
    /// first problem.
    pub fn verify_chain(&self) -> Result<Verification, LogError> {
        let mut report = ChainReport {
            events: 0,
            sessions: 0,
            head: Head::default(),
        };
        let mut sessions: HashMap<SessionId, u64> = HashMap::new();
        // The hash of the previous record, and its seq, to blame it when the
        // next record's prev_hash disagrees.
        let mut previous = (0u64, Hash::ZERO);
        let problem = 'walk: {
            for item in self.raw_events() {
                let (seq, raw) = item?;
                let expected = previous.0 + 1;
                if seq != expected {
                    break 'walk Some(ChainProblem::Gap {
                        expected,
                        found: seq,
                    });
                }
                let env = match Envelope::decode(&raw) {
                    Ok(env) => env,
                    Err(e) => {
                        break 'walk Some(ChainProblem::Undecodable {
                            seq,
                            reason: e.to_string(),
                        });
                    }
                };
                if env.prev_hash != previous.1 {
                    break 'walk Some(ChainProblem::Tampered {
                        seq: previous.0,
                        witness: format!("seq {seq}"),
                    });
                }
                if env.seq != seq {
                    break 'walk Some(ChainProblem::MisplacedSeq {
                        seq,
                        claims: env.seq,
                    });
                }
                let session_seq = sessions.entry(env.session).or_insert(0);
                if env.session_seq != *session_seq + 1 {
                    break 'walk Some(ChainProblem::SessionSeq {
                        seq,
                        session: env.session,
                        expected: *session_seq + 1,
                        found: env.session_seq,
                    });
                }
                *session_seq += 1;
                if let Some(problem) = self.check_index(&env)? {
                    break 'walk Some(problem);
                }
                previous = (seq, Hash(*blake3::hash(&raw).as_bytes()));
                report.events += 1;
            }
            let stored = self.current_head()?.head;
            if stored.seq != previous.0 {
                break 'walk Some(ChainProblem::Head {
                    stored: stored.seq,
                    actual: previous.0,
                });
            }
            if stored.hash != previous.1 {
                break 'walk Some(ChainProblem::Tampered {
                    seq: previous.0,
                    witness: "the stored head".into(),
                });
            }
            None
        };
        report.sessions = sessions.len() as u64;
        report.head = Head {
            seq: previous.0,
            hash: previous.1,
        };
        Ok(Verification { report, problem })
    }

    /// The index must hold a run that covers `env` at the right place.
    fn check_index(&self, env: &Envelope) -> Result<Option<ChainProblem>, LogError> {
        let key = crate::index_key(env.session, env.session_seq);
        let covering = self
            .by_session
            .range(..=key)
            .next_back()
            .transpose()
            .map_err(|e| LogError::Storage(e.to_string()))?
            .map(|(k, v)| crate::Run::decode(&k, &v))
            .transpose()?
            .filter(|run| {
                run.session == env.session
                    && env.session_seq < run.session_seq + run.len
                    && run.seq + (env.session_seq - run.session_seq) == env.seq
            });
        Ok(covering.is_none().then(|| ChainProblem::Index {
            seq: env.seq,
            reason: "missing or wrong in the by_session index".into(),
        }))
    }
}
