//! logbook-core: the vocabulary every other logbook crate speaks.
//!
//! It owns the ids ([`SessionId`]), the [`Event`] payloads and the
//! [`Envelope`] they are stored in, the codec ([`CODEC`], one bincode
//! configuration for every stored byte), the [`EventLog`] and [`Projection`]
//! traits, the projection catch-up loop, the `session.json` projection, and
//! the session lifecycle rules as pure functions ([`lifecycle::decide`]).
//!
//! It owns no storage, no runtime and no file I/O: `logbook-store` implements
//! [`EventLog`] with sled, the binary implements [`ProjectionFiles`] on disk.
//!
//! # Example: deciding a transition without any I/O
//!
//! ```
//! use logbook_core::lifecycle::{decide, LifecycleCommand, SessionState};
//! use logbook_core::{EndReason, Event, Origin, SessionId, SessionStarted};
//!
//! let old = SessionId::new_v7();
//! let started = Event::SessionStarted(SessionStarted {
//!     command: Some("build".into()),
//!     agent: None,
//!     origin: Origin::Fresh,
//! });
//! let state = SessionState::from_events(old, [&started]);
//! let new = SessionId::new_v7();
//! let batch = decide(&state, LifecycleCommand::Transition {
//!     successor: new,
//!     reason: EndReason::Clear,
//! })
//! .expect("an active session can transition");
//! // One atomic batch: the old session ends, the new one starts linked to it.
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch[0].expected_session_seq, 1);
//! assert_eq!(batch[1].session, new);
//! ```

pub mod envelope;
pub mod event;
pub mod id;
pub mod lifecycle;
pub mod log;
pub mod projection;
pub mod sessions;
pub mod time;

pub use envelope::{CODEC, COMPRESSED_FORMAT, CodecError, ENVELOPE_FORMAT, Envelope};
pub use event::{
    AgentInfo, BudgetAlert, Bytes, CaptureGap, CompactionDetected, CompactionSummarized,
    CompactionTrigger, EndReason, EndStatus, Event, HandoffCreated, Hash, NoteKind, NoteRecorded,
    Origin, PermissionDenied, PermissionRequested, ResetReason, SessionDated, SessionEndDated,
    SessionEnded, SessionResumed, SessionStarted, SourceKind, SourceRef, SourceReset,
    SubagentStarted, TaskChange, TaskChanged, TokenUsageObserved, ToolCall, ToolCallFinished,
    ToolOutcome, TranscriptCaptured, TurnFailed, UsageSource, WorkdirChanged,
};
pub use id::{EventId, IdError, IdPrefix, SessionId};
pub use log::{EventLog, Head, LogError, NewEvent, Pin};
pub use projection::{
    MemoryCursors, MemoryFiles, Projection, ProjectionCursors, ProjectionError, ProjectionFiles,
    catch_up,
};
pub use time::Timestamp;

#[cfg(any(test, feature = "mock"))]
pub use log::MockEventLog;
#[cfg(any(test, feature = "mock"))]
pub use projection::{MockProjection, MockProjectionCursors, MockProjectionFiles};
