//! logbook-search: full-text search over every session, with tantivy.
//!
//! It owns the index under `<store>/index`: one document per prompt,
//! answer, tool call, tool result, note, compaction summary and API error,
//! with the session, seq, time, role, tool, the files a call named, and the
//! project (the agent's working directory) to filter on. The index is a
//! projection of the log and is never trusted over it: each commit records
//! the log position it reached ([`Pin`]: seq and hash), and an index whose
//! pin the log no longer holds (a salvaged, restored or replaced log) is
//! dropped and rebuilt. [`SearchIndex::catch_up`] indexes what the log
//! holds past the pin, [`SearchIndex::follow`] keeps doing so while
//! another thread appends (an import); `logbook replay` rebuilds it from
//! nothing.
//!
//! ```
//! # futures::executor::block_on(async {
//! use logbook_search::{Query, SearchIndex};
//! let dir = tempfile::tempdir().unwrap();
//! let index = SearchIndex::open(dir.path()).unwrap();
//! assert_eq!(index.position().unwrap().seq, 0);
//! let hits = index.search(&Query::new("anything")).unwrap();
//! assert!(hits.is_empty());
//! # });
//! ```

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod merges;

use merges::BoundedMerges;

use logbook_agents::{CallResult, Effect, Item, Record, Seen};
use logbook_core::{Envelope, Event, EventLog, Hash, LogError, Pin, SessionId, Timestamp};
use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::{BooleanQuery, Occur, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, TantivyDocument,
    Value as _,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// The schema's version: an index of another version is rebuilt.
const SCHEMA_VERSION: &str = "logbook-search/4";

/// The role of a document that says only which files a call used, learned
/// after its result: `files` reads it, `search` does not list it.
const FILE_USE: &str = "file_use";

/// The most text one document holds: a tool result can be a whole file,
/// and its first part is what a search is for.
pub const DOC_CHARS: usize = 32 * 1024;

/// The writer's memory budget: tantivy's floor. More buys fewer, larger
/// segments, at a cost in resident memory the store's bound cannot spare
/// (48 MB took a 200 MB import to 181 MB peak RSS).
const WRITER_BUDGET: usize = 15 << 20;

/// Text handed to the writer between commits during a long catch-up.
/// tantivy queues up to 10,000 documents ahead of its indexing thread, and
/// a commit is the only way to wait for it: committing this often bounds
/// what waits in that queue (and an interrupted catch-up keeps its work).
/// It is about what the writer's budget holds, so segments are no smaller
/// than they would be anyway.
const COMMIT_EVERY: usize = 16 << 20;

/// The most a merge reads: what it holds mapped beside an import (see
/// [`merges`]).
const MERGE_BYTES: u64 = 16 << 20;

/// Why the index failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be opened.
    #[error("search index {path}: {message}")]
    Dir {
        /// The directory.
        path: String,
        /// What failed.
        message: String,
    },
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A query that cannot be run.
    #[error("bad query: {0}")]
    Query(String),
}

#[derive(Clone, Copy)]
struct Fields {
    session: Field,
    seq: Field,
    /// Its place among the documents of its event.
    nth: Field,
    at: Field,
    role: Field,
    tool: Field,
    file: Field,
    project: Field,
    call: Field,
    action: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        session: b.add_text_field("session", STRING | STORED),
        seq: b.add_u64_field("seq", INDEXED | STORED | FAST),
        nth: b.add_u64_field("nth", STORED),
        at: b.add_i64_field("at", INDEXED | STORED | FAST),
        role: b.add_text_field("role", STRING | STORED),
        tool: b.add_text_field("tool", STRING | STORED),
        // Every suffix of each path at a `/`, so `auth.rs` and
        // `src/auth.rs` both find `/repo/src/auth.rs`.
        file: b.add_text_field("file", STRING | STORED),
        // The agent's directory and each of its parents.
        project: b.add_text_field("project", STRING),
        call: b.add_text_field("call", STRING | STORED),
        // What a call did to its files: `read`, `changed` or `used`.
        action: b.add_text_field("action", STORED),
        text: b.add_text_field("text", TEXT | STORED),
    };
    (b.build(), fields)
}

