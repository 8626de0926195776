//! The index against a real sled log holding a real Claude Code transcript.

use logbook_core::{
    AgentInfo, Bytes, Event, EventLog, Hash, NewEvent, NoteKind, NoteRecorded, Origin, SessionId,
    SessionStarted, SourceKind, SourceRef, TranscriptCaptured,
};
use logbook_store::SledLog;

use super::*;

const VIEWER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/claude-code/viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
);

fn id(n: u128) -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(n))
}

fn started(session: SessionId, cwd: &str) -> NewEvent {
    NewEvent {
        session,
        expected_session_seq: 0,
        event: Event::SessionStarted(SessionStarted {
            command: None,
            agent: Some(AgentInfo {
                kind: "claude-code".into(),
                cwd: Some(cwd.into()),
                ..AgentInfo::default()
            }),
            origin: Origin::Fresh,
        }),
    }
}

fn captured(session: SessionId, after: u64, bytes: &[u8]) -> NewEvent {
    NewEvent {
        session,
        expected_session_seq: after,
        event: Event::TranscriptCaptured(TranscriptCaptured {
            source: SourceRef {
                kind: SourceKind::ClaudeCode,
                key: "main".into(),
                location: "t.jsonl".into(),
            },
            byte_start: 0,
            line_start: 0,
            lines: 1,
            fingerprint: Hash::ZERO,
            bytes: Bytes(bytes.to_vec()),
        }),
    }
}

fn note(session: SessionId, after: u64, text: &str) -> NewEvent {
    NewEvent {
        session,
        expected_session_seq: after,
        event: Event::NoteRecorded(NoteRecorded {
            kind: NoteKind::Decision,
            text: text.into(),
        }),
    }
}

/// A log with the real transcript in session 1 (in pieces of 40 lines)
/// and a note in session 2 of another project.
async fn recorded(dir: &Path) -> SledLog {
    let log = SledLog::open(&dir.join("store"), &Default::default()).unwrap();
    let bytes = std::fs::read(VIEWER).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    log.append(vec![started(id(1), "/path/to/Demo")])
        .await
        .unwrap();
    for (n, chunk) in lines.chunks(40).enumerate() {
        log.append(vec![captured(id(1), n as u64 + 1, &chunk.concat())])
            .await
            .unwrap();
    }
    log.append(vec![
        started(id(2), "/elsewhere"),
        note(id(2), 1, "we chose sled for the log"),
    ])
    .await
    .unwrap();
    log
}

/// An index of one session holding `notes`, caught up.
async fn noted(dir: &Path, notes: &[String]) -> SearchIndex {
    let log = SledLog::open(&dir.join("s"), &Default::default()).unwrap();
    let mut events = vec![started(id(1), "/p")];
    for (n, text) in (1..).zip(notes) {
        events.push(note(id(1), n, text));
    }
    log.append(events).await.unwrap();
    let index = SearchIndex::open(&dir.join("index")).unwrap();
    index.catch_up(&log).await.unwrap();
    index
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

#[test]
fn a_real_transcript_is_found_by_words_tool_file_project_and_time() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = recorded(dir.path()).await;
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        let read = index.catch_up(&log).await.unwrap();
        assert_eq!(read, log.head().await.unwrap().seq);

        let hits = index.search(&Query::new("useTodos")).unwrap();
        assert!(hits.len() >= 5, "{hits:?}");
        assert!(hits.iter().all(|h| h.session == id(1).to_string()));
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
        let first = &hits[0];
        let (a, b) = first.highlights[0];
        assert!(
            first.snippet[a..b].eq_ignore_ascii_case("usetodos"),
            "{first:?}"
        );

        // Filters: the tool, a file by its tail, the project and below.
        let edits = index
            .search(&Query {
                tool: Some("Edit".into()),
                ..Query::new("return")
            })
            .unwrap();
        assert!(!edits.is_empty());
        assert!(edits.iter().all(|h| h.tool.as_deref() == Some("edit")));
        let in_file = index
            .search(&Query {
                file: Some("app/page.tsx".into()),
                limit: 100,
                ..Query::new("export")
            })
            .unwrap();
        assert!(!in_file.is_empty());
        assert!(
            in_file
                .iter()
                .all(|h| h.file.as_deref() == Some("/path/to/Demo/todo-app/src/app/page.tsx"))
        );
        let project = |p: &str| {
            index
                .search(&Query {
                    project: Some(p.into()),
                    ..Query::new("sled")
                })
                .unwrap()
                .len()
        };
        assert_eq!(project("/elsewhere"), 1);
        assert_eq!(project("/path/to"), 0);
        assert!(
            index
                .search(&Query {
                    project: Some("/path/to/".into()),
                    ..Query::new("useTodos")
                })
                .unwrap()
                .len()
                >= 5
        );
        let later = Query {
            since: Some(Timestamp::parse("2100-01-01").unwrap()),
            ..Query::new("useTodos")
        };
        assert!(index.search(&later).unwrap().is_empty());

        // `files`: the hand count is 4 Edits and 3 Reads of page.tsx.
        let uses = index.files("src/app/page.tsx").unwrap();
        let count = |action: &str| uses.iter().filter(|u| u.action == action).count();
        assert_eq!((count("changed"), count("read")), (4, 3), "{uses:?}");
        assert!(uses.windows(2).all(|w| w[0].at <= w[1].at));
    });
}

