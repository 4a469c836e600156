//! Every conversion between Python objects and the engine's types, in one place (as polars'
//! `conversion.rs`): settings in, result tables and defaults out.
//!
//! `Wrap<T>` carries the engine's own types across, so the engine never sees Python. Result
//! tables cross as columns (dicts of equally long lists), which polars turns into a DataFrame
//! without a Python object per row; `Columns` builds every one of them.

use std::ops::Range;

use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyDict};

use crate::dedup::{self, DedupConfig};
use crate::extract::{
    ExtractConfig, ExtractError, ExtractedFunction, NameLists, Rejection, SourceReport,
};
use crate::sandbox::{CaseOutcome, Isolation, Job, Limits};

use super::error::ConfigError;

/// An engine type on its way to or from Python.
pub struct Wrap<T>(pub T);

/// A table for Python: one list per named column, all of one length.
pub struct Columns<'py> {
    dict: Bound<'py, PyDict>,
    rows: Option<usize>,
}

impl<'py> Columns<'py> {
    pub fn new(py: Python<'py>) -> Self {
        Columns {
            dict: PyDict::new(py),
            rows: None,
        }
    }

    /// Adds a column: its cells, in row order.
    pub fn with<T: IntoPyObject<'py>>(
        mut self,
        name: &str,
        cells: impl Iterator<Item = T>,
    ) -> PyResult<Self> {
        let cells: Vec<T> = cells.collect();
        debug_assert!(
            self.rows.is_none_or(|rows| rows == cells.len()),
            "column {name} has {} rows, not {:?}",
            cells.len(),
            self.rows
        );
        self.rows = Some(cells.len());
        self.dict.set_item(name, cells)?;
        Ok(self)
    }

    pub fn into_dict(self) -> Bound<'py, PyDict> {
        self.dict
    }
}

/// The items of a batch's groups as rows: (group index, index within the group, item). A
/// table of them names each row's source by its index in the batch.
fn grouped_rows<'a, T: 'a>(groups: impl Iterator<Item = &'a [T]>) -> Vec<(usize, usize, &'a T)> {
    groups
        .enumerate()
        .flat_map(|(group, items)| {
            items
                .iter()
                .enumerate()
                .map(move |(index, item)| (group, index, item))
        })
        .collect()
}

// ---- Settings in -------------------------------------------------------------------------

/// One attribute of a settings object, refused with its name when it has the wrong type.
fn setting<'py, T: FromPyObjectOwned<'py>>(
    settings: &Bound<'py, PyAny>,
    owner: &str,
    name: &str,
) -> PyResult<T> {
    settings
        .getattr(name)?
        .extract::<T>()
        .map_err(|e| ConfigError::new_err(format!("{owner}: {name}: {}", Into::<PyErr>::into(e))))
}

/// The sandbox's `Limits` from the Python dataclass of that name (or any object with its
/// fields); validated where they are used.
impl<'a, 'py> FromPyObject<'a, 'py> for Wrap<Limits> {
    type Error = PyErr;

    fn extract(limits: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let limits = &*limits;
        let isolation: String = setting(limits, "limits", "isolation")?;
        Ok(Wrap(Limits {
            fuel_per_case: setting(limits, "limits", "fuel_per_case")?,
            fuel_per_definition: setting(limits, "limits", "fuel_per_definition")?,
            wall_ms_per_case: setting(limits, "limits", "wall_ms_per_case")?,
            memory_bytes: setting(limits, "limits", "memory_bytes")?,
            stdout_chars: setting(limits, "limits", "stdout_chars")?,
            repr_chars: setting(limits, "limits", "repr_chars")?,
            recursion_limit: setting(limits, "limits", "recursion_limit")?,
            isolation: Isolation::from_name(&isolation)?,
            check_stability: setting(limits, "limits", "check_stability")?,
            coverage: setting(limits, "limits", "coverage")?,
        }))
    }
}

/// A sandbox job from its Python tuple: (standalone source, function name, [inputs]).
impl<'a, 'py> FromPyObject<'a, 'py> for Wrap<Job> {
    type Error = PyErr;

    fn extract(job: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let (source, name, inputs) = job.extract()?;
        Ok(Wrap(Job {
            source,
            name,
            inputs,
        }))
    }
}