/// What one document says.
#[derive(Debug, Default)]
struct Doc {
    role: &'static str,
    at: i64,
    tool: Option<String>,
    files: Vec<String>,
    call: Option<String>,
    action: Option<&'static str>,
    text: String,
}

/// A search.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// The words (tantivy's query syntax: phrases, AND, OR, -word).
    pub text: String,
    /// Only this session.
    pub session: Option<SessionId>,
    /// Only sessions whose agent ran in this directory or below.
    pub project: Option<String>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Only calls of this tool and their results.
    pub tool: Option<String>,
    /// Only calls that named this file, and their results.
    pub file: Option<String>,
    /// How many hits at most.
    pub limit: usize,
    /// Mask secrets in snippets.
    pub redact: bool,
}

impl Query {
    /// A search for `text` with no filters, 20 hits, redacted.
    pub fn new(text: &str) -> Self {
        Query {
            text: text.to_owned(),
            limit: 20,
            redact: true,
            ..Query::default()
        }
    }
}

/// One hit.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The session.
    pub session: String,
    /// The log event it was read from.
    pub seq: u64,
    /// When (the record's own time when it has one).
    pub at: String,
    /// `prompt`, `assistant`, `tool_call`, `tool_result`, `note`,
    /// `summary`, `error` or `output`.
    pub role: String,
    /// The tool, for calls and results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The file a call named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// BM25 score: higher is better.
    pub score: f32,
    /// A piece of the text around the words found.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched.
    pub highlights: Vec<(usize, usize)>,
}

/// A moment a file was read or changed.
#[derive(Clone, Debug, Serialize)]
pub struct FileUse {
    /// The session.
    pub session: String,
    /// The log event.
    pub seq: u64,
    /// When.
    pub at: String,
    /// The tool.
    pub tool: String,
    /// `read`, `changed` or `used`.
    pub action: &'static str,
    /// The path as the agent named it.
    pub file: String,
}

/// How many tool calls [`Calls`] remembers per generation.
const CALLS_KEPT: usize = 8192;

/// Recent tool calls, call id to (tool, files), for their results: a
/// result follows its call within a few records, so two generations of
/// [`CALLS_KEPT`] bound the memory a long catch-up holds. An older call is
/// looked up in the index itself.
#[derive(Default)]
struct Calls {
    current: HashMap<String, (String, Vec<String>)>,
    previous: HashMap<String, (String, Vec<String>)>,
}

impl Calls {
    fn insert(&mut self, id: String, call: (String, Vec<String>)) {
        if self.current.len() >= CALLS_KEPT {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(id, call);
    }

    fn get(&self, id: &str) -> Option<(String, Vec<String>)> {
        self.current
            .get(id)
            .or_else(|| self.previous.get(id))
            .cloned()
    }

    fn clear(&mut self) {
        self.current.clear();
        self.previous.clear();
    }
}

/// The index of one store.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
    /// Tool calls seen lately, for their results.
    calls: Mutex<Calls>,
    /// Each session's project terms.
    projects: Mutex<HashMap<SessionId, Vec<String>>>,
    /// Per session, items already indexed from records an agent writes
    /// again (Gemini CLI), for the sessions indexed lately.
    seen: Mutex<HashMap<SessionId, Seen>>,
}

/// How many sessions' [`Seen`] windows the index keeps in memory: an agent
/// repeats a message soon after writing it, within the same session.
const SEEN_SESSIONS: usize = 64;

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchIndex({})", self.dir.display())
    }
}

