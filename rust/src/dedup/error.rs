//! What dedup refuses or fails at: settings that cannot cluster, calls that do not fit the
//! records, and the records' temporary files.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum DedupError {
    /// ngram, permutations, bands or rows is zero.
    NotPositive,
    /// More band rows than the signature has permutations.
    BandsExceedPermutations {
        bands: usize,
        rows: usize,
        permutations: usize,
    },
    /// A Jaccard threshold outside [0, 1].
    Threshold(f64),
    /// `Deduper::add` got a rank per source, but not as many.
    LengthMismatch {
        sources: usize,
        ranks: usize,
    },
    /// An index past the functions added so far.
    NoSuchFunction {
        index: usize,
        len: usize,
    },
    /// An outcome asked for before clustering.
    NotClustered,
    /// Signatures whose columns do not fit the configuration, or cannot be read.
    SignatureShape(String),
    /// The records' temporary files could not be created, written or read back.
    RecordsCreate {
        dir: PathBuf,
        error: io::Error,
    },
    RecordsWrite {
        dir: PathBuf,
        error: io::Error,
    },
    RecordsRead(io::Error),
}

impl fmt::Display for DedupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DedupError::NotPositive => {
                write!(f, "ngram, permutations, bands and rows must be positive")
            }
            DedupError::BandsExceedPermutations {
                bands,
                rows,
                permutations,
            } => write!(
                f,
                "bands x rows ({bands} x {rows}) exceeds the {permutations} permutations"
            ),
            DedupError::Threshold(threshold) => {
                write!(f, "threshold must be between 0 and 1, not {threshold}")
            }
            DedupError::LengthMismatch { sources, ranks } => write!(
                f,
                "sources and ranks differ in length ({sources} sources, {ranks} ranks)"
            ),
            DedupError::NoSuchFunction { index, len } => {
                write!(f, "no such function: {index} (of {len} added)")
            }
            DedupError::NotClustered => write!(f, "outcome() before cluster()"),
            DedupError::SignatureShape(what) => write!(f, "signatures do not fit: {what}"),
            DedupError::RecordsCreate { dir, error } => write!(
                f,
                "cannot create dedup's record files in {} ({error}); set TMPDIR to a writable \
                 folder",
                dir.display()
            ),
            DedupError::RecordsWrite { dir, error } => write!(
                f,
                "cannot write dedup's records to {} ({error})",
                dir.display()
            ),
            DedupError::RecordsRead(error) => write!(
                f,
                "cannot read dedup's records back from their temporary file ({error})"
            ),
        }
    }
}

impl std::error::Error for DedupError {}
