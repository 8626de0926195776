//! A project's memory: what its sessions decided, the corrections the user
//! made and repeated, the errors met and what fixed them, and the files
//! most read and changed.
//!
//! A project is the directory the agent ran in. Its memory is kept as one
//! [`Contribution`] per session (`projects/<dir>/memory.json`), each
//! replaced whole whenever its session's review moves on, so folding a
//! session twice can never count it twice. [`MemoryView`] merges them for
//! the Markdown files, `logbook memory` and the brief a new session gets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use logbook_core::SessionId;
use serde::{Deserialize, Serialize};

use crate::review::{Entry, ErrorCase, SessionFold};

/// Decisions, corrections and notes one session gives its project, at most.
const TEXTS_PER_SESSION: usize = 20;
/// Errors one session gives, at most.
const ERRORS_PER_SESSION: usize = 10;
/// Files one session gives (the most touched), at most.
const FILES_PER_SESSION: usize = 30;
/// Entries each Markdown file lists, at most.
const LISTED: usize = 100;
/// The longest line a brief holds.
const BRIEF_LINE_CHARS: usize = 240;

/// How much one session read and changed one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUse {
    /// The path, relative to the project when inside it.
    pub path: String,
    /// Reads that succeeded.
    pub reads: u64,
    /// Changes that succeeded.
    pub changes: u64,
    /// Sessions that touched it (in a merged view).
    #[serde(default)]
    pub sessions: u64,
}

/// What one session gives its project's memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// The session.
    pub session_id: SessionId,
    /// Its agent.
    pub agent: Option<String>,
    /// When it began.
    pub at: Option<String>,
    /// Decisions.
    pub decisions: Vec<Entry>,
    /// Corrections.
    pub corrections: Vec<Entry>,
    /// `note --memory`.
    pub remembered: Vec<Entry>,
    /// Errors fixed, or repeated without a fix.
    pub errors: Vec<ErrorCase>,
    /// The files it touched most.
    pub files: Vec<FileUse>,
}

impl Contribution {
    /// What `fold`'s session gives its project.
    pub fn of(fold: &SessionFold) -> Contribution {
        let newest =
            |entries: &[Entry]| entries[entries.len().saturating_sub(TEXTS_PER_SESSION)..].to_vec();
        let mut files: BTreeMap<&str, FileUse> = BTreeMap::new();
        for (path, reads) in &fold.reads {
            files.entry(path).or_default().reads = *reads;
        }
        for (path, change) in &fold.changes {
            files.entry(path).or_default().changes = change.edits;
        }
        let mut files: Vec<FileUse> = files
            .into_iter()
            .map(|(path, f)| FileUse {
                path: path.to_owned(),
                sessions: 1,
                ..f
            })
            .collect();
        files.sort_by(|a, b| {
            (b.changes, b.reads)
                .cmp(&(a.changes, a.reads))
                .then_with(|| a.path.cmp(&b.path))
        });
        files.truncate(FILES_PER_SESSION);
        let errors = fold.errors();
        Contribution {
            session_id: fold.session_id,
            agent: fold.agent.clone(),
            at: fold.first_at.clone().or_else(|| fold.started_at.clone()),
            decisions: newest(&fold.decisions),
            corrections: newest(&fold.corrections),
            remembered: newest(&fold.remembered),
            errors: errors[errors.len().saturating_sub(ERRORS_PER_SESSION)..].to_vec(),
            files,
        }
    }
}

/// `projects/<dir>/memory.json`: the project and each session's part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectMemory {
    /// The project directory.
    pub project: String,
    /// One per session, in session order.
    pub sessions: Vec<Contribution>,
}

impl ProjectMemory {
    /// An empty memory of `project`.
    pub fn new(project: &str) -> Self {
        ProjectMemory {
            project: project.to_owned(),
            sessions: Vec::new(),
        }
    }

    /// Puts `part` in place of what its session gave before; whether
    /// anything changed.
    pub fn replace(&mut self, part: Contribution) -> bool {
        match self
            .sessions
            .binary_search_by_key(&part.session_id, |c| c.session_id)
        {
            Ok(i) if self.sessions[i] == part => false,
            Ok(i) => {
                self.sessions[i] = part;
                true
            }
            Err(i) => {
                self.sessions.insert(i, part);
                true
            }
        }
    }

