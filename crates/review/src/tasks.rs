//! A session's task list (`tasks.json`): what the agent planned and how far
//! it got, from every place a task can come from.
//!
//! Tasks arrive from the agent's todo tool (a whole list each time), its
//! task tools (one task per call, updated by creation order), the
//! `TaskCreated`/`TaskCompleted` hooks, `logbook note --plan` (one task per
//! list item) and `logbook task add`. One task said twice (the tool call
//! and the hook that reports it) is one task: they are matched by the
//! agent's id where there is one, else by their text.

use serde::{Deserialize, Serialize};

/// A status a task may have. Agents use other words too (`cancelled`,
/// `blocked`): those are kept as they are.
pub const PENDING: &str = "pending";
/// Being worked on: edits made now are the task's.
pub const IN_PROGRESS: &str = "in_progress";
/// Done.
pub const COMPLETED: &str = "completed";

/// One task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its number in the session, from 1 (what `logbook task done` takes).
    pub id: u32,
    /// What it is.
    pub text: String,
    /// `pending`, `in_progress`, `completed`, or the agent's own word.
    pub status: String,
    /// Where it came from: `todo`, `task_tool`, `hook`, `plan`, `logbook`.
    pub source: String,
    /// The agent's id of it, when the agent gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// When it was created.
    pub created_at: Option<String>,
    /// When it first went in progress.
    pub started_at: Option<String>,
    /// When it was completed.
    pub finished_at: Option<String>,
    /// Files changed while it was in progress, in the order first changed.
    pub files: Vec<String>,
}

/// The task list and what matching later changes to it needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    /// Every task, in creation order.
    pub tasks: Vec<Task>,
    /// Tasks made by the agent's task tool, in its creation order: its
    /// updates name a task by that position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_tool_order: Vec<usize>,
}

impl TaskList {
    /// How many tasks there are, completed and not.
    pub fn counts(&self) -> (u64, u64) {
        let done = self.tasks.iter().filter(|t| t.status == COMPLETED).count() as u64;
        (self.tasks.len() as u64, done)
    }

    fn find_text(&self, text: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.text == text)
    }

    fn find_agent_id(&self, id: &str) -> Option<usize> {
        if id.is_empty() {
            return None;
        }
        self.tasks
            .iter()
            .position(|t| t.agent_id.as_deref() == Some(id))
    }

    fn create(
        &mut self,
        text: &str,
        source: &str,
        agent_id: Option<&str>,
        at: &Option<String>,
    ) -> usize {
        let id = u32::try_from(self.tasks.len() + 1).unwrap_or(u32::MAX);
        self.tasks.push(Task {
            id,
            text: text.to_owned(),
            status: PENDING.to_owned(),
            source: source.to_owned(),
            agent_id: agent_id.filter(|a| !a.is_empty()).map(str::to_owned),
            created_at: at.clone(),
            started_at: None,
            finished_at: None,
            files: Vec::new(),
        });
        self.tasks.len() - 1
    }

    fn set_status(&mut self, index: usize, status: &str, at: &Option<String>) {
        let Some(task) = self.tasks.get_mut(index) else {
            return;
        };
        if task.status == status {
            return;
        }
        task.status = status.to_owned();
        if status == IN_PROGRESS && task.started_at.is_none() {
            task.started_at.clone_from(at);
        }
        if status == COMPLETED {
            task.finished_at.clone_from(at);
        }
    }

    /// The agent's todo list was replaced by `todos` (text, status). A
    /// task missing from the new list keeps its last status: agents empty
    /// the list once everything is done.
    pub fn todos<'a>(
        &mut self,
        todos: impl IntoIterator<Item = (&'a str, &'a str)>,
        at: &Option<String>,
    ) {
        for (text, status) in todos {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let index = match self.find_text(text) {
                Some(i) => i,
                None => self.create(text, "todo", None, at),
            };
            self.set_status(index, status, at);
        }
    }

    /// The agent's task tool created a task.
    pub fn tool_created(&mut self, text: &str, at: &Option<String>) {
        let text = text.trim();
        let index = match self.find_text(text) {
            Some(i) => i,
            None => self.create(text, "task_tool", None, at),
        };
        self.by_tool_order.push(index);
    }

    /// The agent's task tool changed the status of the task it created
    /// `order`-th (from 0).
    pub fn tool_updated(&mut self, order: usize, status: &str, at: &Option<String>) {
        if let Some(&index) = self.by_tool_order.get(order) {
            self.set_status(index, status, at);
        }
    }

    /// A hook, or `logbook task`, said a task was created.
    pub fn reported_created(
        &mut self,
        agent_id: &str,
        text: &str,
        source: &str,
        at: &Option<String>,
    ) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match self
            .find_agent_id(agent_id)
            .or_else(|| self.find_text(text))
        {
            Some(i) => {
                let task = &mut self.tasks[i];
                if task.agent_id.is_none() && !agent_id.is_empty() {
                    task.agent_id = Some(agent_id.to_owned());
                }
            }
            None => {
                self.create(text, source, Some(agent_id), at);
            }
        }
    }

    /// A hook, or `logbook task done`, said a task was completed.
    pub fn reported_completed(
        &mut self,
        agent_id: &str,
        text: &str,
        source: &str,
        at: &Option<String>,
    ) {
        let index = match self
            .find_agent_id(agent_id)
            .or_else(|| self.find_text(text.trim()))
        {
            Some(i) => i,
            None if text.trim().is_empty() => return,
            None => self.create(text.trim(), source, Some(agent_id), at),
        };
        self.set_status(index, COMPLETED, at);
    }

    /// A plan noted with `logbook note --plan`: one task per list item, or
    /// the first line when the plan is not a list.
    pub fn plan(&mut self, text: &str, at: &Option<String>) {
        let items: Vec<&str> = text.lines().filter_map(list_item).collect();
        let items = if items.is_empty() {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .into_iter()
                .collect()
        } else {
            items
        };
        for item in items {
            if self.find_text(item).is_none() {
                self.create(item, "plan", None, at);
            }
        }
    }

    /// A file was changed: it belongs to every task in progress.
    pub fn changed(&mut self, path: &str) {
        for task in &mut self.tasks {
            if task.status == IN_PROGRESS && !task.files.iter().any(|f| f == path) {
                task.files.push(path.to_owned());
            }
        }
    }
}

