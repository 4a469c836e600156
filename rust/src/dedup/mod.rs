//! Exact and near-duplicate removal: MinHash over code-token shingles, LSH banding, exact
//! Jaccard verification of candidate pairs, union-find clusters, one representative per cluster.
//!
//! Functions are compared on their code (the default view): comments, docstrings and layout
//! are gone and every string literal is its value whatever its quoting (`lexer.rs`), so a copy
//! with its docstring rewritten, comments added or its code reformatted is the same function.
//! `raw_text` compares the tokens as written instead (comments, docstrings, quoting).
//!
//! Memory is bounded by a compact per-function record ([`Deduper::BYTES_PER_FUNCTION`] bytes
//! with the default 42 bands and 256 permutations): sources are hashed as they stream in and
//! never kept, and the record's band keys and sketch go to a temporary file ([`spill`]), so
//! only [`Deduper::RAM_BYTES_PER_FUNCTION`] bytes per function stay in RAM.

pub mod cluster;
mod error;
pub mod inspect;
pub mod lexer;
pub mod minhash;
pub mod replay;
pub mod spill;
pub mod tokens;

pub use cluster::{Deduper, Outcome, Reason, Signatures};
pub use error::DedupError;

/// Bands x rows: 42 x 6, not the 25 x 10 that minimises false positives plus negatives for
/// Jaccard 0.7 with no verification. Verification removes false positives, so the optimum
/// moves to more, shorter bands: a pair at Jaccard 0.7 shares one of 42 x 6 bands 99% of the
/// time, one of 25 x 10 bands 93% (benches/bench_dedup.py).
#[derive(Clone, Debug)]
pub struct DedupConfig {
    /// Tokens per shingle (The Stack: 5).
    pub ngram: usize,
    pub permutations: usize,
    pub bands: usize,
    pub rows: usize,
    /// Jaccard similarity at which two functions are duplicates.
    pub threshold: f64,
    /// Check every LSH candidate pair's exact Jaccard before merging (BigCode skipped it).
    pub verify: bool,
    /// Rename identifiers to placeholders, so renamed copies match.
    pub structural: bool,
    /// Compare the tokens as written (comments, docstrings, string quoting and prefixes
    /// count) instead of the code.
    pub raw_text: bool,
    pub seed: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            ngram: 5,
            permutations: 256,
            bands: 42,
            rows: 6,
            threshold: 0.7,
            verify: true,
            structural: false,
            raw_text: false,
            seed: 1,
        }
    }
}

impl DedupConfig {
    pub fn validate(&self) -> Result<(), DedupError> {
        if self.ngram == 0 || self.permutations == 0 || self.bands == 0 || self.rows == 0 {
            return Err(DedupError::NotPositive);
        }
        if self.bands * self.rows > self.permutations {
            return Err(DedupError::BandsExceedPermutations {
                bands: self.bands,
                rows: self.rows,
                permutations: self.permutations,
            });
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(DedupError::Threshold(self.threshold));
        }
        Ok(())
    }
}
