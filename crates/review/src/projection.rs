//! The `review` projection: per session `review-fold.json` (the fold's
//! state), `review.json`, `review.md` and `tasks.json`; per project
//! `projects/<dir>/memory.json` and its Markdown files.
//!
//! A session's fold goes on from its own file when that file ends exactly
//! at the event before (else the session is folded from the log, as the
//! timeline does). A project's memory holds one part per session, replaced
//! whole, so it needs no history: `replay` rebuilds it with everything
//! else.

use std::collections::BTreeMap;

use async_trait::async_trait;
use logbook_core::projection::{SessionFold as Fold, fold_each_session, json_file};
use logbook_core::sessions::{session_dir, session_file};
use logbook_core::{Envelope, EventLog, Projection, ProjectionError, ProjectionFiles, SessionId};
use logbook_tokens::pricing::Price;
use serde::{Deserialize, Serialize};

use crate::markdown::review_md;
use crate::memory::{Contribution, MARKDOWN, ProjectMemory, memory_path, project_dir};
use crate::review::SessionFold;
use crate::tasks::Task;

impl Fold for SessionFold {
    fn seq(&self) -> u64 {
        self.seq
    }

    fn apply(&mut self, env: &Envelope) {
        SessionFold::apply(self, env);
    }
}

/// Files the projection writes in a session directory.
pub const SESSION_FILES: [&str; 4] = ["review-fold.json", "review.json", "review.md", "tasks.json"];

/// The path of a session's file `name` (one of [`SESSION_FILES`]).
pub fn session_path(id: SessionId, name: &str) -> String {
    format!("{}/{name}", session_dir(id))
}

/// `tasks.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksFile {
    /// The session.
    pub session_id: SessionId,
    /// Every task, in creation order.
    pub tasks: Vec<Task>,
}

/// Projects reviews, tasks and project memory.
#[derive(Clone, Debug, Default)]
pub struct ReviewProjection {
    pricing: Vec<(String, Price)>,
}

impl ReviewProjection {
    /// Costs at the built-in list prices, `pricing` over them.
    pub fn new(pricing: Vec<(String, Price)>) -> Self {
        Self { pricing }
    }

    fn load(
        id: SessionId,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<Option<SessionFold>, ProjectionError> {
        Ok(files
            .read(&session_path(id, "review-fold.json"))?
            .and_then(|bytes| serde_json::from_slice::<SessionFold>(&bytes).ok())
            .filter(|f| f.session_id == id))
    }

    fn write_session(
        &self,
        fold: &SessionFold,
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let id = fold.session_id;
        let review = fold.review(&self.pricing);
        let path = session_path(id, "review-fold.json");
        files.write(&path, &json_file(&path, fold)?)?;
        let path = session_path(id, "review.json");
        files.write(&path, &json_file(&path, &review)?)?;
        let path = session_path(id, "review.md");
        files.write(&path, review_md(&review, &fold.tasks.tasks).as_bytes())?;
        let path = session_path(id, "tasks.json");
        let tasks = TasksFile {
            session_id: id,
            tasks: fold.tasks.tasks.clone(),
        };
        files.write(&path, &json_file(&path, &tasks)?)?;
        Ok(())
    }
}

/// A project's memory as stored, if it is.
pub fn load_memory(
    project: &str,
    files: &dyn ProjectionFiles,
) -> Result<Option<ProjectMemory>, ProjectionError> {
    Ok(files
        .read(&memory_path(project))?
        .and_then(|bytes| serde_json::from_slice::<ProjectMemory>(&bytes).ok())
        .filter(|m| m.project == project))
}

fn write_memory(
    memory: &ProjectMemory,
    files: &(dyn ProjectionFiles + 'static),
) -> Result<(), ProjectionError> {
    let path = memory_path(&memory.project);
    files.write(&path, &json_file(&path, memory)?)?;
    let view = memory.view();
    let dir = project_dir(&memory.project);
    for (name, text) in MARKDOWN.iter().zip([
        view.decisions_md(),
        view.corrections_md(),
        view.errors_md(),
        view.files_md(),
    ]) {
        files.write(&format!("{dir}/{name}"), text.as_bytes())?;
    }
    Ok(())
}

#[async_trait]
impl Projection for ReviewProjection {
    fn name(&self) -> &'static str {
        "review"
    }

    fn owns(&self, path: &str) -> bool {
        if let Some((_, file)) = session_file(path) {
            return SESSION_FILES.contains(&file);
        }
        let mut parts = path.split('/');
        matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some("projects"), Some(_), Some(name), None)
                if name == "memory.json" || MARKDOWN.contains(&name)
        )
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let mut memories: BTreeMap<String, (ProjectMemory, bool)> = BTreeMap::new();
        let each = |mut fold: SessionFold| {
            if let Some(project) = fold.project.clone() {
                let part = Contribution::of(&fold);
                let bytes = json_file(&memory_path(&project), &part)?;
                let digest = blake3::hash(&bytes).to_hex().to_string();
                if fold.contributed.as_deref() != Some(digest.as_str()) {
                    if !memories.contains_key(&project) {
                        let memory = load_memory(&project, files)?
                            .unwrap_or_else(|| ProjectMemory::new(&project));
                        memories.insert(project.clone(), (memory, false));
                    }
                    if let Some((memory, changed)) = memories.get_mut(&project) {
                        *changed |= memory.replace(part);
                    }
                    fold.contributed = Some(digest);
                }
            }
            self.write_session(&fold, files)
        };
        fold_each_session(
            log,
            batch,
            |id| Self::load(id, files),
            SessionFold::new,
            each,
        )
        .await?;
        for (memory, changed) in memories.values() {
            if *changed {
                write_memory(memory, files)?;
            }
        }
        Ok(())
    }
}
