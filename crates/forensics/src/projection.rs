//! The `timeline` projection: `sessions/<id>/timeline.json`, folded
//! incrementally (the file is its own state, with the last seq it applied)
//! and redacted as it is written: it is read by people and tools outside
//! the store. `logbook timeline --no-redact` folds the log instead.

use async_trait::async_trait;
use logbook_core::projection::{SessionFold, fold_each_session, json_file};
use logbook_core::sessions::{session_dir, session_file};
use logbook_core::{Envelope, EventLog, Projection, ProjectionError, ProjectionFiles, SessionId};

use crate::timeline::Timeline;

impl SessionFold for Timeline {
    fn seq(&self) -> u64 {
        self.seq
    }

    fn apply(&mut self, env: &Envelope) {
        Timeline::apply(self, env);
    }
}

/// The path of a session's `timeline.json`.
pub fn timeline_path(id: SessionId) -> String {
    format!("{}/timeline.json", session_dir(id))
}

/// Projects `timeline.json`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimelineProjection;

impl TimelineProjection {
    fn load(
        id: SessionId,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<Option<Timeline>, ProjectionError> {
        Ok(files
            .read(&timeline_path(id))?
            .and_then(|bytes| serde_json::from_slice::<Timeline>(&bytes).ok())
            .filter(|t| t.session_id == id && t.redacted))
    }
}

#[async_trait]
impl Projection for TimelineProjection {
    fn name(&self) -> &'static str {
        "timeline"
    }

    fn owns(&self, path: &str) -> bool {
        session_file(path).is_some_and(|(_, file)| file == "timeline.json")
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        fold_each_session(
            log,
            batch,
            |id| Self::load(id, files),
            |id| Timeline::new(id, true),
            |timeline| {
                let path = timeline_path(timeline.session_id);
                files.write(&path, &json_file(&path, &timeline)?)
            },
        )
        .await
    }
}
