//! The `context` projection: `context.json` per session, folded
//! incrementally (the file is its own state, with the last seq it applied),
//! and `handoff.json` / `handoff.md` whenever a `HandoffCreated` is met.

use async_trait::async_trait;
use logbook_core::projection::{json_file, seq_before};
use logbook_core::sessions::{
    MAIN_SOURCE, is_subagent_source, part_path, session_dir, session_file,
};
use logbook_core::{
    Envelope, Event, EventLog, HandoffCreated, Projection, ProjectionError, ProjectionFiles,
    SessionId, SourceKind,
};
use serde::{Deserialize, Serialize};

use crate::brief::{BRIEF_LIMIT, Links, render};
use crate::model::ContextView;

/// The contents of `handoff.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The session handing off.
    pub session_id: SessionId,
    /// The id reserved for the session that picks it up.
    pub next_session_id: SessionId,
    /// When the handoff was made.
    pub created_at: String,
    /// Why the session ended (absent for a handoff before a compaction).
    pub end_reason: Option<String>,
    /// The session before it in its chain.
    pub previous_session_id: Option<SessionId>,
    /// The project: the agent's working directory when the session started.
    pub cwd: Option<String>,
    /// The session's `context.json`, relative to the store.
    pub context_file: String,
    /// Its main transcript parts, relative to the store.
    pub transcript: Vec<String>,
    /// The Markdown brief (also in `handoff.md`).
    pub brief: String,
    /// The log's history up to the handoff: `verify --anchor handoff.json`
    /// checks the store still holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<logbook_core::Pin>,
}

impl Handoff {
    /// The brief to hand over, its paths placed in the store at `root`
    /// (the projected files name them relative to the store, so a moved or
    /// restored store still verifies).
    pub fn brief_in(&self, root: &std::path::Path) -> String {
        crate::brief::locate(&self.brief, &root.display().to_string())
    }

    /// This handoff with its paths made absolute under the store at `root`.
    pub fn located(mut self, root: &std::path::Path) -> Self {
        let join = |p: &str| root.join(p).display().to_string();
        self.context_file = join(&self.context_file);
        self.transcript = self.transcript.iter().map(|t| join(t)).collect();
        self.brief = crate::brief::locate(&self.brief, &root.display().to_string());
        self
    }
}

/// Projects `context.json`, `handoff.json` and `handoff.md`.
#[derive(Clone, Debug)]
pub struct ContextProjection {
    rotate_lines: u64,
}

/// The path of a session's `context.json`.
pub fn context_path(id: SessionId) -> String {
    format!("{}/context.json", session_dir(id))
}

/// The path of a session's `handoff.json`.
pub fn handoff_path(id: SessionId) -> String {
    format!("{}/handoff.json", session_dir(id))
}

/// A session's context as projected, with what the fold needs beyond it.
struct State {
    view: ContextView,
    main_lines: u64,
    main_kind: Option<SourceKind>,
    changed: bool,
}

impl State {
    fn fresh(id: SessionId) -> Self {
        State {
            view: ContextView::new(id, None),
            main_lines: 0,
            main_kind: None,
            changed: true,
        }
    }
}

impl ContextProjection {
    /// `rotate_lines` names the transcript parts.
    pub fn new(rotate_lines: u64) -> Self {
        Self {
            rotate_lines: rotate_lines.max(1),
        }
    }

    fn load(
        &self,
        id: SessionId,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<State, ProjectionError> {
        let path = context_path(id);
        let stored: Option<StoredContext> = files
            .read(&path)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|s: &StoredContext| s.view.session_id == id);
        Ok(match stored {
            Some(s) => State {
                view: s.view,
                main_lines: s.transcript_lines,
                main_kind: s.transcript_kind,
                changed: false,
            },
            None => State::fresh(id),
        })
    }