#[test]
fn catching_up_indexes_only_what_is_new() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = recorded(dir.path()).await;
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        index.catch_up(&log).await.unwrap();
        assert_eq!(index.catch_up(&log).await.unwrap(), 0);
        let before = index.len();
        log.append(vec![note(id(2), 2, "zebra crossing decided")])
            .await
            .unwrap();
        assert_eq!(index.catch_up(&log).await.unwrap(), 1);
        assert_eq!(index.len(), before + 1);
        assert_eq!(index.search(&Query::new("zebra")).unwrap().len(), 1);
        // Reopened (another process), it goes on from its commit.
        drop(index);
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        assert_eq!(index.position().unwrap().seq, log.head().await.unwrap().seq);
        assert_eq!(index.catch_up(&log).await.unwrap(), 0);
    });
}

#[test]
fn following_indexes_what_lands_while_it_waits_and_commits_at_the_last_head() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = recorded(dir.path()).await;
        let first_head = log.head().await.unwrap();
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        // Each time the index reaches the head, one more note lands, as an
        // import appends while its indexer waits. The fourth lands just
        // before the indexer is told the appends are over, as an import's
        // last batch can.
        let waits = std::cell::Cell::new(0u64);
        let read = index
            .follow(&log, || {
                let n = waits.get() + 1;
                waits.set(n);
                let log = &log;
                async move {
                    log.append(vec![note(id(2), n + 1, &format!("okapi{n} landed"))])
                        .await
                        .unwrap();
                    n < 4
                }
            })
            .await
            .unwrap();
        assert_eq!(waits.get(), 4);
        let head = log.head().await.unwrap();
        assert_eq!(head.seq, first_head.seq + 4);
        assert_eq!(read, head.seq, "every event read once");
        let position = index.position().unwrap();
        assert_eq!((position.seq, position.hash), (head.seq, head.hash));
        for n in 1..=4 {
            let hits = index.search(&Query::new(&format!("okapi{n}"))).unwrap();
            assert_eq!(hits.len(), 1, "okapi{n}");
        }
        // Nothing new and no more appends: it returns without a commit.
        assert_eq!(index.follow(&log, || async { false }).await.unwrap(), 0);
    });
}

