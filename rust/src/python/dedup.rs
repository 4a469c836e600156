//! PyO3 glue for dedup: a streaming `Deduper` (add blocks, then finish) and the shingles, for
//! comparing with other MinHash implementations.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyDict;

use crate::dedup::{self, DedupConfig, DedupError, cluster, inspect, replay};
use crate::extract::driver;

use super::conversion;

#[pyclass(module = "case2code._core")]
struct Deduper {
    inner: Mutex<dedup::Deduper>,
    threads: usize,
    /// What `cluster` found, read back in slices by `outcome`.
    outcome: Mutex<Option<dedup::Outcome>>,
}

#[pymethods]
impl Deduper {
    /// Settings left out keep the Rust defaults (`_core.defaults()["dedup"]`).
    #[new]
    #[pyo3(signature = (ngram=None, permutations=None, bands=None, rows=None, threshold=None, verify=None, structural=None, raw_text=None, seed=None, threads=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        ngram: Option<usize>,
        permutations: Option<usize>,
        bands: Option<usize>,
        rows: Option<usize>,
        threshold: Option<f64>,
        verify: Option<bool>,
        structural: Option<bool>,
        raw_text: Option<bool>,
        seed: Option<u64>,
        threads: usize,
    ) -> PyResult<Self> {
        let config = conversion::dedup_config(
            ngram,
            permutations,
            bands,
            rows,
            threshold,
            verify,
            structural,
            raw_text,
            seed,
        );
        Ok(Deduper {
            inner: Mutex::new(dedup::Deduper::new(config)?),
            threads,
            outcome: Mutex::new(None),
        })
    }

    /// Hash a block of sources; `ranks` order who is kept (lower wins). The sources are read
    /// in place (their UTF-8), not copied.
    #[pyo3(signature = (sources, ranks, reference=false))]
    fn add(
        &self,
        py: Python<'_>,
        sources: Vec<PyBackedStr>,
        ranks: Vec<f64>,
        reference: bool,
    ) -> PyResult<()> {
        py.detach(|| {
            let refs: Vec<&str> = sources.iter().map(|s| &**s).collect();
            let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner: &mut dedup::Deduper = &mut guard;
            driver::pool(self.threads).install(|| inner.add(&refs, &ranks, reference))
        })?;
        Ok(())
    }

    /// The signatures of a block of sources, as columns (`conversion::signature_columns`):
    /// what `add_signatures` takes back, here or in another process with the same settings.
    fn signatures<'py>(
        &self,
        py: Python<'py>,
        sources: Vec<PyBackedStr>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (signatures, bands, permutations) = py.detach(|| {
            let refs: Vec<&str> = sources.iter().map(|s| &**s).collect();
            let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner: &dedup::Deduper = &guard;
            let signed = driver::pool(self.threads).install(|| inner.sign(&refs));
            (signed, inner.bands(), inner.permutations())
        });
        conversion::signature_columns(py, &signatures, bands, permutations)
    }

    /// Append functions signed before (`signatures`' columns); `ranks` as for `add`.
    #[pyo3(signature = (exact_hash, bands, sketch, shingles, ranks, reference=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_signatures(
        &self,
        py: Python<'_>,
        exact_hash: Vec<PyBackedStr>,
        bands: Vec<PyBackedBytes>,
        sketch: Vec<PyBackedBytes>,
        shingles: Vec<PyBackedBytes>,
        ranks: Vec<f64>,
        reference: bool,
    ) -> PyResult<()> {
        py.detach(|| {
            let signatures = conversion::signatures_from(&exact_hash, &bands, &sketch, &shingles)?;
            let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            guard.add_signatures(&signatures, &ranks, reference)
        })?;
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn bytes_per_function(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bytes_per_function()
    }

    /// Exact Jaccard of two added functions' shingle sets (what verification checks).
    fn jaccard(&self, i: usize, j: usize) -> PyResult<f64> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inner.jaccard(i, j)?)
    }

    /// Estimated Jaccard of two added functions.
    fn similarity(&self, i: usize, j: usize) -> PyResult<f64> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inner.similarity(i, j)?)
    }

    /// All pairs that share an LSH bucket (verified by estimated Jaccard when `verify`).
    #[pyo3(signature = (verify=true))]
    fn candidate_pairs(&self, py: Python<'_>, verify: bool) -> PyResult<Vec<(u32, u32)>> {
        Ok(py.detach(|| {
            let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner: &dedup::Deduper = &guard;
            driver::pool(self.threads).install(|| inner.candidate_pairs(verify))
        })?)
    }

    /// Cluster everything added: columns cluster, reason, exact_hash (one row per function).
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let outcome = self.clustered(py)?;
        conversion::outcome_columns(py, &outcome, 0..outcome.cluster.len())
    }

    /// Cluster everything added and keep the outcome here, to be read in slices by `outcome`
    /// (a big table's outcome never becomes one Python list per column).
    fn cluster(&self, py: Python<'_>) -> PyResult<()> {
        let outcome = self.clustered(py)?;
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        Ok(())
    }

    /// Rows `start..stop` of the outcome `cluster` kept, as `finish`'s columns.
    fn outcome<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        outcome_rows(py, &self.outcome, start, stop)
    }
}

