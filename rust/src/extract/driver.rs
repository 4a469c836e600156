//! Run extraction over many sources in parallel, on a pool sized by the caller.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::config::ExtractConfig;
use super::report::{SkipReason, SourceReport};
use super::{extract_bytes, extract_notebook, extract_str, parse};

/// File extensions read as Python when directories are walked: `.ipynb` notebooks give
/// their code cells (`corpus.py` has the same list for files named on their own).
pub const SOURCE_EXTENSIONS: [&str; 3] = ["py", "pyw", "ipynb"];

fn is_source(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| SOURCE_EXTENSIONS.iter().any(|ext| e == *ext))
}

/// Python files under `roots`: directories recursively (`SOURCE_EXTENSIONS`, sorted, following
/// symlinks but never around a loop, skipping directories named in `exclude_dirs`),
/// files as given. Entries that cannot be read come back as `(path, error)` so they
/// are counted, not fatal.
pub fn discover(
    roots: &[PathBuf],
    exclude_dirs: &[String],
) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        if root.is_file() {
            files.push(root.clone());
            continue;
        }
        if !root.exists() {
            errors.push((root.clone(), "no such file or directory".to_owned()));
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !entry.file_type().is_dir()
                    || !exclude_dirs
                        .iter()
                        .any(|name| entry.file_name() == name.as_str())
            });
        for entry in walker {
            match entry {
                Ok(entry) => {
                    let path = entry.path();
                    if entry.file_type().is_file() && is_source(path) {
                        files.push(entry.into_path());
                    }
                }
                Err(error) => {
                    let path = error
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    let reason = if error.loop_ancestor().is_some() {
                        "symlink loop".to_owned()
                    } else {
                        error.to_string()
                    };
                    errors.push((path, reason));
                }
            }
        }
    }
    (files, errors)
}

/// A rayon pool per thread count, built once; 0 means one thread per core.
pub fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    static POOLS: OnceLock<Mutex<FxHashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pools
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("c2c-extract-{i}"))
                    .build()
                    .expect("a rayon pool can be built"),
            )
        })
        .clone()
}

fn read_and_extract(path: &Path, config: &ExtractConfig) -> SourceReport {
    match std::fs::read(path) {
        Ok(raw) if path.extension().is_some_and(|e| e == "ipynb") => extract_notebook(&raw, config),
        Ok(raw) => extract_bytes(&raw, config),
        Err(_) => SourceReport::skipped(0, SkipReason::Unreadable),
    }
}

/// Extract from files, in parallel, reports in the order of `paths`.
pub fn extract_files(
    paths: &[PathBuf],
    config: &ExtractConfig,
    threads: usize,
) -> Vec<SourceReport> {
    pool(threads).install(|| {
        paths
            .par_iter()
            .with_max_len(1)
            .map(|path| read_and_extract(path, config))
            .collect()
    })
}

/// Extract from in-memory text (rows of a JSONL/Parquet corpus, strings from Python).
pub fn extract_texts<T: AsRef<str> + Sync>(
    texts: &[T],
    config: &ExtractConfig,
    threads: usize,
) -> Vec<SourceReport> {
    pool(threads).install(|| {
        texts
            .par_iter()
            .with_max_len(1)
            .map(|text| extract_str(text.as_ref(), config))
            .collect()
    })
}

/// The physical floor for the benchmark: read and parse the same files, nothing
/// more. Returns (bytes, files that parsed).
pub fn parse_files(paths: &[PathBuf], threads: usize) -> (usize, usize) {
    pool(threads).install(|| {
        paths
            .par_iter()
            .with_max_len(1)
            .map(|path| match std::fs::read(path) {
                Ok(raw) => {
                    let parsed = std::str::from_utf8(&raw)
                        .ok()
                        .and_then(parse)
                        .is_some_and(|tree| !tree.root_node().has_error());
                    (raw.len(), usize::from(parsed))
                }
                Err(_) => (0, 0),
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    })
}