#[test]
fn an_index_the_log_does_not_vouch_for_is_rebuilt() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let index_dir = dir.path().join("index");
        {
            let log = SledLog::open(&dir.path().join("a"), &Default::default()).unwrap();
            log.append(vec![started(id(1), "/p"), note(id(1), 1, "aardvark")])
                .await
                .unwrap();
            SearchIndex::open(&index_dir)
                .unwrap()
                .catch_up(&log)
                .await
                .unwrap();
        }
        // Another log of the same length (a restored or replaced store).
        let log = SledLog::open(&dir.path().join("b"), &Default::default()).unwrap();
        log.append(vec![started(id(1), "/p"), note(id(1), 1, "bison")])
            .await
            .unwrap();
        let index = SearchIndex::open(&index_dir).unwrap();
        assert_eq!(index.catch_up(&log).await.unwrap(), 2);
        assert!(index.search(&Query::new("aardvark")).unwrap().is_empty());
        assert_eq!(index.search(&Query::new("bison")).unwrap().len(), 1);
    });
}

#[test]
fn snippets_are_redacted_unless_asked() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let secret = "sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1JkL";
        let index = noted(
            dir.path(),
            &[format!("deploy with ANTHROPIC_API_KEY={secret} tonight")],
        )
        .await;
        let hits = index.search(&Query::new("deploy")).unwrap();
        assert!(!hits[0].snippet.contains("Zx9Qw8Er7Ty6"), "{hits:?}");
        let raw = index
            .search(&Query {
                redact: false,
                ..Query::new("deploy")
            })
            .unwrap();
        assert!(raw[0].snippet.contains(secret));
    });
}

#[test]
fn path_suffixes_and_project_parents() {
    assert_eq!(
        suffixes("/a/b/c.rs"),
        vec![
            "/a/b/c.rs",
            "/b/c.rs",
            "/c.rs",
            "a/b/c.rs",
            "b/c.rs",
            "c.rs"
        ]
    );
    assert_eq!(ancestors("/a/b/"), vec!["/a/b", "/a"]);
}

#[test]
fn pasted_text_with_colons_is_found_as_written() {
    assert_eq!(literal("localhost:3001"), "localhost\\:3001");
    assert_eq!(literal("\"a:b\" c:d"), "\"a:b\" c\\:d");
    assert_eq!(literal("a\\:b {x}"), "a\\:b \\{x\\}");
    assert_eq!(literal("-std::fs OR x"), "-std\\:\\:fs OR x");
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = recorded(dir.path()).await;
        let index = SearchIndex::open(&dir.path().join("index")).unwrap();
        index.catch_up(&log).await.unwrap();
        // Words: each must match somewhere (a phrase would need quotes).
        for query in ["Error: File", "isLoading: boolean"] {
            assert!(
                !index.search(&Query::new(query)).unwrap().is_empty(),
                "{query}"
            );
        }
        // One term cut at its colon: a phrase of its parts.
        let hits = index.search(&Query::new("localhost:3001")).unwrap();
        assert!(!hits.is_empty());
        assert!(
            hits.iter().all(|h| h.snippet.contains("localhost:3001")),
            "{hits:?}"
        );
    });
}

#[test]
fn a_snippet_never_cuts_a_mask_open() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let secret = "sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1JkL";
        // tantivy cuts a snippet at words: the mask's brackets, at either
        // end of the text, would fall outside it.
        let index = noted(
            dir.path(),
            &[
                format!("deploy with ANTHROPIC_API_KEY={secret}"),
                format!("{secret} rotated after the release"),
            ],
        )
        .await;
        let hits = index.search(&Query::new("deploy")).unwrap();
        let hit = &hits[0];
        assert!(
            hit.snippet.ends_with("=[REDACTED:anthropic-key]"),
            "{hits:?}"
        );
        let (start, end) = hit.highlights[0];
        assert_eq!(&hit.snippet[start..end], "deploy");
        let hits = index.search(&Query::new("rotated")).unwrap();
        let hit = &hits[0];
        assert!(
            hit.snippet.starts_with("[REDACTED:anthropic-key] rotated"),
            "{hits:?}"
        );
        let (start, end) = hit.highlights[0];
        assert_eq!(&hit.snippet[start..end], "rotated");
    });
}
