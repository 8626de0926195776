use futures::executor::block_on;
use logbook_core::sessions::SessionFileProjection;
use logbook_core::{
    Event, MemoryCursors, MemoryFiles, NoteKind, NoteRecorded, Origin, Projection, SessionStarted,
    catch_up,
};

use super::*;

fn open(dir: &Path) -> SledLog {
    SledLog::open(dir, &StoreOptions::default()).unwrap()
}

fn note(text: &str) -> Event {
    Event::NoteRecorded(NoteRecorded {
        kind: NoteKind::Memory,
        text: text.into(),
    })
}

fn new(session: SessionId, expected: u64, event: Event) -> NewEvent {
    NewEvent {
        session,
        expected_session_seq: expected,
        event,
    }
}

#[test]
fn sequences_are_gap_free_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = SessionId::new_v7();
    {
        let log = open(dir.path());
        block_on(log.append(vec![new(s, 0, note("a")), new(s, 1, note("b"))])).unwrap();
    }
    let log = open(dir.path());
    let third = block_on(log.append(vec![new(s, 2, note("c"))])).unwrap();
    assert_eq!(third[0].seq, 3);
    assert_eq!(third[0].session_seq, 3);
    let all = block_on(log.read_from(1, 100)).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[0].prev_hash, Hash::ZERO);
    assert_eq!(
        all[1].prev_hash,
        Hash(*blake3::hash(&all[0].encode().unwrap()).as_bytes())
    );
    assert_eq!(block_on(log.head()).unwrap().seq, 3);
}

#[test]
fn wrong_expected_sequence_is_a_conflict_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let (a, b) = (SessionId::new_v7(), SessionId::new_v7());
    block_on(log.append(vec![new(a, 0, note("a1"))])).unwrap();
    // The first item is fine, the second conflicts: the batch is all or nothing.
    let err =
        block_on(log.append(vec![new(b, 0, note("b1")), new(a, 0, note("a-again"))])).unwrap_err();
    assert!(matches!(
        err,
        LogError::Conflict {
            expected: 0,
            actual: 1,
            ..
        }
    ));
    assert_eq!(block_on(log.head()).unwrap().seq, 1);
    assert!(block_on(log.read_session(b)).unwrap().is_empty());
    assert_eq!(block_on(log.sessions()).unwrap(), vec![a]);
}

#[test]
fn batch_counts_its_own_events_per_session() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = SessionId::new_v7();
    let stored = block_on(log.append((0..1000).map(|i| new(a, i, note("x"))).collect())).unwrap();
    assert_eq!(stored.last().unwrap().session_seq, 1000);
    assert_eq!(block_on(log.read_session(a)).unwrap().len(), 1000);
    assert!(log.verify_chain().unwrap().problem.is_none());
}

#[test]
fn empty_batch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert!(matches!(
        block_on(log.append(vec![])),
        Err(LogError::EmptyBatch)
    ));
}

#[test]
fn sessions_index_supports_prefix_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let ids: Vec<SessionId> = (0..5).map(|_| SessionId::new_v7()).collect();
    for id in &ids {
        block_on(log.append(vec![new(*id, 0, note("x"))])).unwrap();
    }
    let prefix = logbook_core::IdPrefix::parse(&ids[3].to_string()[..30]).unwrap();
    let (lo, hi) = prefix.byte_range();
    assert_eq!(log.sessions_in(lo, hi).unwrap(), vec![ids[3]]);
    assert_eq!(block_on(log.sessions()).unwrap(), ids);
}

#[test]
fn times_never_decrease_and_seq_at_time_finds_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = SessionId::new_v7();
    let mut stamps = vec![];
    for i in 0..5 {
        let e = block_on(log.append(vec![new(s, i, note("x"))])).unwrap();
        stamps.push(e[0].at);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(log.seq_at_time(stamps[2]).unwrap(), 3);
    assert_eq!(log.seq_at_time(Timestamp::from_micros(0)).unwrap(), 0);
    assert_eq!(
        log.seq_at_time(Timestamp::from_micros(i64::MAX)).unwrap(),
        5
    );
}

