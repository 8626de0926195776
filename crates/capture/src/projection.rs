//! Projects captured bytes into `transcript/part-NNNN.*`, the combined
//! `transcript.*` of an ended session, and `marker.json`.
//!
//! `marker.json` doubles as this projection's state (part number, lines and
//! bytes in the current part). It is trusted only when it is consistent with
//! the event being applied; otherwise the session's files are rebuilt from
//! the log. Capture itself never reads it: its cursor comes from the log.

use std::collections::BTreeMap;

use async_trait::async_trait;
use logbook_core::projection::{check_relative, json_file};
use logbook_core::sessions::{
    MAIN_SOURCE, part_extension as extension, part_path, session_dir, session_file,
};
use logbook_core::{
    Envelope, Event, EventLog, Hash, Projection, ProjectionError, ProjectionFiles, SessionId,
    SourceKind, TranscriptCaptured,
};
use serde::{Deserialize, Serialize};

/// Per-source state, as written to `marker.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMarker {
    /// `claude_code`, `text_file`, `stdin` or `tmux`.
    pub kind: Option<SourceKind>,
    /// The path or pane.
    pub location: String,
    /// Byte offset in the source: the capture cursor.
    pub offset: u64,
    /// Complete lines before the cursor.
    pub lines: u64,
    /// blake3 of the bytes just before the cursor.
    pub fingerprint: Hash,
    /// How often the source was truncated or replaced.
    pub resets: u64,
    /// Lines captured into this session's parts.
    pub captured_lines: u64,
    /// Bytes captured into this session's parts.
    pub captured_bytes: u64,
    /// The current part (1-based; 0 before any bytes).
    pub part: u64,
    /// Lines in the current part.
    pub part_lines: u64,
    /// Bytes in the current part.
    pub part_bytes: u64,
}

/// The contents of `marker.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The session.
    pub session_id: SessionId,
    /// The last seq applied.
    pub seq: u64,
    /// Whether the session has ended (its combined transcript exists).
    pub ended: bool,
    /// Per source key.
    pub sources: BTreeMap<String, SourceMarker>,
}

impl Marker {
    fn new(session_id: SessionId) -> Self {
        Self {
            session_id,
            seq: 0,
            ended: false,
            sources: BTreeMap::new(),
        }
    }
}

/// The transcript and marker projection.
#[derive(Clone, Debug)]
pub struct TranscriptProjection {
    rotate_lines: u64,
}

fn marker_path(id: SessionId) -> String {
    format!("{}/marker.json", session_dir(id))
}

