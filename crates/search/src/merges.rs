//! Which segments the index merges, bounded by bytes.
//!
//! A tantivy merge maps every segment it reads, and reading them touches
//! each page: the bytes a merge reads are resident while it runs, beside
//! the import that feeds the index. tantivy's own policy bounds merges in
//! documents, which says nothing about bytes (a document is a short prompt
//! or 32 KB of tool output), and lets its levels grow without end: at 1 GB
//! of transcripts it merged eight segments of 5 MB at once and held 40 MB
//! of mapped index on top of the import. This policy keeps tantivy's
//! levels (segments of like size merge together, so a document is not
//! rewritten at every commit) and cuts each merge to at most
//! [`BoundedMerges::most`] bytes read; a segment larger than half of that
//! is finished and merges no more. The price is more segments in a large
//! index, which a search visits one by one.

use std::collections::HashMap;
use std::path::PathBuf;

use tantivy::index::{SegmentComponent, SegmentId, SegmentMeta};
use tantivy::indexer::{LogMergePolicy, MergeCandidate, MergePolicy};

/// The merge policy of the writer of one index directory.
#[derive(Debug)]
pub(crate) struct BoundedMerges {
    dir: PathBuf,
    most: u64,
    levels: LogMergePolicy,
}

impl BoundedMerges {
    /// Merges of at most `most` bytes of the segments in `dir`.
    pub(crate) fn new(dir: PathBuf, most: u64) -> Self {
        let mut levels = LogMergePolicy::default();
        // Bytes bound the merges; tantivy's document cap would only cut
        // them again at a size that means nothing here.
        levels.set_max_docs_before_merge(usize::MAX);
        BoundedMerges { dir, most, levels }
    }

    /// The bytes of a segment's files, or `None` when one cannot be read
    /// (a segment being deleted): it is left out until the next call.
    fn bytes(&self, segment: &SegmentMeta) -> Option<u64> {
        let mut components = vec![
            SegmentComponent::Postings,
            SegmentComponent::Positions,
            SegmentComponent::Terms,
            SegmentComponent::Store,
            SegmentComponent::FastFields,
            SegmentComponent::FieldNorms,
        ];
        if segment.has_deletes() {
            components.push(SegmentComponent::Delete);
        }
        components
            .into_iter()
            .map(
                |c| match std::fs::metadata(self.dir.join(segment.relative_path(c))) {
                    Ok(meta) => Some(meta.len()),
                    // A schema without positions or fast fields writes no such
                    // file.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
                    Err(_) => None,
                },
            )
            .sum()
    }
}

impl MergePolicy for BoundedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let sizes: HashMap<SegmentId, u64> = segments
            .iter()
            .filter_map(|s| Some((s.id(), self.bytes(s)?)))
            .filter(|&(_, bytes)| bytes <= self.most / 2)
            .collect();
        let open: Vec<SegmentMeta> = segments
            .iter()
            .filter(|s| sizes.contains_key(&s.id()))
            .cloned()
            .collect();
        let mut merges = Vec::new();
        for MergeCandidate(level) in self.levels.compute_merge_candidates(&open) {
            let mut merge = Vec::new();
            let mut bytes = 0;
            for id in level {
                let size = sizes.get(&id).copied().unwrap_or(0);
                if bytes + size > self.most && !merge.is_empty() {
                    merges.push(std::mem::take(&mut merge));
                    bytes = 0;
                }
                merge.push(id);
                bytes += size;
            }
            merges.push(merge);
        }
        merges
            .into_iter()
            .filter(|merge| merge.len() > 1)
            .map(MergeCandidate)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tantivy::indexer::NoMergePolicy;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use super::*;

    /// The bytes of a segment's files, counted from the directory itself.
    fn on_disk(dir: &Path, id: SegmentId) -> u64 {
        let prefix = id.uuid_string();
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    }

    /// Ten small segments and one of a single large document: tantivy's
    /// levels, which count documents, put all eleven in one merge.
    fn segments(dir: &Path) -> (Vec<SegmentMeta>, SegmentId) {
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", TEXT);
        let index = Index::create_in_dir(dir, schema.build()).unwrap();
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15 << 20).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        for n in 0..10 {
            for m in 0..50 {
                let mut doc = TantivyDocument::new();
                doc.add_text(text, format!("segment {n} document {m} says little"));
                writer.add_document(doc).unwrap();
            }
            writer.commit().unwrap();
        }
        // Words that neither repeat nor compress much.
        let mut state = 7u64;
        let words: Vec<String> = (0..100_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                format!("{:x}", state >> 20)
            })
            .collect();
        let mut doc = TantivyDocument::new();
        doc.add_text(text, words.join(" "));
        writer.add_document(doc).unwrap();
        writer.commit().unwrap();
        let metas = index.searchable_segment_metas().unwrap();
        let big = metas.iter().find(|m| m.num_docs() == 1).unwrap().id();
        (metas, big)
    }

    #[test]
    fn a_merge_reads_at_most_its_bound_and_a_large_segment_merges_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let (metas, big) = segments(dir.path());
        let small = on_disk(
            dir.path(),
            metas.iter().find(|m| m.id() != big).unwrap().id(),
        );
        assert!(on_disk(dir.path(), big) > 100 * small);

        // Unbounded, everything merges at once: what the bound has to cut.
        let unbounded = BoundedMerges::new(dir.path().to_owned(), u64::MAX);
        let merges = unbounded.compute_merge_candidates(&metas);
        assert_eq!(merges.len(), 1);
        assert_eq!(merges[0].0.len(), 11);

        let most = 3 * small + small / 2;
        let bounded = BoundedMerges::new(dir.path().to_owned(), most);
        let merges = bounded.compute_merge_candidates(&metas);
        let merged: Vec<SegmentId> = merges.iter().flat_map(|m| m.0.clone()).collect();
        assert_eq!(merged.len(), 9, "three merges of three: {merges:?}");
        assert!(!merged.contains(&big));
        for MergeCandidate(merge) in &merges {
            let bytes: u64 = merge.iter().map(|&id| on_disk(dir.path(), id)).sum();
            assert!(merge.len() > 1 && bytes <= most, "{merge:?}: {bytes} bytes");
        }
    }
}