    async fn handoff(
        &self,
        log: &(dyn EventLog + 'static),
        env: &Envelope,
        h: &HandoffCreated,
        state: &State,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let id = env.session;
        let first = log.read_session_range(id, 1, 1).await?;
        let started = first.first().and_then(|e| match &e.event {
            Event::SessionStarted(s) => Some(s),
            _ => None,
        });
        let previous = started.and_then(|s| s.origin.predecessor());
        // The project is where the agent runs, which the records may not say.
        let project = started
            .and_then(|s| s.agent.as_ref())
            .and_then(|a| a.cwd.clone())
            .or_else(|| state.view.cwd.clone());
        let before = log
            .read_session_range(id, env.session_seq.saturating_sub(1), 1)
            .await?;
        let end_reason = before.first().and_then(|e| match &e.event {
            Event::SessionEnded(end) => Some(end.reason.to_string()),
            _ => None,
        });
        let parts = state.main_lines.div_ceil(self.rotate_lines);
        let transcript: Vec<String> = (1..=parts)
            .map(|n| part_path(id, MAIN_SOURCE, state.main_kind, n))
            .collect();
        let links = Links {
            session: id.to_string(),
            // Only PreCompact hands off from a session that has not ended:
            // it ends at the compaction.
            end_reason: Some(end_reason.clone().unwrap_or_else(|| "compaction".into())),
            previous: previous.map(|p| p.to_string()),
            context_file: context_path(id),
            transcript: transcript.clone(),
        };
        // The brief is injected into the next model: no secret goes with it.
        let brief = logbook_redact::redact(&render(&state.view, &links, BRIEF_LIMIT)).into_owned();
        let handoff = Handoff {
            session_id: id,
            next_session_id: h.next_session,
            created_at: env.at.to_string(),
            end_reason,
            previous_session_id: previous,
            cwd: project,
            context_file: links.context_file,
            transcript,
            brief: brief.clone(),
            anchor: Some(logbook_core::Pin::before(env)),
        };
        let path = handoff_path(id);
        files.write(&path, &redacted_json_file(&path, &handoff)?)?;
        files.write(&format!("{}/handoff.md", session_dir(id)), brief.as_bytes())?;
        Ok(())
    }
}

/// The bytes of a projected JSON file with every secret masked: these
/// files are read by agents and people outside the store. The state they
/// also hold stays sound, because redaction is idempotent and ids and
/// paths hold no secrets.
fn redacted_json_file<T: Serialize>(path: &str, value: &T) -> Result<Vec<u8>, ProjectionError> {
    let mut value = serde_json::to_value(value).map_err(|e| ProjectionError::Render {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    logbook_redact::redact_json(
        &mut value,
        &[
            "session_id",
            "next_session_id",
            "previous_session_id",
            "anchor",
        ],
    );
    json_file(path, &value)
}

/// `context.json` on disk: the view plus the two figures the handoff links
/// need, so a fold never has to re-read the transcript.
#[derive(Serialize, Deserialize)]
struct StoredContext {
    #[serde(flatten)]
    view: ContextView,
    transcript_lines: u64,
    transcript_kind: Option<SourceKind>,
}

#[async_trait]
impl Projection for ContextProjection {
    fn name(&self) -> &'static str {
        "context"
    }

    fn owns(&self, path: &str) -> bool {
        session_file(path)
            .is_some_and(|(_, file)| matches!(file, "context.json" | "handoff.json" | "handoff.md"))
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let mut states: Vec<(SessionId, State)> = Vec::new();
        for env in batch {
            let index = match states.iter().position(|(id, _)| *id == env.session) {
                Some(i) => i,
                None => {
                    let mut state = self.load(env.session, files)?;
                    if state.view.seq != seq_before(log, env).await? {
                        // Missing, stale or not ours: fold the history.
                        state = State::fresh(env.session);
                        for past in log.read_session(env.session).await? {
                            if past.seq < env.seq {
                                self.fold(log, &past, &mut state, files).await?;
                            }
                        }
                    }
                    states.push((env.session, state));
                    states.len() - 1
                }
            };
            let state = &mut states[index].1;
            if env.seq <= state.view.seq {
                continue;
            }
            self.fold(log, env, state, files).await?;
        }
        for (id, state) in states {
            if !state.changed {
                continue;
            }
            let path = context_path(id);
            let stored = StoredContext {
                view: state.view,
                transcript_lines: state.main_lines,
                transcript_kind: state.main_kind,
            };
            files.write(&path, &redacted_json_file(&path, &stored)?)?;
        }
        Ok(())
    }
}

impl ContextProjection {
    /// Folds one envelope into its session's state.
    async fn fold(
        &self,
        log: &(dyn EventLog + 'static),
        env: &Envelope,
        state: &mut State,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        match &env.event {
            Event::SessionStarted(s) if state.view.cwd.is_none() => {
                state.view.cwd = s.agent.as_ref().and_then(|a| a.cwd.clone());
            }
            Event::TranscriptCaptured(c) if c.source.kind.is_agent_jsonl() => {
                let side = is_subagent_source(&c.source.key);
                for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                    if let Some(record) =
                        logbook_agents::read(c.source.kind, &c.source.location, line)
                    {
                        state.view.apply_record(&record, side);
                    }
                }
                if c.source.key == MAIN_SOURCE {
                    state.main_lines += c.lines;
                    state.main_kind = Some(c.source.kind);
                }
            }
            Event::TranscriptCaptured(c) if c.source.key == MAIN_SOURCE => {
                state.main_lines += c.lines;
                state.main_kind = Some(c.source.kind);
            }
            Event::NoteRecorded(n) => state.view.apply_note(n.kind, &n.text, env.at.to_string()),
            Event::HandoffCreated(h) => self.handoff(log, env, h, state, files).await?,
            _ => {}
        }
        state.view.seq = env.seq;
        state.changed = true;
        Ok(())
    }
}