/// Dedup settings given as arguments; each one left out keeps `DedupConfig::default()`'s, so
/// the defaults live in the engine only.
#[allow(clippy::too_many_arguments)]
pub fn dedup_config(
    ngram: Option<usize>,
    permutations: Option<usize>,
    bands: Option<usize>,
    rows: Option<usize>,
    threshold: Option<f64>,
    verify: Option<bool>,
    structural: Option<bool>,
    raw_text: Option<bool>,
    seed: Option<u64>,
) -> DedupConfig {
    let default = DedupConfig::default();
    DedupConfig {
        ngram: ngram.unwrap_or(default.ngram),
        permutations: permutations.unwrap_or(default.permutations),
        bands: bands.unwrap_or(default.bands),
        rows: rows.unwrap_or(default.rows),
        threshold: threshold.unwrap_or(default.threshold),
        verify: verify.unwrap_or(default.verify),
        structural: structural.unwrap_or(default.structural),
        raw_text: raw_text.unwrap_or(default.raw_text),
        seed: seed.unwrap_or(default.seed),
    }
}

/// `{name: value}` settings (rule switches, replaced name lists), in the dict's order.
pub struct Named<T>(pub Vec<(String, T)>);

impl<'a, 'py, T: FromPyObjectOwned<'py>> FromPyObject<'a, 'py> for Named<T> {
    type Error = PyErr;

    fn extract(named: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let named = named.cast::<PyDict>()?;
        let mut items = Vec::with_capacity(named.len());
        for (name, value) in named.iter() {
            let name: String = name.extract()?;
            let value = value
                .extract::<T>()
                .map_err(|e| ConfigError::new_err(format!("{name}: {}", Into::<PyErr>::into(e))))?;
            items.push((name, value));
        }
        Ok(Named(items))
    }
}

/// Extraction settings given as arguments; each one left out keeps `ExtractConfig::default()`'s.
pub fn extract_config(
    rules: Named<bool>,
    lists: Named<Vec<String>>,
    min_lines: Option<usize>,
    max_lines: Option<usize>,
    max_file_bytes: Option<usize>,
    max_source_bytes: Option<usize>,
    max_literal_bytes: Option<usize>,
) -> Result<ExtractConfig, ExtractError> {
    let default = ExtractConfig::default();
    let mut config = ExtractConfig {
        min_lines: min_lines.unwrap_or(default.min_lines),
        max_lines: max_lines.unwrap_or(default.max_lines),
        max_file_bytes: max_file_bytes.unwrap_or(default.max_file_bytes),
        max_source_bytes: max_source_bytes.unwrap_or(default.max_source_bytes),
        max_literal_bytes: max_literal_bytes.unwrap_or(default.max_literal_bytes),
        ..default
    };
    for (name, on) in &rules.0 {
        config.rules.set(name, *on)?;
    }
    if !lists.0.is_empty() {
        config.lists = NameLists::with_replaced(&lists.0)?;
    }
    Ok(config)
}

// ---- Defaults out (`_core.defaults()`) ----------------------------------------------------

impl<'py> IntoPyObject<'py> for Wrap<Limits> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let Wrap(limits) = self;
        let out = PyDict::new(py);
        out.set_item("fuel_per_case", limits.fuel_per_case)?;
        out.set_item("fuel_per_definition", limits.fuel_per_definition)?;
        out.set_item("wall_ms_per_case", limits.wall_ms_per_case)?;
        out.set_item("memory_bytes", limits.memory_bytes)?;
        out.set_item("stdout_chars", limits.stdout_chars)?;
        out.set_item("repr_chars", limits.repr_chars)?;
        out.set_item("recursion_limit", limits.recursion_limit)?;
        out.set_item("isolation", limits.isolation.as_str())?;
        out.set_item("check_stability", limits.check_stability)?;
        out.set_item("coverage", limits.coverage)?;
        Ok(out)
    }
}

impl<'py> IntoPyObject<'py> for Wrap<DedupConfig> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let Wrap(config) = self;
        let out = PyDict::new(py);
        out.set_item("ngram", config.ngram)?;
        out.set_item("permutations", config.permutations)?;
        out.set_item("bands", config.bands)?;
        out.set_item("rows", config.rows)?;
        out.set_item("threshold", config.threshold)?;
        out.set_item("verify", config.verify)?;
        out.set_item("structural", config.structural)?;
        out.set_item("raw_text", config.raw_text)?;
        out.set_item("seed", config.seed)?;
        Ok(out)
    }
}