    /// The sessions' parts merged.
    pub fn view(&self) -> MemoryView {
        let mut remembered = Vec::new();
        let mut decisions = Vec::new();
        let mut corrections: BTreeMap<String, Standing> = BTreeMap::new();
        let mut errors = Vec::new();
        let mut files: BTreeMap<String, FileUse> = BTreeMap::new();
        for part in &self.sessions {
            let noted = |e: &Entry| Noted {
                text: e.text.clone(),
                at: e.at.clone().or_else(|| part.at.clone()),
                session_id: part.session_id,
            };
            remembered.extend(part.remembered.iter().map(noted));
            decisions.extend(part.decisions.iter().map(noted));
            for c in &part.corrections {
                let at = c.at.clone().or_else(|| part.at.clone());
                let standing = corrections
                    .entry(normal(&c.text))
                    .or_insert_with(|| Standing {
                        text: c.text.clone(),
                        times: 0,
                        sessions: 0,
                        first_at: at.clone(),
                        last_at: None,
                        last_session: part.session_id,
                    });
                standing.times += 1;
                if standing.last_session != part.session_id || standing.times == 1 {
                    standing.sessions += 1;
                }
                // The newest wording of it stands.
                if at >= standing.last_at {
                    standing.text.clone_from(&c.text);
                    standing.last_at = at;
                }
                standing.last_session = part.session_id;
            }
            errors.extend(part.errors.iter().map(|e| KnownError {
                error: e.clone(),
                session_id: part.session_id,
            }));
            for f in &part.files {
                let merged = files.entry(f.path.clone()).or_insert_with(|| FileUse {
                    path: f.path.clone(),
                    ..FileUse::default()
                });
                merged.reads += f.reads;
                merged.changes += f.changes;
                merged.sessions += 1;
            }
        }
        let newest_first =
            |a: &Noted, b: &Noted| b.at.cmp(&a.at).then(b.session_id.cmp(&a.session_id));
        remembered.sort_by(newest_first);
        decisions.sort_by(newest_first);
        let mut corrections: Vec<Standing> = corrections.into_values().collect();
        corrections.sort_by(|a, b| (&b.last_at, b.last_session).cmp(&(&a.last_at, a.last_session)));
        errors.sort_by(|a, b| {
            let at = |e: &KnownError| e.error.fixed_at.clone().or(e.error.failed_at.clone());
            at(b).cmp(&at(a))
        });
        let mut files: Vec<FileUse> = files.into_values().collect();
        files.sort_by(|a, b| {
            (b.changes, b.reads)
                .cmp(&(a.changes, a.reads))
                .then_with(|| a.path.cmp(&b.path))
        });
        for list in [&mut remembered, &mut decisions] {
            list.truncate(LISTED);
        }
        corrections.truncate(LISTED);
        errors.truncate(LISTED);
        files.truncate(LISTED);
        MemoryView {
            project: self.project.clone(),
            sessions: self.sessions.len() as u64,
            remembered,
            decisions,
            corrections,
            errors,
            files,
        }
    }
}

/// A decision or note, with its session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noted {
    /// What was said.
    pub text: String,
    /// When.
    pub at: Option<String>,
    /// In which session.
    pub session_id: SessionId,
}

/// A correction, however many times the user made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// Its newest wording.
    pub text: String,
    /// How many times it was said.
    pub times: u64,
    /// In how many sessions.
    pub sessions: u64,
    /// When first said.
    pub first_at: Option<String>,
    /// When last said.
    pub last_at: Option<String>,
    /// The session that last said it.
    pub last_session: SessionId,
}

/// An error met, with its session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownError {
    /// What failed and what fixed it.
    #[serde(flatten)]
    pub error: ErrorCase,
    /// Where.
    pub session_id: SessionId,
}

/// A project's memory, merged: what `logbook memory --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryView {
    /// The project directory.
    pub project: String,
    /// Sessions recorded in it.
    pub sessions: u64,
    /// `note --memory`, newest first.
    pub remembered: Vec<Noted>,
    /// Decisions, newest first.
    pub decisions: Vec<Noted>,
    /// Corrections, the most recently said first.
    pub corrections: Vec<Standing>,
    /// Errors, newest first.
    pub errors: Vec<KnownError>,
    /// Files, the most changed first.
    pub files: Vec<FileUse>,
}

/// A correction's text as compared with others: case, spacing and final
/// punctuation aside.
fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', '!', '?', ' '])
        .to_lowercase()
}

fn day(at: &Option<String>) -> &str {
    at.as_deref().and_then(|a| a.get(..10)).unwrap_or("?")
}

fn short(id: SessionId) -> String {
    id.to_string().chars().take(8).collect()
}