#[cfg(feature = "fault-injection")]
#[test]
fn tampering_names_the_altered_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = SessionId::new_v7();
    for i in 0..4 {
        block_on(log.append(vec![new(s, i, note(&format!("note {i}")))])).unwrap();
    }
    let mut env = Envelope::decode(&log.raw(2).unwrap().unwrap()).unwrap();
    env.event = note("rewritten history");
    log.tamper_with(2, &env.encode().unwrap()).unwrap();
    let problem = log.verify_chain().unwrap().problem.unwrap();
    assert_eq!(problem.seq(), 2, "{problem}");
    assert!(problem.to_string().contains("seq 3"));
}

#[cfg(feature = "fault-injection")]
#[test]
fn tampering_with_the_last_event_is_caught_by_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = SessionId::new_v7();
    for i in 0..3 {
        block_on(log.append(vec![new(s, i, note("n"))])).unwrap();
    }
    let mut last = Envelope::decode(&log.raw(3).unwrap().unwrap()).unwrap();
    last.event = note("changed tail");
    log.tamper_with(3, &last.encode().unwrap()).unwrap();
    let problem = log.verify_chain().unwrap().problem.unwrap();
    assert_eq!(problem.seq(), 3);
    assert!(problem.to_string().contains("head"));
    log.tamper_with(1, b"\x01garbage").unwrap();
    assert!(matches!(
        log.verify_chain().unwrap().problem,
        Some(ChainProblem::Undecodable { seq: 1, .. })
    ));
}

fn start(s: SessionId) -> NewEvent {
    new(
        s,
        0,
        Event::SessionStarted(SessionStarted {
            command: Some("b".into()),
            agent: None,
            origin: Origin::Fresh,
        }),
    )
}

#[test]
fn catch_up_is_incremental_idempotent_and_equals_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let projections: Vec<Box<dyn Projection>> = vec![Box::new(SessionFileProjection::new(60_000))];
    let live = MemoryFiles::default();
    let mut sessions = vec![];
    for round in 0..600u64 {
        let s = SessionId::new_v7();
        sessions.push(s);
        block_on(log.append(vec![start(s)])).unwrap();
        if round % 100 == 0 {
            block_on(catch_up(&log, &log, &live, &projections, None)).unwrap();
        }
    }
    block_on(catch_up(&log, &log, &live, &projections, None)).unwrap();
    assert_eq!(ProjectionCursors::get(&log, "session-json").unwrap(), 600);
    // Nothing new: nothing read.
    assert_eq!(
        block_on(catch_up(&log, &log, &live, &projections, None)).unwrap(),
        0
    );
    let rebuilt = MemoryFiles::default();
    block_on(catch_up(
        &log,
        &MemoryCursors::default(),
        &rebuilt,
        &projections,
        None,
    ))
    .unwrap();
    assert_eq!(live.snapshot(), rebuilt.snapshot());
    assert_eq!(live.snapshot().len(), 600);
    // Re-applying from scratch onto existing files changes nothing.
    block_on(catch_up(
        &log,
        &MemoryCursors::default(),
        &live,
        &projections,
        None,
    ))
    .unwrap();
    assert_eq!(live.snapshot(), rebuilt.snapshot());

    // As of seq 10: ten files.
    let past = MemoryFiles::default();
    block_on(catch_up(
        &log,
        &MemoryCursors::default(),
        &past,
        &projections,
        Some(10),
    ))
    .unwrap();
    assert_eq!(past.snapshot().len(), 10);
}