fn file_err(path: &str, message: impl Into<String>) -> ProjectionError {
    ProjectionError::Render {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl TranscriptProjection {
    /// Parts rotate every `rotate_lines` lines.
    pub fn new(rotate_lines: u64) -> Self {
        Self {
            rotate_lines: rotate_lines.max(1),
        }
    }

    /// Makes sure `marker.json` of `session` matches the log, rebuilding the
    /// session's files if it is missing or corrupt. Capture calls this so a
    /// deleted marker is restored even when nothing new was captured.
    pub async fn ensure_session(
        &self,
        log: &(dyn EventLog + 'static),
        session: SessionId,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        // Called on every capture pass (every 200 ms under --follow): a sound
        // marker is checked against the session's tail only; the whole
        // history is read just when a rebuild is due.
        if let Some(marker) = self.load(session, files)? {
            let len = log.session_len(session).await?;
            let tail = log
                .read_session_range(session, len.saturating_sub(63).max(1), 64)
                .await?;
            if let Some(newest) = tail.iter().rev().find(|e| relevant(&e.event)) {
                if marker.seq == newest.seq {
                    return Ok(());
                }
            } else if tail.len() as u64 == len {
                // The whole session is in the tail and has nothing to project.
                return Ok(());
            }
        }
        let history = log.read_session(session).await?;
        if !history.iter().any(|e| relevant(&e.event)) {
            return Ok(());
        }
        match self.load(session, files)? {
            Some(marker) if marker.seq == last_relevant(&history) => Ok(()),
            _ => self.rebuild(session, &history, files),
        }
    }

    fn load(
        &self,
        session: SessionId,
        files: &dyn ProjectionFiles,
    ) -> Result<Option<Marker>, ProjectionError> {
        let Some(bytes) = files.read(&marker_path(session))? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Marker>(&bytes)
            .ok()
            .filter(|m| m.session_id == session))
    }

    fn rebuild(
        &self,
        session: SessionId,
        history: &[Envelope],
        files: &dyn ProjectionFiles,
    ) -> Result<(), ProjectionError> {
        let mut marker = Marker::new(session);
        for env in history {
            self.apply_one(&mut marker, env, files)?;
        }
        self.finish(&marker, files)
    }

    /// Applies one event to the marker and the part files.
    fn apply_one(
        &self,
        marker: &mut Marker,
        env: &Envelope,
        files: &dyn ProjectionFiles,
    ) -> Result<(), ProjectionError> {
        match &env.event {
            Event::TranscriptCaptured(c) => self.write_capture(marker, c, files)?,
            Event::SourceReset(r) => {
                let state = marker.sources.entry(r.source.key.clone()).or_default();
                state.offset = 0;
                state.lines = 0;
                state.fingerprint = Hash::ZERO;
                state.resets += 1;
            }
            Event::SessionEnded(_) => marker.ended = true,
            _ => return Ok(()),
        }
        marker.seq = env.seq;
        Ok(())
    }

    fn write_capture(
        &self,
        marker: &mut Marker,
        c: &TranscriptCaptured,
        files: &dyn ProjectionFiles,
    ) -> Result<(), ProjectionError> {
        check_relative(&c.source.key)?;
        let session = marker.session_id;
        let state = marker.sources.entry(c.source.key.clone()).or_default();
        state.kind = Some(c.source.kind);
        state.location.clone_from(&c.source.location);
        let mut rest: &[u8] = &c.bytes.0;
        let mut lines_left = c.lines;
        while !rest.is_empty() {
            if state.part == 0 || state.part_lines >= self.rotate_lines {
                state.part += 1;
                state.part_lines = 0;
                state.part_bytes = 0;
            }
            let room = self.rotate_lines - state.part_lines;
            // Split after `room` newlines, or take everything.
            let cut = memchr::memchr_iter(b'\n', rest)
                .nth(usize::try_from(room - 1).unwrap_or(usize::MAX))
                .map_or(rest.len(), |i| i + 1);
            let (piece, tail) = rest.split_at(cut);
            let piece_lines = if tail.is_empty() { lines_left } else { room };
            let path = part_path(session, &c.source.key, state.kind, state.part);
            files.write_at(&path, state.part_bytes, piece)?;
            state.part_bytes += piece.len() as u64;
            state.part_lines += piece_lines;
            lines_left = lines_left.saturating_sub(piece_lines);
            rest = tail;
        }
        state.offset = c.byte_end();
        state.lines = c.line_end();
        state.fingerprint = c.fingerprint;
        state.captured_lines += c.lines;
        state.captured_bytes += c.bytes.0.len() as u64;
        Ok(())
    }

    /// Writes `marker.json`, and the combined main transcript once ended.
    fn finish(&self, marker: &Marker, files: &dyn ProjectionFiles) -> Result<(), ProjectionError> {
        let path = marker_path(marker.session_id);
        let bytes = json_file(&path, marker)?;
        if marker.ended
            && let Some(main) = marker.sources.get(MAIN_SOURCE)
        {
            let combined = format!(
                "{}/transcript.{}",
                session_dir(marker.session_id),
                extension(main.kind)
            );
            if main.part == 1 {
                // One part: the combined transcript is that part, the
                // bytes stored once.
                let part_path = part_path(marker.session_id, MAIN_SOURCE, main.kind, 1);
                files.link(&part_path, &combined)?;
                return files.write(&path, &bytes);
            }
            // Parted from any part it was linked to before a later capture
            // opened a second part: writing into a link would write into
            // the part.
            files.remove(&combined)?;
            let mut offset = 0;
            for part in 1..=main.part {
                let part_path = part_path(marker.session_id, MAIN_SOURCE, main.kind, part);
                let piece = files
                    .read(&part_path)?
                    .ok_or_else(|| file_err(&part_path, "missing; run `logbook replay`"))?;
                files.write_at(&combined, offset, &piece)?;
                offset += piece.len() as u64;
            }
        }
        files.write(&path, &bytes)
    }
}

fn relevant(event: &Event) -> bool {
    matches!(
        event,
        Event::TranscriptCaptured(_) | Event::SourceReset(_) | Event::SessionEnded(_)
    )
}

fn last_relevant(history: &[Envelope]) -> u64 {
    history
        .iter()
        .rev()
        .find(|e| relevant(&e.event))
        .map_or(0, |e| e.seq)
}

/// Whether the marker can take `env` next: it has not applied it yet, and
/// for a capture, the cursor it recorded is where the capture starts.
fn continues(marker: &Marker, env: &Envelope) -> bool {
    if env.seq <= marker.seq {
        return true;
    }
    match &env.event {
        // A source's first event starts at 0, or anywhere for a stream or
        // for the empty event that carries a cursor into a new segment.
        Event::TranscriptCaptured(c) => marker.sources.get(&c.source.key).map_or(
            c.byte_start == 0 || c.source.kind == SourceKind::Stdin || c.bytes.0.is_empty(),
            |s| s.offset == c.byte_start,
        ),
        _ => true,
    }
}

#[async_trait]
impl Projection for TranscriptProjection {
    fn name(&self) -> &'static str {
        "transcript"
    }

    fn owns(&self, path: &str) -> bool {
        let Some((_, file)) = session_file(path) else {
            return false;
        };
        file == "marker.json"
            || file == "transcript.jsonl"
            || file == "transcript.txt"
            || (file.starts_with("transcript/")
                && file.rsplit('/').next().is_some_and(|name| {
                    name.starts_with("part-")
                        && (name.ends_with(".jsonl") || name.ends_with(".txt"))
                }))
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let mut by_session: BTreeMap<SessionId, Vec<&Envelope>> = BTreeMap::new();
        for env in batch.iter().filter(|e| relevant(&e.event)) {
            by_session.entry(env.session).or_default().push(env);
        }
        for (session, events) in by_session {
            let marker = self.load(session, files)?;
            let usable = marker.filter(|m| events.first().is_some_and(|e| continues(m, e)));
            let Some(mut marker) = usable else {
                // Missing, corrupt or inconsistent: the log decides.
                let last = events.last().map_or(0, |e| e.seq);
                let mut history = log.read_session(session).await?;
                history.retain(|e| e.seq <= last);
                self.rebuild(session, &history, files)?;
                continue;
            };
            for env in events {
                if env.seq > marker.seq {
                    self.apply_one(&mut marker, env, files)?;
                }
            }
            self.finish(&marker, files)?;
        }
        Ok(())
    }
}