fn dir_error(dir: &Path, e: impl std::fmt::Display) -> SearchError {
    SearchError::Dir {
        path: dir.display().to_string(),
        message: e.to_string(),
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (or recreating it, when it is
    /// of another schema version or will not open) as needed.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        let version = dir.join("logbook-schema");
        let current = std::fs::read_to_string(&version).ok();
        let opened = if current.as_deref() == Some(SCHEMA_VERSION) {
            Index::open_in_dir(dir).ok()
        } else {
            None
        };
        let index = match opened {
            Some(index) => index,
            None => {
                // Derived data: anything else in the directory is an older
                // or broken index.
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(|e| dir_error(dir, e))?;
                }
                std::fs::create_dir_all(dir).map_err(|e| dir_error(dir, e))?;
                let index = Index::create_in_dir(dir, schema)?;
                std::fs::write(&version, SCHEMA_VERSION).map_err(|e| dir_error(dir, e))?;
                index
            }
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            dir: dir.to_owned(),
            calls: Mutex::new(Calls::default()),
            seen: Mutex::new(HashMap::new()),
            projects: Mutex::new(HashMap::new()),
        })
    }

    /// Where the last commit reached in the log.
    pub fn position(&self) -> Result<Pin, SearchError> {
        let payload = self.index.load_metas()?.payload.unwrap_or_default();
        Ok(parse_pin(&payload).unwrap_or(Pin {
            seq: 0,
            hash: Hash::ZERO,
        }))
    }

    /// How many documents the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn writer(&self) -> Result<IndexWriter, SearchError> {
        let options = IndexWriterOptions::builder()
            .num_worker_threads(1)
            .memory_budget_per_thread(WRITER_BUDGET)
            // One merge at a time, so what merges hold mapped is one
            // merge's bytes (tantivy's default runs four at once).
            .num_merge_threads(1)
            .build();
        let writer = self.index.writer_with_options(options)?;
        writer.set_merge_policy(Box::new(BoundedMerges::new(self.dir.clone(), MERGE_BYTES)));
        Ok(writer)
    }

    /// Indexes everything the log holds past the last commit. An index the
    /// log no longer vouches for is emptied first. Returns how many events
    /// were read.
    pub async fn catch_up(&self, log: &dyn EventLog) -> Result<u64, SearchError> {
        self.follow(log, || std::future::ready(false)).await
    }

    /// Indexes the log while something else appends to it, so an import and
    /// its indexing share the machine's cores instead of taking turns.
    /// Whenever the index reaches the log's head it awaits `more`, which
    /// answers whether the log may still grow (the head is read again) or
    /// the appends are over (the index is committed at the last head and
    /// this returns). Returns how many events were read.
    pub async fn follow<W, F>(&self, log: &dyn EventLog, mut more: W) -> Result<u64, SearchError>
    where
        W: FnMut() -> F,
        F: std::future::Future<Output = bool>,
    {
        let mut head = log.head().await?;
        let mut reached = self.position()?;
        let mut writer: Option<IndexWriter> = None;
        let mut read = 0u64;
        let mut since_commit = 0usize;
        let mut last_pass = false;
        loop {
            if reached.seq == head.seq && reached.hash == head.hash {
                if last_pass {
                    break;
                }
                // Appends can land between the head read last and the word
                // that they are over: the head is read again either way.
                last_pass = !more().await;
                head = log.head().await?;
                continue;
            }
            let writer = match &mut writer {
                Some(writer) => writer,
                None => {
                    let opened = self.writer()?;
                    if logbook_core::log::hash_at(log, reached.seq).await? != Some(reached.hash) {
                        tracing::warn!(
                            seq = reached.seq,
                            "the log no longer holds the search index's position; rebuilding it"
                        );
                        opened.delete_all_documents()?;
                        reached = Pin {
                            seq: 0,
                            hash: Hash::ZERO,
                        };
                        self.forget();
                    }
                    writer.insert(opened)
                }
            };
            let mut next = reached.seq + 1;
            while next <= head.seq {
                let batch = log
                    .read_from(next, logbook_core::projection::CATCH_UP_CHUNK)
                    .await?;
                let Some(first) = batch.first() else { break };
                if since_commit >= COMMIT_EVERY {
                    self.commit(writer, Pin::before(first))?;
                    since_commit = 0;
                }
                for env in batch.iter().filter(|e| e.seq <= head.seq) {
                    for (nth, doc) in (0..).zip(self.docs(log, env).await?) {
                        since_commit += doc.text.len();
                        writer.add_document(self.document(env, nth, doc))?;
                    }
                    read += 1;
                    next = env.seq + 1;
                }
            }
            reached = Pin {
                seq: head.seq,
                hash: head.hash,
            };
        }
        if let Some(mut writer) = writer {
            self.commit(&mut writer, reached)?;
            // Merges run in the writer's threads: wait for them, so segments
            // do not pile up across short-lived writers.
            writer.wait_merging_threads()?;
            self.reader.reload()?;
        }
        Ok(read)
    }

    fn commit(&self, writer: &mut IndexWriter, pin: Pin) -> Result<(), SearchError> {
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&format!("{} {}", pin.seq, pin.hash));
        prepared.commit()?;
        Ok(())
    }

    fn forget(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Empties the index (for `replay`, which then catches it up).
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut writer = self.writer()?;
        writer.delete_all_documents()?;
        self.commit(
            &mut writer,
            Pin {
                seq: 0,
                hash: Hash::ZERO,
            },
        )?;
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        self.forget();
        Ok(())
    }

    fn document(&self, env: &Envelope, nth: u64, doc: Doc) -> TantivyDocument {
        let f = self.fields;
        let mut d = TantivyDocument::default();
        d.add_text(f.session, env.session.to_string());
        d.add_u64(f.seq, env.seq);
        d.add_u64(f.nth, nth);
        d.add_i64(f.at, doc.at);
        d.add_text(f.role, doc.role);
        if let Some(tool) = &doc.tool {
            d.add_text(f.tool, tool.to_lowercase());
        }
        for file in &doc.files {
            for suffix in suffixes(file) {
                d.add_text(f.file, suffix);
            }
        }
        if let Some(call) = &doc.call {
            d.add_text(f.call, call);
        }
        if let Some(action) = doc.action {
            d.add_text(f.action, action);
        }
        let projects = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        for project in projects.get(&env.session).into_iter().flatten() {
            d.add_text(f.project, project);
        }
        d.add_text(f.text, doc.text);
        d
    }

    async fn project_of(&self, log: &dyn EventLog, session: SessionId) -> Result<(), SearchError> {
        if self
            .projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&session)
        {
            return Ok(());
        }
        let first = log.read_session_range(session, 1, 1).await?;
        let cwd = first.first().and_then(|e| match &e.event {
            Event::SessionStarted(s) => s.agent.as_ref().and_then(|a| a.cwd.clone()),
            _ => None,
        });
        let terms = cwd.map(|c| ancestors(&c)).unwrap_or_default();
        self.projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session, terms);
        Ok(())
    }

    /// A tool call's tool and files, for its result: from this process's
    /// memory, else from the call's own document.
    fn call(&self, id: &str) -> Option<(String, Vec<String>)> {
        if let Some(found) = self.calls.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Some(found);
        }
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.call, id),
            IndexRecordOption::Basic,
        );
        let (_, address) = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .ok()?
            .into_iter()
            .next()?;
        let doc: TantivyDocument = searcher.doc(address).ok()?;
        let tool = doc.get_first(self.fields.tool)?.as_str()?.to_owned();
        let files = doc
            .get_all(self.fields.file)
            .filter_map(|v| v.as_str())
            .max_by_key(|s| s.len())
            .map(|s| vec![s.to_owned()])
            .unwrap_or_default();
        Some((tool, files))
    }

    async fn docs(&self, log: &dyn EventLog, env: &Envelope) -> Result<Vec<Doc>, SearchError> {
        let at = env.at.as_micros();
        let one = |role, text: &str| {
            vec![Doc {
                role,
                at,
                text: clip(text),
                ..Doc::default()
            }]
        };
        Ok(match &env.event {
            Event::SessionStarted(_) => {
                self.project_of(log, env.session).await?;
                Vec::new()
            }
            Event::TranscriptCaptured(c) => {
                self.project_of(log, env.session).await?;
                if c.source.kind.is_agent_jsonl() {
                    let mut docs = Vec::new();
                    for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                        if let Some(record) =
                            logbook_agents::read(c.source.kind, &c.source.location, line)
                        {
                            self.record_docs(env.session, &record, at, &mut docs);
                        }
                    }
                    docs
                } else {
                    one("output", &String::from_utf8_lossy(&c.bytes.0))
                }
            }
            Event::NoteRecorded(n) => one("note", &n.text),
            Event::CompactionSummarized(s) => one("summary", &s.summary),
            Event::TurnFailed(t) => one("error", &t.error),
            _ => Vec::new(),
        })
    }

    fn record_docs(&self, session: SessionId, record: &Record, at: i64, docs: &mut Vec<Doc>) {
        // Copied history is searchable in the session it was copied from.
        if record.replayed {
            return;
        }
        let at = record
            .at
            .as_deref()
            .and_then(|t| Timestamp::parse(t).ok())
            .map_or(at, Timestamp::as_micros);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > SEEN_SESSIONS && !seen.contains_key(&session) {
            seen.clear();
        }
        let seen = seen.entry(session).or_default();
        for item in record.fresh(seen) {
            let (role, text) = match item {
                Item::Prompt { text, .. } | Item::Interrupt { text } => ("prompt", text),
                Item::Reply { text } => ("assistant", text),
                Item::Summary { text } => ("summary", text),
                Item::Call(call) => {
                    let mut files = paths(&call.input);
                    for path in effect_paths(&call.effects) {
                        if !files.contains(&path) {
                            files.push(path);
                        }
                    }
                    self.calls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(call.id.clone(), (call.name.clone(), files.clone()));
                    let mut text = call.name.clone();
                    strings(&call.input, &mut text);
                    docs.push(Doc {
                        role: "tool_call",
                        at,
                        action: Some(action_of(&call.name, &call.effects)),
                        tool: Some(call.name.clone()),
                        files,
                        call: Some(call.id.clone()),
                        text: clip(&text),
                    });
                    continue;
                }
                // Files a call is found to have used after its result
                // (Codex 0.125 names those a command read when it ends):
                // `files` finds them at that call.
                Item::Touched { id, effects } => {
                    let files: Vec<String> = effect_paths(effects).collect();
                    if files.is_empty() {
                        continue;
                    }
                    let tool = self.call(id).map(|(tool, _)| tool);
                    docs.push(Doc {
                        role: FILE_USE,
                        at,
                        action: Some(action_of(tool.as_deref().unwrap_or_default(), effects)),
                        tool,
                        files,
                        call: Some(id.clone()),
                        text: String::new(),
                    });
                    continue;
                }
                // A background subagent's answer is its call's result.
                Item::Result(CallResult { id, text, .. }) | Item::Finished { id, text, .. } => {
                    // Nothing to find (a command that wrote nothing yet).
                    if text.trim().is_empty() {
                        continue;
                    }
                    let (tool, files) = self
                        .call(id)
                        .map_or((None, Vec::new()), |(t, f)| (Some(t), f));
                    docs.push(Doc {
                        role: "tool_result",
                        at,
                        tool,
                        files,
                        call: Some(id.clone()),
                        action: None,
                        text: clip(text),
                    });
                    continue;
                }
                _ => continue,
            };
            if !text.trim().is_empty() {
                docs.push(Doc {
                    role,
                    at,
                    text: clip(text),
                    ..Doc::default()
                });
            }
        }
    }

    fn filters(&self, q: &Query) -> Vec<(Occur, Box<dyn tantivy::query::Query>)> {
        let f = self.fields;
        let term = |field, text: &str| -> Box<dyn tantivy::query::Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        let mut out = Vec::new();
        if let Some(session) = q.session {
            out.push((Occur::Must, term(f.session, &session.to_string())));
        }
        if let Some(project) = &q.project {
            out.push((Occur::Must, term(f.project, trim_dir(project))));
        }
        if let Some(tool) = &q.tool {
            out.push((Occur::Must, term(f.tool, &tool.to_lowercase())));
        }
        if let Some(file) = &q.file {
            out.push((Occur::Must, term(f.file, normal_path(file))));
        }
        if let Some(since) = q.since {
            out.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.at, since.as_micros())),
                    Bound::Unbounded,
                )),
            ));
        }
        out
    }

    /// Runs a search, best hits first.
    pub fn search(&self, q: &Query) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let mut parser = QueryParser::for_index(&self.index, vec![f.text]);
        parser.set_conjunction_by_default();
        // A query that does not parse is run as far as it does: a search box
        // should not answer a stray quote with an error.
        let (words, _errors) = parser.parse_query_lenient(&literal(&q.text));
        let mut clauses = self.filters(q);
        clauses.push((Occur::Must, words.box_clone()));
        // They hold no text: a match-all query would list them empty.
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_text(f.role, FILE_USE),
                IndexRecordOption::Basic,
            )),
        ));
        let query = BooleanQuery::new(clauses);
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(q.limit.max(1)).order_by_score(),
        )?;
        let mut snippets = SnippetGenerator::create(&searcher, &*words, f.text)?;
        snippets.set_max_num_chars(200);
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = doc
                .get_first(f.text)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            // Masked before the snippet is cut, so no cut leaves part of a
            // secret, and the highlights are of what is shown.
            let shown = logbook_redact::maybe(text, q.redact);
            let snippet = snippets.snippet(&shown);
            let mut highlights: Vec<(usize, usize)> = snippet
                .highlighted()
                .iter()
                .map(|r| (r.start, r.end))
                .collect();
            let fragment = if snippet.fragment().is_empty() {
                logbook_forensics::timeline::cut(&shown)
            } else {
                let (fragment, shift) = whole_masks(&shown, snippet.fragment());
                for h in &mut highlights {
                    *h = (h.0 + shift, h.1 + shift);
                }
                fragment
            };
            hits.push(Hit {
                session: str_field(&doc, f.session),
                seq: doc.get_first(f.seq).and_then(|v| v.as_u64()).unwrap_or(0),
                at: time_field(&doc, f.at),
                role: str_field(&doc, f.role),
                tool: doc
                    .get_first(f.tool)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                file: longest(&doc, f.file),
                score,
                highlights,
                snippet: fragment,
            });
        }
        Ok(hits)
    }

    /// Every call that named `path`, oldest first.
    pub fn files(&self, path: &str) -> Result<Vec<FileUse>, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.file, normal_path(path)),
                    IndexRecordOption::Basic,
                )) as Box<dyn tantivy::query::Query>,
            ),
            (
                Occur::Must,
                Box::new(BooleanQuery::new(
                    ["tool_call", FILE_USE]
                        .into_iter()
                        .map(|role| {
                            (
                                Occur::Should,
                                Box::new(TermQuery::new(
                                    Term::from_field_text(f.role, role),
                                    IndexRecordOption::Basic,
                                ))
                                    as Box<dyn tantivy::query::Query>,
                            )
                        })
                        .collect(),
                )),
            ),
        ]);
        // Every match, unranked: a top-N as large as the index would
        // allocate for every document, not for every match.
        let top = searcher.search(&query, &tantivy::collector::DocSetCollector)?;
        let mut uses = Vec::with_capacity(top.len());
        for address in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let tool = str_field(&doc, f.tool);
            let action = match doc.get_first(f.action).and_then(|v| v.as_str()) {
                Some("read") => "read",
                Some("changed") => "changed",
                _ => "used",
            };
            let nth = doc.get_first(f.nth).and_then(|v| v.as_u64()).unwrap_or(0);
            uses.push((
                nth,
                FileUse {
                    session: str_field(&doc, f.session),
                    seq: doc.get_first(f.seq).and_then(|v| v.as_u64()).unwrap_or(0),
                    at: time_field(&doc, f.at),
                    tool,
                    action,
                    file: longest(&doc, f.file).unwrap_or_default(),
                },
            ));
        }
        // The set comes unordered, and the calls of one record share its
        // time and event: their place in it is the order the agent made
        // them (a read before the write it enabled).
        uses.sort_by(|(n, a), (m, b)| (a.at.as_str(), a.seq, n).cmp(&(b.at.as_str(), b.seq, m)));
        Ok(uses.into_iter().map(|(_, u)| u).collect())
    }
}