#[test]
fn indexes_lost_in_a_crash_are_rederived_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = SessionId::new_v7();
    let t = SessionId::new_v7();
    {
        let log = open(dir.path());
        block_on(log.append(vec![new(s, 0, note("a"))])).unwrap();
        let head_after_first = log.meta.get(HEAD_KEY).unwrap().unwrap();
        block_on(log.append(vec![new(s, 1, note("b")), new(t, 0, note("c"))])).unwrap();
        // What a crash between the events batch and the index writes leaves.
        log.by_session.remove(index_key(s, 2)).unwrap();
        log.by_session.remove(index_key(t, 1)).unwrap();
        assert_eq!(log.by_session.len(), 1);
        log.sessions.remove(t.as_bytes()).unwrap();
        log.meta.insert(HEAD_KEY, head_after_first).unwrap();
        log.flush().unwrap();
    }
    let log = open(dir.path());
    assert_eq!(block_on(log.head()).unwrap().seq, 3);
    assert_eq!(block_on(log.read_session(s)).unwrap().len(), 2);
    assert_eq!(block_on(log.sessions()).unwrap(), vec![s, t]);
    assert!(log.verify_chain().unwrap().problem.is_none());
    // And the next append continues the chain where it really ends.
    let next = block_on(log.append(vec![new(t, 1, note("d"))])).unwrap();
    assert_eq!(next[0].seq, 4);
}

#[test]
fn the_index_holds_one_run_per_session_per_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let (a, b) = (SessionId::new_v7(), SessionId::new_v7());
    // a a b a: three runs; then a again: a fourth.
    block_on(log.append(vec![
        new(a, 0, note("1")),
        new(a, 1, note("2")),
        new(b, 0, note("3")),
        new(a, 2, note("4")),
    ]))
    .unwrap();
    block_on(log.append(vec![new(a, 3, note("5"))])).unwrap();
    assert_eq!(log.by_session.len(), 4);
    let seqs: Vec<u64> = block_on(log.read_session(a))
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 4, 5]);
    assert!(log.verify_chain().unwrap().problem.is_none());
    // A run that lies about its place is caught.
    log.by_session
        .insert(
            index_key(a, 3),
            &Run {
                session: a,
                session_seq: 3,
                seq: 5,
                len: 1,
            }
            .value()[..],
        )
        .unwrap();
    let problem = log.verify_chain().unwrap().problem.unwrap();
    assert!(
        matches!(problem, ChainProblem::Index { seq: 4, .. }),
        "{problem}"
    );
}

#[test]
fn a_session_range_crosses_runs_and_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let (a, b) = (SessionId::new_v7(), SessionId::new_v7());
    block_on(log.append(vec![
        new(a, 0, note("1")),
        new(a, 1, note("2")),
        new(b, 0, note("x")),
    ]))
    .unwrap();
    block_on(log.append(vec![new(a, 2, note("3")), new(a, 3, note("4"))])).unwrap();
    assert_eq!(block_on(log.session_len(a)).unwrap(), 4);
    assert_eq!(block_on(log.session_len(SessionId::new_v7())).unwrap(), 0);
    let texts = |from, limit| -> Vec<u64> {
        block_on(log.read_session_range(a, from, limit))
            .unwrap()
            .iter()
            .map(|e| e.session_seq)
            .collect()
    };
    assert_eq!(texts(1, 10), [1, 2, 3, 4]);
    assert_eq!(texts(2, 2), [2, 3]);
    assert_eq!(texts(4, 10), [4]);
    assert_eq!(texts(5, 10), Vec::<u64>::new());
    assert_eq!(texts(0, 1), [1]);
}

