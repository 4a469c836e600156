//! PyO3 glue for extraction: the `Extractor` (settings validated once, shared by every batch)
//! and the corpus helpers. Reports cross as columns (see `conversion`).

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::extract::config::{self, list_entries};
use crate::extract::driver;
use crate::extract::{ExtractConfig, SourceReport};

use super::conversion::{self, Named, Wrap};

#[pyclass(frozen, module = "case2code._core")]
struct Extractor {
    config: ExtractConfig,
}

#[pymethods]
impl Extractor {
    /// Settings left out keep the Rust defaults (`_core.defaults()["extract"]`).
    #[new]
    #[pyo3(signature = (rules=None, min_lines=None, max_lines=None, max_file_bytes=None, lists=None, max_source_bytes=None, max_literal_bytes=None))]
    fn new(
        rules: Option<Named<bool>>,
        min_lines: Option<usize>,
        max_lines: Option<usize>,
        max_file_bytes: Option<usize>,
        lists: Option<Named<Vec<String>>>,
        max_source_bytes: Option<usize>,
        max_literal_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let config = conversion::extract_config(
            rules.unwrap_or(Named(Vec::new())),
            lists.unwrap_or(Named(Vec::new())),
            min_lines,
            max_lines,
            max_file_bytes,
            max_source_bytes,
            max_literal_bytes,
        )?;
        Ok(Extractor { config })
    }

    /// Extract from files; one report per path, in order.
    #[pyo3(signature = (paths, threads=0))]
    fn extract_files(
        &self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        threads: usize,
    ) -> Wrap<Vec<SourceReport>> {
        Wrap(py.detach(|| driver::extract_files(&paths, &self.config, threads)))
    }

    /// Extract from in-memory source texts; one report per text, in order.
    #[pyo3(signature = (texts, threads=0))]
    fn extract_texts(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        threads: usize,
    ) -> Wrap<Vec<SourceReport>> {
        Wrap(py.detach(|| driver::extract_texts(&texts, &self.config, threads)))
    }
}

/// Python files under the given roots, and the entries that could not be read.
#[pyfunction]
#[pyo3(signature = (roots, exclude_dirs=Vec::new()))]
fn discover(
    py: Python<'_>,
    roots: Vec<PathBuf>,
    exclude_dirs: Vec<String>,
) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    py.detach(|| driver::discover(&roots, &exclude_dirs))
}

/// Read and parse files with tree-sitter only (the benchmark's floor): (bytes, parsed files).
#[pyfunction]
#[pyo3(signature = (paths, threads=0))]
fn parse_files(py: Python<'_>, paths: Vec<PathBuf>, threads: usize) -> (usize, usize) {
    py.detach(|| driver::parse_files(&paths, threads))
}

/// The built-in name lists, as the data files give them.
#[pyfunction]
fn default_lists(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    for (name, text) in config::LISTS {
        out.set_item(name, list_entries(text).collect::<Vec<_>>())?;
    }
    Ok(out)
}

/// The rule names, in the order they are checked.
#[pyfunction]
fn rule_names() -> Vec<&'static str> {
    config::Rules::NAMES.to_vec()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Extractor>()?;
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(parse_files, m)?)?;
    m.add_function(wrap_pyfunction!(default_lists, m)?)?;
    m.add_function(wrap_pyfunction!(rule_names, m)?)?;
    Ok(())
}