/// The scalar settings; the rules (all on) and lists have `rule_names` and `default_lists`.
impl<'py> IntoPyObject<'py> for Wrap<ExtractConfig> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let Wrap(config) = self;
        let out = PyDict::new(py);
        out.set_item("min_lines", config.min_lines)?;
        out.set_item("max_lines", config.max_lines)?;
        out.set_item("max_file_bytes", config.max_file_bytes)?;
        out.set_item("max_source_bytes", config.max_source_bytes)?;
        out.set_item("max_literal_bytes", config.max_literal_bytes)?;
        Ok(out)
    }
}

// ---- Result tables out --------------------------------------------------------------------

/// Extraction reports as three tables: `sources` (one row per report), `functions` and
/// `rejections` (their `source_index` names the report).
impl<'py> IntoPyObject<'py> for Wrap<Vec<SourceReport>> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let reports = &self.0;
        let out = PyDict::new(py);
        out.set_item("functions", function_columns(py, reports)?)?;
        out.set_item("rejections", rejection_columns(py, reports)?)?;
        let sources = Columns::new(py)
            .with("bytes", reports.iter().map(|r| r.bytes))?
            .with(
                "skipped",
                reports.iter().map(|r| r.skipped.map(|s| s.code())),
            )?;
        out.set_item("sources", sources.into_dict())?;
        Ok(out)
    }
}

fn function_columns<'py>(
    py: Python<'py>,
    reports: &[SourceReport],
) -> PyResult<Bound<'py, PyDict>> {
    let rows: Vec<(usize, usize, &ExtractedFunction)> =
        grouped_rows(reports.iter().map(|r| r.functions.as_slice()));
    let column = || rows.iter().map(|&(_, _, f)| f);
    Ok(Columns::new(py)
        .with("source_index", rows.iter().map(|&(source, _, _)| source))?
        .with("function_id", column().map(|f| f.function_id.as_str()))?
        .with("name", column().map(|f| f.name.as_str()))?
        .with("source", column().map(|f| f.source.as_str()))?
        .with("signature", column().map(|f| f.signature.as_str()))?
        .with("params", column().map(param_rows))?
        .with("returns", column().map(|f| f.returns.as_deref()))?
        .with("docstring", column().map(|f| f.docstring.as_deref()))?
        .with("line", column().map(|f| f.line))?
        .with("n_lines", column().map(|f| f.n_lines))?
        .with(
            "helpers",
            column().map(|f| f.helpers.iter().map(String::as_str).collect::<Vec<_>>()),
        )?
        .into_dict())
}

/// A function's parameters as (name, kind, annotation, default) structs.
fn param_rows(f: &ExtractedFunction) -> Vec<(&str, &str, Option<&str>, Option<&str>)> {
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
        .collect()
}

fn rejection_columns<'py>(
    py: Python<'py>,
    reports: &[SourceReport],
) -> PyResult<Bound<'py, PyDict>> {
    let rows: Vec<(usize, usize, &Rejection)> =
        grouped_rows(reports.iter().map(|r| r.rejections.as_slice()));
    let column = || rows.iter().map(|&(_, _, r)| r);
    Ok(Columns::new(py)
        .with("source_index", rows.iter().map(|&(source, _, _)| source))?
        .with("name", column().map(|r| r.name.as_str()))?
        .with("line", column().map(|r| r.line))?
        .with("reason", column().map(|r| r.reason.code()))?
        .with("detail", column().map(|r| r.detail.as_str()))?
        .into_dict())
}

/// Sandbox outcomes as one row per case: `job` (the job's index in the batch) and `case` (the
/// input's index in its job), then the outcome.
impl<'py> IntoPyObject<'py> for Wrap<Vec<Vec<CaseOutcome>>> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let rows = grouped_rows(self.0.iter().map(Vec::as_slice));
        let column = || rows.iter().map(|&(_, _, o)| o);
        let coverage = || column().map(|o| o.coverage.as_ref());
        Ok(Columns::new(py)
            .with("job", rows.iter().map(|&(job, _, _)| job))?
            .with("case", rows.iter().map(|&(_, case, _)| case))?
            .with("status", column().map(|o| o.status.as_str()))?
            .with("value_repr", column().map(|o| o.value_repr.as_deref()))?
            .with("value_json", column().map(|o| o.value_json.as_deref()))?
            .with("error_type", column().map(|o| o.error_type.as_deref()))?
            .with("error", column().map(|o| o.error.as_deref()))?
            .with("stdout", column().map(|o| o.stdout.as_str()))?
            .with("instructions", column().map(|o| o.instructions))?
            .with("wall_us", column().map(|o| o.wall_us))?
            .with("lines", coverage().map(|c| c.map(|c| &c.lines)))?
            .with("arms", coverage().map(|c| c.map(|c| &c.arms)))?
            .with("lines_total", coverage().map(|c| c.map(|c| c.lines_total)))?
            .with("arms_total", coverage().map(|c| c.map(|c| c.arms_total)))?
            .into_dict())
    }
}