#[test]
fn an_unfinished_snapshot_left_by_a_kill_does_not_brick_the_store() {
    // What a SIGKILL during sled's snapshot leaves (spacejam/sled#1527).
    let dir = tempfile::tempdir().unwrap();
    let s = SessionId::new_v7();
    {
        let log = open(dir.path());
        block_on(log.append(vec![new(s, 0, note("kept"))])).unwrap();
    }
    let log_dir = dir.path().join("log");
    let mut snapshots: Vec<_> = std::fs::read_dir(&log_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snap."))
        .collect();
    snapshots.sort();
    let unfinished = match snapshots.last() {
        Some(name) => format!("{name}.generating"),
        None => "snap.0000000000000060.generating".to_owned(),
    };
    std::fs::write(log_dir.join(&unfinished), b"").unwrap();
    let log = open(dir.path());
    let all = block_on(log.read_from(1, 10)).unwrap();
    assert_eq!(all.len(), 1);
    assert!(!log_dir.join(&unfinished).exists());
}

#[test]
fn sled_errors_are_told_in_words_not_debug_text() {
    let damaged = sled_words(&sled::Error::Corruption { at: None, bt: () });
    assert!(damaged.contains("damaged"), "{damaged}");
    assert!(!damaged.contains("None") && !damaged.contains("backtrace"));
    let io = sled_words(&sled::Error::Io(std::io::Error::from_raw_os_error(28)));
    assert_eq!(io, "No space left on device (os error 28)");
    let shown = StoreError::Database {
        path: PathBuf::from("/s/log"),
        source: sled::Error::Corruption { at: None, bt: () },
    }
    .to_string();
    assert!(
        shown.starts_with("event log database at /s/log: its files are damaged"),
        "{shown}"
    );
}

#[test]
fn a_poisoned_handle_refuses_appends_until_the_store_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let session = SessionId::new_v7();
    {
        let log = open(dir.path());
        block_on(log.append(vec![new(session, 0, note("kept"))])).unwrap();
        // What a failed flush leaves (a full disk, an I/O error).
        *log.poisoned.lock().unwrap() = Some("No space left on device".into());
        assert!(log.is_poisoned());
        let refused = block_on(log.append(vec![new(session, 1, note("refused"))]));
        assert!(matches!(refused, Err(LogError::Poisoned(_))), "{refused:?}");
    }
    let log = open(dir.path());
    assert!(!log.is_poisoned());
    block_on(log.append(vec![new(session, 1, note("after reopening"))])).unwrap();
    assert_eq!(block_on(log.read_from(1, 10)).unwrap().len(), 2);
}

/// Six notes in two sessions, alternating; returns the sessions.
#[cfg(feature = "fault-injection")]
fn six_notes(log: &SledLog) -> (SessionId, SessionId) {
    let (a, b) = (SessionId::new_v7(), SessionId::new_v7());
    for i in 0..3 {
        block_on(log.append(vec![new(a, i, note(&format!("a{i}")))])).unwrap();
        block_on(log.append(vec![new(b, i, note(&format!("b{i}")))])).unwrap();
    }
    (a, b)
}

#[cfg(feature = "fault-injection")]
fn salvage_here(dir: &Path) -> Salvaged {
    let lock = StoreLock::take(dir, Duration::from_secs(1)).unwrap();
    salvage(dir, &lock, &StoreOptions::default()).unwrap()
}

