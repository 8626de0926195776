//! Flat memory: import, verify and replay of a corpus larger than their
//! memory bound stay under it. Peak RSS is read from /proc (VmHWM) while
//! the real process runs on its own (no daemon), so it is that command's.

use logbook_tests::Store;

/// What the store issue allows any of them at any corpus size.
const BOUND: u64 = 150 << 20;

/// Runs `logbook ARGS` in its own process; returns its peak RSS in bytes.
fn peak_rss(store: &Store, args: &[&str]) -> u64 {
    logbook_tests::run_measured(store.cmd().env("LOGBOOK_DAEMON", "off").args(args)).1
}

#[test]
fn import_verify_and_replay_stay_under_the_bound_on_a_corpus_larger_than_it() {
    let store = Store::in_process();
    let corpus = store.scratch().join("corpus");
    // Larger than the bound: before the log was compressed an import
    // peaked at about 1.2 bytes of memory per transcript byte.
    let bytes = logbook_tests::corpus::generate(&corpus, BOUND + (50 << 20));
    assert!(bytes > BOUND + (40 << 20));
    let corpus = corpus.to_str().unwrap();
    for args in [
        &["import", corpus][..],
        &["verify"][..],
        &["replay"][..],
        &["export"][..],
    ] {
        let peak = peak_rss(&store, args);
        eprintln!("logbook {args:?}: peak RSS {} MB", peak >> 20);
        assert!(
            peak < BOUND,
            "logbook {args:?} peaked at {} MB on a {} MB corpus",
            peak >> 20,
            bytes >> 20
        );
    }
}