impl Deduper {
    fn clustered(&self, py: Python<'_>) -> Result<dedup::Outcome, DedupError> {
        py.detach(|| {
            let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner: &dedup::Deduper = &guard;
            driver::pool(self.threads).install(|| inner.finish())
        })
    }
}

/// Clustering from candidates found and verified elsewhere (a distributed dedup): the same
/// outcome as `Deduper.finish` on the same functions (`dedup::replay`). Functions are added
/// in index order (`add`), then `cluster` walks the bucket positions.
/// Rows `start..stop` of a kept clustering outcome (`Deduper.cluster`'s or
/// `ClusterReplay.cluster`'s), as `finish`'s columns; an error before it is clustered.
fn outcome_rows<'py>(
    py: Python<'py>,
    slot: &Mutex<Option<dedup::Outcome>>,
    start: usize,
    stop: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = guard.as_ref().ok_or(DedupError::NotClustered)?;
    let stop = stop.min(outcome.cluster.len());
    conversion::outcome_columns(py, outcome, start.min(stop)..stop)
}

#[pyclass(module = "case2code._core")]
struct ClusterReplay {
    inner: Mutex<replay::Replay>,
    outcome: Mutex<Option<dedup::Outcome>>,
}

#[pymethods]
impl ClusterReplay {
    #[new]
    fn new() -> Self {
        ClusterReplay {
            inner: Mutex::new(replay::Replay::new()),
            outcome: Mutex::new(None),
        }
    }

    /// Append functions: their exact hashes (32 hex digits) and ranks (lower wins).
    #[pyo3(signature = (exact_hash, ranks, reference=false))]
    fn add(&self, exact_hash: Vec<PyBackedStr>, ranks: Vec<f64>, reference: bool) -> PyResult<()> {
        let exact = conversion::exact_hashes(&exact_hash)?;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inner.add(&exact, &ranks, reference)?)
    }

    fn __len__(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Cluster from the bucket positions in `finish`'s order (band, key, position): `head`,
    /// `prev`, `this` as u32 little-endian bytes, one value per position; `near_a`/`near_b`
    /// the near pairs (earlier index first) among those the positions may ask about, or None
    /// when candidates are not verified. The outcome is kept, to be read by `outcome`.
    #[pyo3(signature = (head, prev, this, near_a=None, near_b=None))]
    fn cluster(
        &self,
        py: Python<'_>,
        head: PyBackedBytes,
        prev: PyBackedBytes,
        this: PyBackedBytes,
        near_a: Option<PyBackedBytes>,
        near_b: Option<PyBackedBytes>,
    ) -> PyResult<()> {
        let outcome = py.detach(|| -> Result<dedup::Outcome, DedupError> {
            let candidates = replay::Candidates {
                head: conversion::u32_column(&head, "head")?,
                prev: conversion::u32_column(&prev, "prev")?,
                this: conversion::u32_column(&this, "this")?,
            };
            let near = match (near_a, near_b) {
                (Some(a), Some(b)) => {
                    let (a, b) = (
                        conversion::u32_column(&a, "near_a")?,
                        conversion::u32_column(&b, "near_b")?,
                    );
                    if a.len() != b.len() {
                        return Err(DedupError::SignatureShape(format!(
                            "near pairs: {} first and {} second members",
                            a.len(),
                            b.len()
                        )));
                    }
                    Some(a.into_iter().zip(b).collect())
                }
                (None, None) => None,
                _ => {
                    return Err(DedupError::SignatureShape(
                        "near pairs: near_a and near_b go together".to_string(),
                    ));
                }
            };
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.cluster(&candidates, near)
        })?;
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        Ok(())
    }

    /// Rows `start..stop` of the outcome `cluster` kept, as `Deduper.finish`'s columns.
    fn outcome<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        outcome_rows(py, &self.outcome, start, stop)
    }
}

