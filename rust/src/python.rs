//! The thin PyO3 layer: converts types, releases the GIL, nothing else.
//!
//! Results cross the boundary as columns (dicts of lists), which polars turns into a
//! DataFrame without per-row Python objects.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::extract::config::{self, list_entries};
use crate::extract::driver;
use crate::extract::{ExtractConfig, NameLists, SourceReport};

mod dedup;
mod sandbox;

/// Extraction settings, validated once and shared by every batch.
#[pyclass(frozen, module = "case2code._core")]
struct Extractor {
    config: ExtractConfig,
}

fn list_or_default(
    lists: &Option<Bound<'_, PyDict>>,
    key: &str,
    default: &str,
) -> PyResult<Vec<String>> {
    if let Some(lists) = lists
        && let Some(value) = lists.get_item(key)?
    {
        return value.extract();
    }
    Ok(list_entries(default).map(str::to_owned).collect())
}

const LIST_KEYS: [&str; 6] = [
    "stdlib_modules",
    "builtins",
    "denied_builtins",
    "denied_modules",
    "denied_attributes",
    "allowed_decorators",
];

#[pymethods]
impl Extractor {
    #[new]
    #[pyo3(signature = (rules=None, min_lines=3, max_lines=200, max_file_bytes=32 << 20, lists=None, max_source_bytes=None, max_literal_bytes=None))]
    fn new(
        rules: Option<Bound<'_, PyDict>>,
        min_lines: usize,
        max_lines: usize,
        max_file_bytes: usize,
        lists: Option<Bound<'_, PyDict>>,
        max_source_bytes: Option<usize>,
        max_literal_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let defaults = ExtractConfig::default();
        let mut config = ExtractConfig {
            min_lines,
            max_lines,
            max_file_bytes,
            max_source_bytes: max_source_bytes.unwrap_or(defaults.max_source_bytes),
            max_literal_bytes: max_literal_bytes.unwrap_or(defaults.max_literal_bytes),
            ..defaults
        };
        if let Some(rules) = rules {
            for (name, on) in rules.iter() {
                let name: String = name.extract()?;
                config
                    .rules
                    .set(&name, on.extract()?)
                    .map_err(PyValueError::new_err)?;
            }
        }
        if let Some(given) = &lists {
            for key in given.keys() {
                let key: String = key.extract()?;
                if !LIST_KEYS.contains(&key.as_str()) {
                    return Err(PyValueError::new_err(format!(
                        "unknown list {key:?}; lists are: {}",
                        LIST_KEYS.join(", ")
                    )));
                }
            }
            config.lists = NameLists::new(
                &list_or_default(&lists, "stdlib_modules", config::STDLIB_MODULES)?,
                &list_or_default(&lists, "builtins", config::BUILTINS)?,
                &list_or_default(&lists, "denied_builtins", config::DENIED_BUILTINS)?,
                &list_or_default(&lists, "denied_modules", config::DENIED_MODULES)?,
                &list_or_default(&lists, "denied_attributes", config::DENIED_ATTRIBUTES)?,
                &list_or_default(&lists, "allowed_decorators", config::ALLOWED_DECORATORS)?,
            );
        }
        Ok(Extractor { config })
    }

    /// Extract from files; one report per path, in order.
    #[pyo3(signature = (paths, threads=0))]
    fn extract_files<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let reports = py.detach(|| driver::extract_files(&paths, &self.config, threads));
        columns(py, &reports)
    }

    /// Extract from in-memory source texts; one report per text, in order.
    #[pyo3(signature = (texts, threads=0))]
    fn extract_texts<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let reports = py.detach(|| driver::extract_texts(&texts, &self.config, threads));
        columns(py, &reports)
    }
}