/// `fragment` (a snippet cut from `shown` at word boundaries) widened so
/// no mask in it lacks its brackets: `[REDACTED:github-token` cut after its
/// last word reads like a mask that failed. Returns the fragment and how
/// far its start moved back.
fn whole_masks(shown: &str, fragment: &str) -> (String, usize) {
    let Some(start) = shown.find(fragment) else {
        return (fragment.to_owned(), 0);
    };
    let end = start + fragment.len();
    let (mut from, mut to) = (start, end);
    for mask in logbook_redact::mask_spans(shown) {
        if mask.start < from && from < mask.end {
            from = mask.start;
        }
        if mask.start < to && to < mask.end {
            to = mask.end;
        }
    }
    (shown[from..to].to_owned(), start - from)
}

/// The files effects read or changed, as the index names them.
fn effect_paths(effects: &[Effect]) -> impl Iterator<Item = String> + '_ {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Read { path } | Effect::Modify { path } => Some(normal_path(path)),
            _ => None,
        })
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// What a call did to the files it named: what the agent's adapter read in
/// it (every agent's reads and edits), else what Claude Code's search tools
/// are for.
fn action_of(tool: &str, effects: &[Effect]) -> &'static str {
    if effects.iter().any(|e| matches!(e, Effect::Modify { .. })) {
        "changed"
    } else if effects.iter().any(|e| matches!(e, Effect::Read { .. }))
        || ["Grep", "Glob", "LS"].contains(&tool)
    {
        "read"
    } else {
        "used"
    }
}

