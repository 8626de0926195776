//! logbook-forensics: what an auditor asks of the log.
//!
//! It owns the action timeline ([`timeline::Timeline`], every prompt, tool
//! call with its target and outcome, edit, subagent, compaction, alert,
//! note, handoff and API error in order) and its projection
//! `sessions/<id>/timeline.json` ([`projection::TimelineProjection`]); the
//! readable renders of a session as Markdown or one self-contained HTML page
//! ([`render::render`]); and anchors, the log's head signed with a per-user
//! key kept outside the store ([`anchor`]). It sees the log only through
//! `logbook-core`'s types, and masks secrets with `logbook-redact`.
//!
//! ```
//! use logbook_core::{Envelope, Event, EventId, Hash, NoteKind, NoteRecorded, SessionId, Timestamp};
//! use logbook_forensics::timeline::{Kind, Timeline};
//!
//! let session = SessionId::from_uuid(uuid::Uuid::from_u128(7));
//! let note = Envelope {
//!     format: 1,
//!     seq: 1,
//!     id: EventId::new_v7(),
//!     at: Timestamp::from_micros(0),
//!     session,
//!     session_seq: 1,
//!     prev_hash: Hash::ZERO,
//!     event: Event::NoteRecorded(NoteRecorded {
//!         kind: NoteKind::Decision,
//!         text: "use sled; DB_PASSWORD=hunter2hunter".into(),
//!     }),
//! };
//! let timeline = Timeline::fold(session, true, [&note]);
//! assert_eq!(timeline.actions[0].kind, Kind::Note);
//! assert!(!timeline.actions[0].detail.as_ref().unwrap().contains("hunter2"));
//! ```

pub mod anchor;
pub mod projection;
pub mod render;
pub mod timeline;

use std::borrow::Cow;

/// `text` safe to print on a terminal. A transcript is hostile input: an
/// escape sequence in it would act on the auditor's terminal (clear it,
/// hide lines, set the clipboard), and a bidirectional override would show
/// its text in another order. Each such character (C0 and C1 controls but
/// tab and newline, DEL, the bidi embeddings, overrides and isolates) is
/// shown as `\uXXXX` instead: readable, and inside a JSON string the very
/// escape that means it, so JSON output stays the same JSON.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t' && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
