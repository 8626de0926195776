//! Anchors: the log's head, signed with a key kept outside the store.
//!
//! A hash chain shows an event was edited, but not that the tail was cut
//! off or the whole store restored from an older copy: the chain of a
//! shorter log is still a valid chain. An anchor kept elsewhere (a commit,
//! a ticket, a backup) remembers how far the log went and what it held
//! there. The signature is a keyed blake3 MAC with a per-user key: the
//! person who anchors is the person who checks, so a MAC is all a
//! signature needs to be, and nobody without the key can forge one.
//!
//! Handoffs and ended sessions carry an unsigned [`Pin`]: a file checked in
//! with the code pins the history up to it, and the repository is what
//! guards that file.

use std::io::Write as _;
use std::path::Path;

use logbook_core::{Hash, Pin};
use serde::{Deserialize, Serialize};

/// The `format` of an anchor file.
pub const FORMAT: &str = "logbook-anchor/1";

/// Why an anchor could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The key file could not be read or created.
    #[error("anchor key {path}: {source}")]
    Key {
        /// The key file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error(
        "anchor key {0} is damaged: it must hold 32 bytes (move it away to make a new one, which cannot check older anchors)"
    )]
    BadKey(String),
    /// The file holds no anchor.
    #[error("{0}")]
    NotAnAnchor(String),
}

/// A per-user signing key (32 random bytes in a 0600 file).
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

