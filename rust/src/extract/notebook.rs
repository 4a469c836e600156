//! Jupyter notebooks as Python source: their code cells, joined in order.
//!
//! Functions are often defined in one cell and their imports in an earlier one, so a
//! notebook is one source. Lines only IPython understands (`%magic`, `!shell`) and whole
//! `%%cell-magic` cells are blanked, not deleted, so line numbers still count the cells' lines.

use serde_json::Value;

use super::report::SkipReason;

/// The Python source of a notebook (nbformat 4, or 3's worksheets). Not JSON, or not shaped
/// like a notebook, is `BadNotebook`; a kernel in another language is `NotPython`.
pub fn notebook_source(raw: &[u8]) -> Result<String, SkipReason> {
    let raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
    let notebook: Value = serde_json::from_slice(raw).map_err(|_| SkipReason::BadNotebook)?;
    if !kernel_is_python(&notebook) {
        return Err(SkipReason::NotPython);
    }
    let cells = match (notebook.get("cells"), notebook.get("worksheets")) {
        (Some(Value::Array(cells)), _) => cells.iter().collect::<Vec<_>>(),
        (None, Some(Value::Array(sheets))) => sheets
            .iter()
            .filter_map(|sheet| sheet.get("cells")?.as_array())
            .flatten()
            .collect(),
        _ => return Err(SkipReason::BadNotebook),
    };
    let mut source = String::new();
    for cell in cells {
        if cell.get("cell_type").and_then(Value::as_str) != Some("code") {
            continue;
        }
        // nbformat 4 calls it `source`, nbformat 3 `input`: a string or a list of lines.
        let text = match cell.get("source").or_else(|| cell.get("input")) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(lines)) => lines
                .iter()
                .map(|line| line.as_str().ok_or(SkipReason::BadNotebook))
                .collect::<Result<String, _>>()?,
            None => String::new(),
            Some(_) => return Err(SkipReason::BadNotebook),
        };
        push_cell(&mut source, &text);
    }
    Ok(source)
}

/// A notebook without language metadata is taken to be Python (most are).
fn kernel_is_python(notebook: &Value) -> bool {
    let metadata = notebook.get("metadata");
    let language = metadata
        .and_then(|m| m.get("kernelspec"))
        .and_then(|k| k.get("language"))
        .or_else(|| metadata.and_then(|m| m.get("language_info")?.get("name")))
        .and_then(Value::as_str);
    language.is_none_or(|name| name.eq_ignore_ascii_case("python"))
}

fn push_cell(source: &mut String, cell: &str) {
    let cell_magic = cell.trim_start().starts_with("%%");
    for line in cell.lines() {
        let code = line.trim_start();
        if !(cell_magic || code.starts_with('%') || code.starts_with('!')) {
            source.push_str(line);
        }
        source.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_cells_are_joined_and_magics_blanked() {
        let raw = br#"{"cells": [
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import math"]},
            {"cell_type": "markdown", "source": "def not_code(x): pass"},
            {"cell_type": "code", "source": "!pip install x\ndef f(a):\n    return math.sqrt(a)"},
            {"cell_type": "code", "source": ["%%bash\n", "ls -l\n"]}
        ], "metadata": {"kernelspec": {"language": "python"}}, "nbformat": 4}"#;
        assert_eq!(
            notebook_source(raw).unwrap(),
            "\nimport math\n\ndef f(a):\n    return math.sqrt(a)\n\n\n"
        );
    }

    #[test]
    fn nbformat_3_worksheets_are_read() {
        let raw = br#"{"worksheets": [{"cells": [
            {"cell_type": "code", "input": ["x = 1\n", "y = 2"]}]}], "nbformat": 3}"#;
        assert_eq!(notebook_source(raw).unwrap(), "x = 1\ny = 2\n");
    }

    #[test]
    fn bad_and_foreign_notebooks_are_refused() {
        assert_eq!(
            notebook_source(b"{\"cells\": ["),
            Err(SkipReason::BadNotebook)
        );
        assert_eq!(notebook_source(b"[1, 2]"), Err(SkipReason::BadNotebook));
        assert_eq!(
            notebook_source(br#"{"cells": [{"cell_type": "code", "source": 3}]}"#),
            Err(SkipReason::BadNotebook)
        );
        let julia = br#"{"cells": [], "metadata": {"kernelspec": {"language": "julia"}}}"#;
        assert_eq!(notebook_source(julia), Err(SkipReason::NotPython));
    }
}
