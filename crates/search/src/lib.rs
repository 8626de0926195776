//! placeholder
pub use tantivy;