/// Reports as three column sets: `sources`, `functions` and `rejections`; rows of the
/// last two name their source by its index in the batch.
fn columns<'py>(py: Python<'py>, reports: &[SourceReport]) -> PyResult<Bound<'py, PyDict>> {
    let n_functions: usize = reports.iter().map(|r| r.functions.len()).sum();
    let n_rejections: usize = reports.iter().map(|r| r.rejections.len()).sum();

    let mut source_index = Vec::with_capacity(n_functions);
    let mut function_id = Vec::with_capacity(n_functions);
    let mut name = Vec::with_capacity(n_functions);
    let mut source = Vec::with_capacity(n_functions);
    let mut signature = Vec::with_capacity(n_functions);
    let mut params = Vec::with_capacity(n_functions);
    let mut returns = Vec::with_capacity(n_functions);
    let mut docstring = Vec::with_capacity(n_functions);
    let mut line = Vec::with_capacity(n_functions);
    let mut n_lines = Vec::with_capacity(n_functions);
    let mut helpers = Vec::with_capacity(n_functions);

    let mut r_index = Vec::with_capacity(n_rejections);
    let mut r_name = Vec::with_capacity(n_rejections);
    let mut r_line = Vec::with_capacity(n_rejections);
    let mut r_reason = Vec::with_capacity(n_rejections);
    let mut r_detail = Vec::with_capacity(n_rejections);

    let mut bytes = Vec::with_capacity(reports.len());
    let mut skipped = Vec::with_capacity(reports.len());

    for (index, report) in reports.iter().enumerate() {
        bytes.push(report.bytes);
        skipped.push(report.skipped.map(|reason| reason.code()));
        for f in &report.functions {
            source_index.push(index);
            function_id.push(f.function_id.as_str());
            name.push(f.name.as_str());
            source.push(f.source.as_str());
            signature.push(f.signature.as_str());
            params.push(
                f.params
                    .iter()
                    .map(|p| {
                        (
                            p.name.as_str(),
                            p.kind.code(),
                            p.annotation.as_deref(),
                            p.default.as_deref(),
                        )
                    })
                    .collect::<Vec<_>>(),
            );
            returns.push(f.returns.as_deref());
            docstring.push(f.docstring.as_deref());
            line.push(f.line);
            n_lines.push(f.n_lines);
            helpers.push(f.helpers.iter().map(String::as_str).collect::<Vec<_>>());
        }
        for r in &report.rejections {
            r_index.push(index);
            r_name.push(r.name.as_str());
            r_line.push(r.line);
            r_reason.push(r.reason.code());
            r_detail.push(r.detail.as_str());
        }
    }

    let functions = PyDict::new(py);
    functions.set_item("source_index", source_index)?;
    functions.set_item("function_id", function_id)?;
    functions.set_item("name", name)?;
    functions.set_item("source", source)?;
    functions.set_item("signature", signature)?;
    functions.set_item("params", params)?;
    functions.set_item("returns", returns)?;
    functions.set_item("docstring", docstring)?;
    functions.set_item("line", line)?;
    functions.set_item("n_lines", n_lines)?;
    functions.set_item("helpers", helpers)?;

    let rejections = PyDict::new(py);
    rejections.set_item("source_index", r_index)?;
    rejections.set_item("name", r_name)?;
    rejections.set_item("line", r_line)?;
    rejections.set_item("reason", r_reason)?;
    rejections.set_item("detail", r_detail)?;

    let sources = PyDict::new(py);
    sources.set_item("bytes", bytes)?;
    sources.set_item("skipped", skipped)?;

    let out = PyDict::new(py);
    out.set_item("functions", functions)?;
    out.set_item("rejections", rejections)?;
    out.set_item("sources", sources)?;
    Ok(out)
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
    let defaults = [
        config::STDLIB_MODULES,
        config::BUILTINS,
        config::DENIED_BUILTINS,
        config::DENIED_MODULES,
        config::DENIED_ATTRIBUTES,
        config::ALLOWED_DECORATORS,
    ];
    for (key, text) in LIST_KEYS.iter().zip(defaults) {
        out.set_item(key, list_entries(text).collect::<Vec<_>>())?;
    }
    Ok(out)
}

/// The rule names, in the order they are checked.
#[pyfunction]
fn rule_names() -> Vec<&'static str> {
    config::Rules::NAMES.to_vec()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Extractor>()?;
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(parse_files, m)?)?;
    m.add_function(wrap_pyfunction!(default_lists, m)?)?;
    m.add_function(wrap_pyfunction!(rule_names, m)?)?;
    sandbox::register(m)?;
    dedup::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
