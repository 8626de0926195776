//! logbook-review: what each session achieved, and what a project
//! remembers across sessions, folded from the log with no model and no
//! tokens spent.
//!
//! It owns:
//! - the task list of a session ([`tasks::TaskList`], `tasks.json`): from
//!   the agent's todo and task tools (calls that succeeded), the
//!   `TaskCreated`/`TaskCompleted` hooks, `note --plan` and `logbook task`;
//! - the review of a session ([`review::SessionFold`], `review.json` and
//!   `review.md`): requests, tasks and completion rate, test runs with
//!   their verdicts ([`runner`]), files changed with lines added and
//!   removed, active and wall time, tokens and estimated cost,
//!   corrections, decisions, compactions, blockers and errors;
//! - the memory of a project ([`memory`], `projects/<dir>/`): decisions,
//!   corrections (the repeated ones are standing instructions), errors and
//!   what fixed them, the files most read and changed, and the short brief
//!   a new session in the project is given;
//! - the projection that writes all of it ([`projection::ReviewProjection`]).
//!
//! It reads agents' records through `logbook-agents`, adds up tokens with
//! `logbook-tokens`, recognises corrections and decisions as
//! `logbook-context` does, and masks secrets with `logbook-redact` before
//! anything is kept. It does not know where the store is or what the
//! configuration says: the engine passes prices and caps in.
//!
//! ```
//! use logbook_core::{Envelope, Event, EventId, Hash, NoteKind, NoteRecorded, SessionId, Timestamp};
//! use logbook_review::review::SessionFold;
//!
//! let session = SessionId::from_uuid(uuid::Uuid::from_u128(7));
//! let note = |seq, kind, text: &str| Envelope {
//!     format: 1,
//!     seq,
//!     id: EventId::new_v7(),
//!     at: Timestamp::from_micros(0),
//!     session,
//!     session_seq: seq,
//!     prev_hash: Hash::ZERO,
//!     event: Event::NoteRecorded(NoteRecorded { kind, text: text.into() }),
//! };
//! let events = [
//!     note(1, NoteKind::Plan, "- port the parser\n- add tests"),
//!     note(2, NoteKind::Correction, "never push to main; token=ghp_0123456789abcdefghijABCDEFGHIJ012345"),
//! ];
//! let fold = SessionFold::fold(session, &events);
//! let review = fold.review(&[]);
//! assert_eq!(review.tasks.planned, 2);
//! assert_eq!(review.tasks.open, 2);
//! assert!(review.corrections[0].text.starts_with("never push to main"));
//! assert!(!review.corrections[0].text.contains("ghp_"));
//! ```

pub mod markdown;
pub mod memory;
pub mod projection;
pub mod review;
pub mod runner;
pub mod tasks;

#[cfg(test)]
mod tests;