impl Key {
    /// The key at `path`, created (0600, in a 0700 directory) on first use.
    pub fn load_or_create(path: &Path) -> Result<Key, AnchorError> {
        let err = |source| AnchorError::Key {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| AnchorError::BadKey(path.display().to_string()))?;
                Ok(Key(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| err(std::io::Error::other(e.to_string())))?;
                if let Some(dir) = path.parent() {
                    use std::os::unix::fs::DirBuilderExt as _;
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(err)?;
                }
                let dir = path.parent().unwrap_or(Path::new("."));
                // Written whole beside it, then linked in only if no key is
                // there yet: two first uses at once must not sign with two
                // keys, nor read a key file the other is still writing.
                let mut file = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
                file.write_all(&bytes).map_err(err)?;
                file.as_file().sync_all().map_err(err)?;
                match file.persist_noclobber(path) {
                    Ok(_) => Ok(Key(bytes)),
                    Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(err(e.error)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// A key from bytes (tests).
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// A short public name of the key, so an anchor says which key signed it.
    pub fn id(&self) -> String {
        blake3::derive_key("logbook anchor key id", &self.0)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn mac(&self, anchor: &Anchor) -> blake3::Hash {
        let message = format!(
            "{FORMAT}\n{}\n{}\n{}\n{}\n{}\n",
            anchor.seq, anchor.hash, anchor.head_at, anchor.anchored_at, anchor.store
        );
        blake3::keyed_hash(&self.0, message.as_bytes())
    }

    /// Signs the head `pin`.
    pub fn sign(&self, pin: Pin, head_at: String, anchored_at: String, store: String) -> Anchor {
        let mut anchor = Anchor {
            format: FORMAT.to_owned(),
            seq: pin.seq,
            hash: pin.hash,
            head_at,
            anchored_at,
            store,
            key_id: self.id(),
            signature: String::new(),
        };
        anchor.signature = self.mac(&anchor).to_hex().to_string();
        anchor
    }

    /// Whether this key signed `anchor` as it stands (constant-time).
    pub fn signed(&self, anchor: &Anchor) -> bool {
        blake3::Hash::from_hex(&anchor.signature).is_ok_and(|sig| sig == self.mac(anchor))
    }
}

/// An anchor file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// [`FORMAT`].
    pub format: String,
    /// The head's seq.
    pub seq: u64,
    /// The head's hash.
    pub hash: Hash,
    /// When the head event was appended.
    pub head_at: String,
    /// When the anchor was made.
    pub anchored_at: String,
    /// The store it was made from (informational: a moved store still
    /// checks).
    pub store: String,
    /// [`Key::id`] of the key that signed it.
    pub key_id: String,
    /// Keyed blake3 of the fields above, hex.
    pub signature: String,
}

impl Anchor {
    /// The pin it holds.
    pub fn pin(&self) -> Pin {
        Pin {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// What a file given to `verify --anchor` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// A signed anchor from `logbook anchor`.
    Signed(Anchor),
    /// The `anchor` pin of a `handoff.json` or `session.json`.
    Unsigned(Pin),
}

impl Pinned {
    /// Reads an anchor file, a handoff or a session file.
    pub fn parse(bytes: &[u8]) -> Result<Pinned, AnchorError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| AnchorError::NotAnAnchor(format!("not JSON: {e}")))?;
        if value.get("format").and_then(serde_json::Value::as_str) == Some(FORMAT) {
            return serde_json::from_value(value)
                .map(Pinned::Signed)
                .map_err(|e| AnchorError::NotAnAnchor(format!("a damaged anchor: {e}")));
        }
        match value.get("anchor") {
            Some(pin) if !pin.is_null() => serde_json::from_value(pin.clone())
                .map(Pinned::Unsigned)
                .map_err(|e| AnchorError::NotAnAnchor(format!("a damaged anchor pin: {e}"))),
            _ => Err(AnchorError::NotAnAnchor(
                "no anchor in it: give a file from `logbook anchor`, a handoff.json, or the session.json of an ended session".into(),
            )),
        }
    }

    /// The pin to check.
    pub fn pin(&self) -> Pin {
        match self {
            Pinned::Signed(a) => a.pin(),
            Pinned::Unsigned(p) => *p,
        }
    }
}

/// What checking a pin against the log found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The log holds the pinned event, unchanged.
    Holds,
    /// The log ends before the pinned event: cut off, or restored from an
    /// older copy.
    Cut {
        /// Where the log ends.
        head: u64,
        /// What the anchor pins.
        pinned: u64,
    },
    /// The event at the pinned seq is not the one anchored: the history
    /// up to it was rewritten (or a different copy went on from it).
    Rewritten {
        /// The pinned seq.
        seq: u64,
    },
    /// The anchor's signature does not match this user's key.
    Forged,
    /// Signed with another key, which this user cannot check.
    OtherKey {
        /// The signer's key id.
        key_id: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Holds => f.write_str("the log holds the anchored history unchanged"),
            Finding::Cut { head, pinned } => write!(
                f,
                "the log ends at seq {head} but the anchor pins seq {pinned}: it was cut off or restored from an older copy"
            ),
            Finding::Rewritten { seq } => write!(
                f,
                "the event at seq {seq} is not the anchored one: the history up to it was rewritten"
            ),
            Finding::Forged => f.write_str(
                "the anchor's signature does not match your key: it was edited or forged",
            ),
            Finding::OtherKey { key_id } => write!(
                f,
                "the anchor was signed with another key ({key_id}), not yours: it cannot be checked here"
            ),
        }
    }
}

/// Checks `pinned` against a log whose head is at `head` and whose event
/// at the pinned seq hashes to `hash_at` (`None` when missing). A signed
/// anchor's signature is checked first, with `key` (a forged anchor says
/// nothing of the log); an unsigned pin needs none.
pub fn check(pinned: &Pinned, key: Option<&Key>, head: u64, hash_at: Option<Hash>) -> Finding {
    if let Pinned::Signed(anchor) = pinned {
        match key {
            Some(key) if anchor.key_id == key.id() => {
                if !key.signed(anchor) {
                    return Finding::Forged;
                }
            }
            _ => {
                return Finding::OtherKey {
                    key_id: anchor.key_id.clone(),
                };
            }
        }
    }
    let pin = pinned.pin();
    if head < pin.seq {
        return Finding::Cut {
            head,
            pinned: pin.seq,
        };
    }
    if pin.seq == 0 {
        return Finding::Holds;
    }
    match hash_at {
        Some(hash) if hash == pin.hash => Finding::Holds,
        _ => Finding::Rewritten { seq: pin.seq },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(seq: u64, byte: u8) -> Pin {
        Pin {
            seq,
            hash: Hash([byte; 32]),
        }
    }

    fn signed(key: &Key) -> Pinned {
        Pinned::Signed(key.sign(pin(10, 7), "t0".into(), "t1".into(), "/s".into()))
    }

    #[test]
    fn an_intact_log_holds_its_anchor() {
        let key = Key::from_bytes([1; 32]);
        assert_eq!(
            check(&signed(&key), Some(&key), 10, Some(Hash([7; 32]))),
            Finding::Holds
        );
        assert_eq!(
            check(&signed(&key), Some(&key), 15, Some(Hash([7; 32]))),
            Finding::Holds
        );
    }

    #[test]
    fn a_shorter_log_is_cut() {
        let key = Key::from_bytes([1; 32]);
        assert_eq!(
            check(&signed(&key), Some(&key), 9, None),
            Finding::Cut {
                head: 9,
                pinned: 10
            }
        );
    }

    #[test]
    fn another_event_at_the_pinned_seq_is_a_rewrite() {
        let key = Key::from_bytes([1; 32]);
        assert_eq!(
            check(&signed(&key), Some(&key), 12, Some(Hash([8; 32]))),
            Finding::Rewritten { seq: 10 }
        );
    }

    #[test]
    fn an_edited_anchor_is_forged_and_another_key_is_named() {
        let key = Key::from_bytes([1; 32]);
        let Pinned::Signed(mut anchor) = signed(&key) else {
            unreachable!()
        };
        // Someone moves the anchor back to match a cut log.
        anchor.seq = 5;
        assert_eq!(
            check(
                &Pinned::Signed(anchor.clone()),
                Some(&key),
                5,
                Some(Hash([7; 32]))
            ),
            Finding::Forged
        );
        let other = Key::from_bytes([2; 32]);
        assert!(matches!(
            check(&signed(&other), Some(&key), 10, Some(Hash([7; 32]))),
            Finding::OtherKey { .. }
        ));
    }

    #[test]
    fn files_parse_as_signed_unsigned_or_a_clear_error() {
        let key = Key::from_bytes([1; 32]);
        let Pinned::Signed(anchor) = signed(&key) else {
            unreachable!()
        };
        let bytes = serde_json::to_vec(&anchor).unwrap();
        assert_eq!(Pinned::parse(&bytes).unwrap(), Pinned::Signed(anchor));
        let handoff = serde_json::json!({"session_id": "x", "anchor": pin(3, 1)});
        assert_eq!(
            Pinned::parse(handoff.to_string().as_bytes()).unwrap(),
            Pinned::Unsigned(pin(3, 1))
        );
        assert!(Pinned::parse(b"{}").is_err());
        assert!(Pinned::parse(b"garbage").is_err());
    }

    #[test]
    fn a_key_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/logbook/anchor.key");
        let first = Key::load_or_create(&path).unwrap();
        let again = Key::load_or_create(&path).unwrap();
        assert_eq!(first.id(), again.id());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            Key::load_or_create(&path),
            Err(AnchorError::BadKey(_))
        ));
    }

    /// Two `logbook anchor`s run at once on a new machine: each must sign
    /// with the one key that ends up on disk, and none may read a key file
    /// that holds only part of its bytes.
    #[test]
    fn keys_created_at_once_are_one_key_and_never_read_half_written() {
        for round in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("cfg{round}/anchor.key"));
            let ids: Vec<Result<String, String>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            Key::load_or_create(&path)
                                .map(|k| k.id())
                                .map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let on_disk = Key::load_or_create(&path).unwrap().id();
            for id in ids {
                assert_eq!(id, Ok(on_disk.clone()), "round {round}");
            }
            // Nothing but the key is left beside it.
            let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, vec![std::ffi::OsString::from("anchor.key")]);
        }
    }
}