/// Rows `rows` of dedup's outcome, one per function added: `cluster`, `reason`, `exact_hash`
/// (32 hex digits).
pub fn outcome_columns<'py>(
    py: Python<'py>,
    outcome: &dedup::Outcome,
    rows: Range<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    Ok(Columns::new(py)
        .with("cluster", outcome.cluster[rows.clone()].iter().copied())?
        .with(
            "reason",
            outcome.reason[rows.clone()].iter().map(|r| r.as_str()),
        )?
        .with(
            "exact_hash",
            outcome.exact_hash[rows].iter().map(|h| format!("{h:032x}")),
        )?
        .into_dict())
}

/// Signatures as columns: `exact_hash` (32 hex digits), and per function its `bands` (the
/// band keys, 8 bytes each, little-endian), `sketch` and `shingles` (4 bytes each) as bytes.
pub fn signature_columns<'py>(
    py: Python<'py>,
    signatures: &dedup::Signatures,
    bands: usize,
    permutations: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let mut at = 0usize;
    let shingle_sets = signatures.lengths.iter().map(|&len| {
        let set = &signatures.shingles[at..at + len as usize];
        at += len as usize;
        PyBytes::new(py, &little_endian(set.iter().map(|s| s.to_le_bytes())))
    });
    Ok(Columns::new(py)
        .with(
            "exact_hash",
            signatures.exact.iter().map(|h| format!("{h:032x}")),
        )?
        .with(
            "bands",
            signatures
                .bands
                .chunks_exact(bands.max(1))
                .map(|keys| PyBytes::new(py, &little_endian(keys.iter().map(|k| k.to_le_bytes())))),
        )?
        .with(
            "sketch",
            signatures
                .sketches
                .chunks_exact(permutations.max(1))
                .map(|sketch| PyBytes::new(py, sketch)),
        )?
        .with("shingles", shingle_sets)?
        .into_dict())
}

fn little_endian<const N: usize>(values: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
    values.flatten().collect()
}

/// `signature_columns`' columns back as signatures; a cell that cannot be one is named.
pub fn signatures_from(
    exact_hash: &[PyBackedStr],
    bands: &[PyBackedBytes],
    sketch: &[PyBackedBytes],
    shingles: &[PyBackedBytes],
) -> Result<dedup::Signatures, dedup::DedupError> {
    let bad =
        |row: usize, what: &str| dedup::DedupError::SignatureShape(format!("row {row}: {what}"));
    let n = exact_hash.len();
    if [bands.len(), sketch.len(), shingles.len()] != [n; 3] {
        return Err(dedup::DedupError::SignatureShape(format!(
            "columns of {n}, {}, {} and {} rows",
            bands.len(),
            sketch.len(),
            shingles.len()
        )));
    }
    let mut out = dedup::Signatures {
        exact: exact_hashes(exact_hash)?,
        ..dedup::Signatures::default()
    };
    for row in 0..n {
        let (keys, set) = (&*bands[row], &*shingles[row]);
        if keys.len() % 8 != 0 || set.len() % 4 != 0 {
            return Err(bad(row, "band keys or shingles cut short"));
        }
        out.bands.extend(
            keys.chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
        );
        out.sketches.extend_from_slice(&sketch[row]);
        out.lengths.push((set.len() / 4) as u32);
        out.shingles.extend(
            set.chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))),
        );
    }
    Ok(out)
}

/// `exact_hash` cells (32 hex digits) as hashes; a cell that cannot be one is named.
pub fn exact_hashes(exact_hash: &[PyBackedStr]) -> Result<Vec<u128>, dedup::DedupError> {
    exact_hash
        .iter()
        .enumerate()
        .map(|(row, hex)| {
            u128::from_str_radix(hex, 16).map_err(|_| {
                dedup::DedupError::SignatureShape(format!(
                    "row {row}: exact_hash is not 32 hex digits"
                ))
            })
        })
        .collect()
}

/// A column of u32 values given as bytes, 4 each, little-endian (`what` names it in errors).
pub fn u32_column(bytes: &[u8], what: &str) -> Result<Vec<u32>, dedup::DedupError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(dedup::DedupError::SignatureShape(format!(
            "{what}: {} bytes is not a whole number of 4-byte values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect())
}