/// Whether each pair (a[i], b[i]) is a near duplicate, from the two functions' sketches and
/// shingle sets (`Deduper.signatures`' `sketch` and `shingles` bytes): `Deduper.finish`'s own
/// verification (the sketches' estimate near `threshold`, then exact Jaccard at or above it).
#[pyfunction]
fn dedup_near_pairs(
    py: Python<'_>,
    threshold: f64,
    sketch_a: Vec<PyBackedBytes>,
    sketch_b: Vec<PyBackedBytes>,
    shingles_a: Vec<PyBackedBytes>,
    shingles_b: Vec<PyBackedBytes>,
) -> PyResult<Vec<bool>> {
    let n = sketch_a.len();
    if [sketch_b.len(), shingles_a.len(), shingles_b.len()] != [n; 3] {
        return Err(DedupError::SignatureShape(format!(
            "pair columns of {n}, {}, {} and {} rows",
            sketch_b.len(),
            shingles_a.len(),
            shingles_b.len()
        ))
        .into());
    }
    Ok(py.detach(|| -> Result<Vec<bool>, DedupError> {
        (0..n)
            .map(|row| {
                let (a, b) = (&*sketch_a[row], &*sketch_b[row]);
                if a.len() != b.len() || a.is_empty() {
                    return Err(DedupError::SignatureShape(format!(
                        "pair {row}: sketches of {} and {} bytes",
                        a.len(),
                        b.len()
                    )));
                }
                let what = format!("pair {row} shingles");
                let set_a = conversion::u32_column(&shingles_a[row], &what)?;
                let set_b = conversion::u32_column(&shingles_b[row], &what)?;
                Ok(cluster::near_duplicates(
                    threshold,
                    [a, b],
                    [&set_a, &set_b],
                ))
            })
            .collect()
    })?)
}

/// Token texts of each source: from the dedup lexer, or from tree-sitter (its oracle).
#[pyfunction]
#[pyo3(signature = (sources, structural=false, tree_sitter=false))]
fn dedup_tokens(
    py: Python<'_>,
    sources: Vec<String>,
    structural: bool,
    tree_sitter: bool,
) -> Vec<Option<Vec<String>>> {
    py.detach(|| {
        sources
            .iter()
            .map(|source| inspect::token_texts(source, structural, tree_sitter))
            .collect()
    })
}

/// The shingles of each source as text (tokens joined by spaces), as dedup sees them (string
/// literals in their canonical form unless `raw_text`); `ngram` left out is the dedup default.
#[pyfunction]
#[pyo3(signature = (sources, ngram=None, structural=false, raw_text=false))]
fn dedup_shingles(
    py: Python<'_>,
    sources: Vec<String>,
    ngram: Option<usize>,
    structural: bool,
    raw_text: bool,
) -> Vec<Vec<String>> {
    let ngram = ngram.unwrap_or(DedupConfig::default().ngram);
    py.detach(|| {
        sources
            .iter()
            .map(|source| inspect::shingle_texts(source, ngram, structural, raw_text))
            .collect()
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Deduper>()?;
    m.add_class::<ClusterReplay>()?;
    m.add_function(wrap_pyfunction!(dedup_near_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_shingles, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_tokens, m)?)?;
    Ok(())
}