/// The text of a Markdown list item (`- x`, `* x`, `1. x`, `- [ ] x`).
fn list_item(line: &str) -> Option<&str> {
    let line = line.trim();
    let rest = if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        rest
    } else {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        line[digits..]
            .strip_prefix(". ")
            .or_else(|| line[digits..].strip_prefix(") "))?
    };
    let rest = rest
        .strip_prefix("[ ] ")
        .or_else(|| rest.strip_prefix("[x] "))
        .unwrap_or(rest)
        .trim();
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn todo_lists_update_by_text_and_keep_tasks_dropped_from_the_list() {
        let mut list = TaskList::default();
        list.todos([("write it", "pending"), ("test it", "pending")], &at("t1"));
        list.todos(
            [("write it", "in_progress"), ("test it", "pending")],
            &at("t2"),
        );
        list.changed("src/lib.rs");
        list.todos(
            [("write it", "completed"), ("test it", "in_progress")],
            &at("t3"),
        );
        list.todos([], &at("t4"));
        let t = &list.tasks;
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].status, COMPLETED);
        assert_eq!(t[0].started_at.as_deref(), Some("t2"));
        assert_eq!(t[0].finished_at.as_deref(), Some("t3"));
        assert_eq!(t[0].files, ["src/lib.rs"]);
        assert_eq!(t[1].status, IN_PROGRESS);
        assert!(t[1].files.is_empty());
        assert_eq!(list.counts(), (2, 1));
    }

    #[test]
    fn a_hook_and_the_tool_call_it_reports_are_one_task() {
        let mut list = TaskList::default();
        list.tool_created("ship it", &at("t1"));
        list.reported_created("7", "ship it", "hook", &at("t1"));
        list.tool_updated(0, IN_PROGRESS, &at("t2"));
        list.reported_completed("7", "", "hook", &at("t3"));
        assert_eq!(list.tasks.len(), 1);
        assert_eq!(list.tasks[0].agent_id.as_deref(), Some("7"));
        assert_eq!(list.tasks[0].status, COMPLETED);
    }

    #[test]
    fn a_plan_gives_one_task_per_list_item() {
        let mut list = TaskList::default();
        list.plan(
            "Plan:\n- read the code\n2. write the fix\n- [ ] test it\n",
            &None,
        );
        let texts: Vec<&str> = list.tasks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["read the code", "write the fix", "test it"]);
        let mut one = TaskList::default();
        one.plan("\n  migrate to sled 0.34\nthen more", &None);
        assert_eq!(one.tasks[0].text, "migrate to sled 0.34");
    }
}