fn parse_pin(payload: &str) -> Option<Pin> {
    let (seq, hash) = payload.split_once(' ')?;
    let hash: Hash = serde_json::from_value(serde_json::Value::String(hash.to_owned())).ok()?;
    Some(Pin {
        seq: seq.parse().ok()?,
        hash,
    })
}

fn str_field(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn time_field(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_i64())
        .map(|m| Timestamp::from_micros(m).to_string())
        .unwrap_or_default()
}

/// The query with tantivy's field and range syntax (`field:value`,
/// `{a TO b}`) taken as text: the index has one text field and the
/// filters are flags, while what people paste (`localhost:3001`,
/// `std::fs::read`, `Error: File`, `10:00:52`) holds colons. Phrases,
/// `AND`, `OR` and `-word` keep their meaning; a character already
/// escaped stays as it is.
fn literal(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 8);
    let mut quoted = false;
    let mut escaped = false;
    for c in query.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && matches!(c, ':' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The full path of a document's file (the longest of its suffixes).
fn longest(doc: &TantivyDocument, field: Field) -> Option<String> {
    doc.get_all(field)
        .filter_map(|v| v.as_str())
        .max_by_key(|s| s.len())
        .map(str::to_owned)
}

fn clip(text: &str) -> String {
    // No string has more characters than bytes: most need no count.
    if text.len() <= DOC_CHARS {
        return text.to_owned();
    }
    match text.char_indices().nth(DOC_CHARS) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// Every string in a tool's input, one per line.
fn strings(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(s) => {
            out.push('\n');
            out.push_str(s);
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The paths a tool's input names.
fn paths(input: &serde_json::Value) -> Vec<String> {
    ["file_path", "notebook_path", "path"]
        .iter()
        .filter_map(|k| input.get(*k).and_then(serde_json::Value::as_str))
        .filter(|p| !p.is_empty())
        .map(|p| normal_path(p).to_owned())
        .collect()
}

fn normal_path(path: &str) -> &str {
    let path = path.trim();
    path.strip_prefix("./").unwrap_or(path)
}

fn trim_dir(dir: &str) -> &str {
    let trimmed = dir.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// `/a/b/c.rs`, `a/b/c.rs`, `b/c.rs`, `c.rs`.
fn suffixes(path: &str) -> Vec<&str> {
    let mut out = vec![path];
    for (i, _) in path.match_indices('/') {
        let rest = &path[i + 1..];
        if !rest.is_empty() {
            out.push(rest);
        }
        let with_slash = &path[i..];
        if i > 0 && with_slash.len() > 1 {
            out.push(with_slash);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A directory and each of its parents.
fn ancestors(dir: &str) -> Vec<String> {
    let dir = trim_dir(dir);
    let mut out = vec![dir.to_owned()];
    let mut rest = dir;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        if parent.is_empty() {
            break;
        }
        out.push(parent.to_owned());
        rest = parent;
    }
    out
}

#[cfg(test)]
mod tests;