#[cfg(feature = "fault-injection")]
#[test]
fn salvage_restores_every_readable_event_around_holes_and_names_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let log = open(dir.path());
        six_notes(&log);
        let before = block_on(log.read_from(1, 100)).unwrap();
        let mut altered = before[0].clone();
        altered.event = note("rewritten");
        log.tamper_with(1, &altered.encode().unwrap()).unwrap();
        log.remove_event(3).unwrap();
        log.tamper_with(4, b"\x01garbage").unwrap();
        assert!(log.verify_chain().unwrap().problem.is_some());
        before
    };
    let salvaged = salvage_here(dir.path());
    assert_eq!(salvaged.restored, 4, "{salvaged:?}");
    // Seq 1 was altered, so seq 2 no longer vouches for it.
    assert_eq!(salvaged.verified_prefix, 0);
    assert_eq!(salvaged.last_seq, 6);
    assert_eq!(salvaged.findings.len(), 3, "{:?}", salvaged.findings);
    assert!(matches!(
        salvaged.findings[0],
        Finding::Unconfirmed { seq: 1 }
    ));
    assert!(matches!(
        salvaged.findings[1],
        Finding::Missing { from: 3, to: 3 }
    ));
    assert!(matches!(
        salvaged.findings[2],
        Finding::Unreadable { seq: 4, .. }
    ));
    // The damaged log is kept, whole and still readable.
    assert!(salvaged.kept.starts_with(dir.path().join("damaged")));
    let kept = sled::open(&salvaged.kept).unwrap();
    assert_eq!(kept.open_tree("events").unwrap().len(), 5);
    drop(kept);

    let log = open(dir.path());
    assert!(log.verify_chain().unwrap().problem.is_none());
    let after = block_on(log.read_from(1, 100)).unwrap();
    let kept_of = |seq: usize| &before[seq - 1];
    for (restored, original) in after.iter().zip([1, 2, 5, 6]) {
        assert_eq!(restored.id, kept_of(original).id);
        assert_eq!(restored.at, kept_of(original).at);
        assert_eq!(restored.session, kept_of(original).session);
    }
    assert_eq!(after[0].event, note("rewritten"));
    // Session a lost its second event (the hole at seq 3): its own
    // sequence is renumbered without a gap.
    let a = before[0].session;
    let a_events = block_on(log.read_session(a)).unwrap();
    assert_eq!(
        a_events.iter().map(|e| e.session_seq).collect::<Vec<_>>(),
        [1, 2]
    );
    // And the rebuilt log takes new writes after its head.
    let next = block_on(log.append(vec![new(a, 2, note("a3"))])).unwrap();
    assert_eq!(next[0].seq, 5);
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_log_that_refuses_to_open_past_its_head_is_salvaged_whole() {
    // The state a full disk used to leave: an event stored past the head
    // that does not continue the chain, so every open refused the store.
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        let (a, _) = six_notes(&log);
        let stray = Envelope {
            format: logbook_core::ENVELOPE_FORMAT,
            seq: 7,
            id: logbook_core::EventId::new_v7(),
            at: Timestamp::from_jiff(jiff::Timestamp::now()),
            session: a,
            session_seq: 4,
            prev_hash: Hash([7; 32]),
            event: note("half-written"),
        };
        log.tamper_with(7, &stray.encode().unwrap()).unwrap();
    }
    let refused = SledLog::open(dir.path(), &StoreOptions::default())
        .err()
        .unwrap();
    assert!(refused.to_string().contains("event 7"), "{refused}");
    let salvaged = salvage_here(dir.path());
    assert_eq!(salvaged.restored, 7);
    assert_eq!(salvaged.verified_prefix, 6);
    assert_eq!(salvaged.findings, [Finding::Unconfirmed { seq: 7 }]);
    let log = open(dir.path());
    assert!(log.verify_chain().unwrap().problem.is_none());
    assert_eq!(block_on(log.head()).unwrap().seq, 7);
}

#[test]
fn a_read_is_bounded_by_what_its_envelopes_unpack_to_not_what_they_store() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = SessionId::new_v7();
    let text = "all work and no play ".repeat(50_000); // 1 MB, compresses to little
    for n in 0..20 {
        block_on(log.append(vec![new(s, n, note(&text))])).unwrap();
    }
    let first = block_on(log.read_from(1, 256)).unwrap();
    let stored = first[0].encode().unwrap().len();
    assert!(stored < 64 << 10, "the note was stored in {stored} bytes");
    // 20 MB unpacked but well under the budget stored: a budget of stored
    // bytes would hand back all twenty at once.
    assert!(
        (1..=READ_BUDGET / text.len() + 1).contains(&first.len()),
        "{} envelopes of 1 MB in one read",
        first.len()
    );
    let mut seen = first.len() as u64;
    while seen < 20 {
        let more = block_on(log.read_from(seen + 1, 256)).unwrap();
        assert!(!more.is_empty());
        assert_eq!(more[0].seq, seen + 1);
        seen += more.len() as u64;
    }
}