/// One line of Markdown list text: no line breaks inside.
fn inline(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const WRITTEN_BY: &str = "Written by logbook from its log; edits here are overwritten.";

impl MemoryView {
    /// `decisions.md`.
    pub fn decisions_md(&self) -> String {
        let mut md = format!("# Decisions: {}\n\n{WRITTEN_BY}\n", self.project);
        for (title, list) in [
            ("Remembered", &self.remembered),
            ("Decided", &self.decisions),
        ] {
            let _ = write!(md, "\n## {title}\n\n");
            if list.is_empty() {
                md.push_str("Nothing yet.\n");
            }
            for n in list {
                let _ = writeln!(
                    md,
                    "- {} ({}, session {})",
                    inline(&n.text),
                    day(&n.at),
                    short(n.session_id)
                );
            }
        }
        md
    }

    /// `corrections.md`.
    pub fn corrections_md(&self) -> String {
        let mut md = format!(
            "# Corrections: {}\n\nWhat the user corrected, the most recently said first; \
             repeated ones are standing instructions. {WRITTEN_BY}\n\n",
            self.project
        );
        if self.corrections.is_empty() {
            md.push_str("Nothing yet.\n");
        }
        for c in &self.corrections {
            let times = if c.times > 1 {
                format!(", said {} times in {} sessions", c.times, c.sessions)
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "- {} (last {}{times})",
                inline(&c.text),
                day(&c.last_at)
            );
        }
        md
    }

    /// `errors.md`.
    pub fn errors_md(&self) -> String {
        let mut md = format!(
            "# Errors: {}\n\nCommands that failed, and what the log shows fixed them. {WRITTEN_BY}\n\n",
            self.project
        );
        if self.errors.is_empty() {
            md.push_str("Nothing yet.\n");
        }
        for e in &self.errors {
            let _ = writeln!(md, "- {}", error_line(e));
        }
        md
    }

    /// `files.md`.
    pub fn files_md(&self) -> String {
        let mut md = format!(
            "# Files: {}\n\nThe files this project's sessions changed and read most. {WRITTEN_BY}\n\n",
            self.project
        );
        if self.files.is_empty() {
            md.push_str("Nothing yet.\n");
            return md;
        }
        md.push_str("| file | changes | reads | sessions |\n|---|---:|---:|---:|\n");
        for f in &self.files {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                f.path.replace('|', "\\|").replace('`', "'"),
                f.changes,
                f.reads,
                f.sessions
            );
        }
        md
    }

    /// The brief a new session in this project is given: at most
    /// `max_chars` characters, whole lines only; `None` when nothing was
    /// corrected, remembered, decided or fixed there.
    pub fn brief(&self, max_chars: usize) -> Option<String> {
        let mut sections: Vec<(String, Vec<String>)> = Vec::new();
        let list = |title: &str, lines: Vec<String>| (title.to_owned(), lines);
        // Corrections first: they are what the user had to say twice.
        sections.push(list(
            "Standing corrections (newest first):",
            self.corrections.iter().map(|c| inline(&c.text)).collect(),
        ));
        sections.push(list(
            "Remember:",
            self.remembered.iter().map(|n| inline(&n.text)).collect(),
        ));
        sections.push(list(
            "Decisions (newest first):",
            self.decisions.iter().map(|n| inline(&n.text)).collect(),
        ));
        sections.push(list(
            "Known errors:",
            self.errors.iter().map(error_line).collect(),
        ));
        let changed: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.changes > 0)
            .take(8)
            .map(|f| format!("{} ({})", f.path, f.changes))
            .collect();
        if !changed.is_empty() {
            sections.push(list("Most changed files:", vec![changed.join(", ")]));
        }
        // Files alone are no reason to add to a new session's context.
        if sections[..4].iter().all(|(_, lines)| lines.is_empty()) {
            return None;
        }
        let mut brief = format!(
            "logbook: what {} earlier session(s) in this project left (`logbook memory` has it all).\n",
            self.sessions
        );
        if brief.chars().count() > max_chars {
            return None;
        }
        let mut used = brief.chars().count();
        for (title, lines) in sections {
            let mut lines = lines.into_iter().peekable();
            if lines.peek().is_none() {
                continue;
            }
            let head = format!("{title}\n");
            let mut section = String::new();
            for line in lines {
                let line = format!("- {}\n", crate::review::cut(&line));
                let line = match line.char_indices().nth(BRIEF_LINE_CHARS) {
                    Some((at, _)) => format!("{}…\n", &line[..at]),
                    None => line,
                };
                let cost = line.chars().count()
                    + if section.is_empty() {
                        head.chars().count()
                    } else {
                        0
                    };
                if used + cost > max_chars {
                    break;
                }
                if section.is_empty() {
                    section.push_str(&head);
                }
                section.push_str(&line);
                used += cost;
            }
            brief.push_str(&section);
        }
        Some(brief)
    }
}

fn error_line(e: &KnownError) -> String {
    let err = &e.error;
    let times = if err.failures > 1 {
        format!(" {}×", err.failures)
    } else {
        String::new()
    };
    let what = if err.error.is_empty() {
        String::new()
    } else {
        format!(": {}", inline(&err.error))
    };
    let fix = match &err.fixed_at {
        Some(at) if err.fixed_by.is_empty() => {
            format!(" → passed again {}", day(&Some(at.clone())))
        }
        Some(at) => format!(
            " → fixed {} after changing {}",
            day(&Some(at.clone())),
            err.fixed_by.join(", ")
        ),
        None => " → not fixed".to_owned(),
    };
    format!("`{}` failed{times}{what}{fix}", inline(&err.command))
}

/// The folder of `project`'s memory under the store: its last name (made
/// safe) and a digest of the whole path, so two projects never share one.
pub fn project_dir(project: &str) -> String {
    let name: String = project
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let name = name.trim_matches('-');
    let digest = blake3::hash(project.as_bytes()).to_hex();
    let digest = &digest.as_str()[..12];
    if name.is_empty() {
        format!("projects/{digest}")
    } else {
        format!("projects/{name}-{digest}")
    }
}

/// The file of `project`'s memory.
pub fn memory_path(project: &str) -> String {
    format!("{}/memory.json", project_dir(project))
}

/// The Markdown files of a project's memory, by name.
pub const MARKDOWN: [&str; 4] = ["decisions.md", "corrections.md", "errors.md", "files.md"];
