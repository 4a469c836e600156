"""Extraction on awkward corpora: byte caps, line endings, what CPython refuses, bad tables,
JSON arrays, `.pyw` files and notebooks. Real files in tmp dirs; the real stdlib where it counts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from case2code import _core
from case2code.corpus import PYTHON_SUFFIXES, jsonl_batches
from case2code.errors import C2CError
from case2code.extract import (
    RULES,
    ExtractConfig,
    corpus_fingerprint,
    extract,
    extract_source,
    extract_to_parquet,
)

BODY = "    b = a * 2\n    c = b + 1\n"
GOOD = f"import math\n\ndef hyp(a):\n{BODY}    return math.sqrt(c)\n"


def reasons(result) -> dict[str, str]:
    """Rejected function name -> reason."""
    return dict(zip(result.rejected["name"], result.rejected["reason"], strict=True))


def skipped(result) -> dict[str, str]:
    """Skipped source (file name) -> reason."""
    names = [Path(o).name for o in result.skipped["origin"]]
    return dict(zip(names, result.skipped["reason"], strict=True))


# -- byte caps ----------------------------------------------------------------------------------


def test_a_5_mb_string_literal_is_rejected_not_made_a_completion(tmp_path: Path) -> None:
    huge = "x" * 5_000_000
    (tmp_path / "huge.py").write_text(f"def pad(a):\n{BODY}    return a + '{huge}'\n" + GOOD)
    result = extract([tmp_path])
    assert result.functions["name"].to_list() == ["hyp"]
    assert reasons(result) == {"pad": "source_too_large"}
    # With the source cap off, the literal cap still catches it.
    no_source_cap = ExtractConfig(rules={"source_bytes": False})
    literal = extract([tmp_path], no_source_cap).rejected.row(0, named=True)
    assert literal["reason"] == "literal_too_large"
    assert "a literal of 5000002 bytes, over 1000" in literal["detail"]


def test_caps_count_carried_constants_and_helpers_not_docstrings() -> None:
    table = "TABLE = '" + "t" * 1500 + "'\n"
    source = (
        table
        + f"def uses_table(a):\n{BODY}    return TABLE[a]\n"
        + f'def long_doc(a):\n    """{"d" * 3000}"""\n{BODY}    return c\n'
        + "def helper(v):\n"
        + "".join(f"    v = v + {i}\n" for i in range(2000))
        + "    return v\n"
        + f"def uses_helper(a):\n{BODY}    return helper(c)\n"
    )
    result = extract_source(source)
    assert reasons(result) == {
        "uses_table": "literal_too_large",
        "helper": "size",
        "uses_helper": "source_too_large",
    }
    assert result.functions["name"].to_list() == ["long_doc"]
    loose = extract_source(source, config=ExtractConfig(max_source_bytes=10**6, max_lines=5000))
    assert reasons(loose) == {"uses_table": "literal_too_large"}


@pytest.mark.parametrize("key", ["max_source_bytes", "max_literal_bytes"])
@pytest.mark.parametrize("value", [0, -1])
def test_byte_caps_must_be_positive(key: str, value: int) -> None:
    with pytest.raises(C2CError, match=f"{key} = {value} is out of range: it must be at least 1"):
        ExtractConfig(**{key: value})


def test_caps_drop_almost_nothing_of_the_standard_library(stdlib_dir: Path) -> None:
    result = extract()
    rejected = result.summary.rejected
    capped = rejected["source_too_large"] + rejected["literal_too_large"]
    assert capped <= 0.005 * result.summary.seen
    # Every stdlib function tree-sitter keeps also compiles on this CPython.
    assert rejected["compile_error"] == 0
    assert result.summary.kept > 500


# -- line endings -------------------------------------------------------------------------------


def test_crlf_and_cr_files_give_the_lf_file_s_functions(tmp_path: Path) -> None:
    text = '"""Module."""\nK = 3\n\ndef scale(a):\n    """Scale.\n\n    By K."""\n'
    text += f"{BODY}    return c * K\n"
    for name, newline in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")]:
        (tmp_path / f"{name}.py").write_bytes(text.replace("\n", newline).encode())
    rows = extract([tmp_path]).functions.sort("origin")
    assert rows.height == 3
    columns = ["function_id", "source", "docstring", "line", "n_lines", "signature"]
    assert rows.select(columns).unique().height == 1
    assert "\r" not in rows["source"][0]
    assert rows["source"][0].startswith("K = 3\ndef scale(a):\n")


def test_crlf_rows_of_a_table_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"content": GOOD}, {"content": GOOD.replace("\n", "\r\n")}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    functions = extract([path]).functions
    assert functions.height == 2
    assert functions["function_id"].n_unique() == 1
    assert functions["source"].n_unique() == 1


# -- what CPython's compiler refuses ------------------------------------------------------------


REFUSED_BY_CPYTHON = {
    "tabs": "def tabs(a):\n    if a:\n\tb = a\n        return b\n    return a\n",
    "py2_not_equal": f"def py2_not_equal(a):\n{BODY}    return a <> 1\n",
    "nonlocal_at_top": f"def nonlocal_at_top(a):\n    nonlocal q\n{BODY}    return a\n",
    "twice": f"def twice(a, a):\n{BODY}    return a\n",
    "too_many_digits": f"def too_many_digits(a):\n{BODY}    return a + {'9' * 5000}\n",
}


def test_functions_cpython_rejects_are_rejected_with_its_message() -> None:
    source = "".join(REFUSED_BY_CPYTHON.values()) + GOOD
    result = extract_source(source, "refused.py")
    assert result.functions["name"].to_list() == ["hyp"]
    # tree-sitter takes each of them; only CPython's compiler tells. The size caps come first.
    expected = dict.fromkeys(REFUSED_BY_CPYTHON, "compile_error")
    assert reasons(result) == {**expected, "too_many_digits": "literal_too_large"}
    rejected = result.rejected.filter(pl.col("reason") == "compile_error")
    details = dict(zip(rejected["name"], rejected["detail"], strict=True))
    assert details["tabs"].startswith("TabError: inconsistent use of tabs")
    assert "(line 3 of the standalone source); host Python 3." in details["tabs"]
    assert details["nonlocal_at_top"].startswith("SyntaxError: no binding for nonlocal 'q'")
    assert details["twice"].startswith("SyntaxError: duplicate argument 'a'")
    assert result.summary.rejected["compile_error"] == 4
    assert rejected["origin"].unique().to_list() == ["refused.py"]
    if not hasattr(sys, "get_int_max_str_digits"):
        return  # CPython before 3.10.7 has no limit on the digits of an int literal
    no_literal_cap = ExtractConfig(rules={"literal_bytes": False})
    digits = extract_source(REFUSED_BY_CPYTHON["too_many_digits"], config=no_literal_cap)
    assert digits.rejected.row(0, named=True)["reason"] == "compile_error"
    assert "Exceeds the limit (4300 digits)" in digits.rejected.row(0, named=True)["detail"]


def test_compile_rule_switches_off() -> None:
    assert RULES[-1] == "compiles"
    source = REFUSED_BY_CPYTHON["twice"]
    assert extract_source(source).functions.height == 0
    kept = extract_source(source, config=ExtractConfig(rules={"compiles": False}))
    assert kept.functions["name"].to_list() == ["twice"]


def test_invalid_escapes_only_warn_and_are_kept(recwarn: pytest.WarningsRecorder) -> None:
    source = f"import re\ndef digits(a):\n{BODY}    return re.findall('\\d+', a)\n"
    assert extract_source(source).functions["name"].to_list() == ["digits"]
    assert not [w for w in recwarn if issubclass(w.category, (SyntaxWarning, DeprecationWarning))]


# -- corpus files that cannot be read -----------------------------------------------------------


def write_table(path: Path, n: int, **columns: list) -> Path:
    texts = [f"def f{i}(a):\n{BODY}    return c + {i}\n" for i in range(n)]
    pl.DataFrame({"content": texts, **columns}).write_parquet(path, row_group_size=max(1, n // 4))
    return path


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> list[Path]:
    """Good tables around a truncated Parquet file, one whose text column is a number and a
    JSON array that is cut off."""
    first = write_table(tmp_path / "a-good.parquet", 40)
    raw = write_table(tmp_path / "b-truncated.parquet", 40).read_bytes()
    (tmp_path / "b-truncated.parquet").write_bytes(raw[: len(raw) // 2])
    pl.DataFrame({"content": [1, 2]}).write_parquet(tmp_path / "c-typed.parquet")
    (tmp_path / "e-cut.json").write_text('[{"content": "def f(a):\\n    return a"}, {"con')
    last = write_table(tmp_path / "f-good.parquet", 30)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text(GOOD)
    names = ["b-truncated.parquet", "c-typed.parquet", "e-cut.json"]
    return [first, *(tmp_path / n for n in names), last, tmp_path / "src"]


EXPECTED_SKIPS = {
    "b-truncated.parquet": "unreadable",
    "c-typed.parquet": "bad_table",
    "e-cut.json": "unreadable",
}


def test_bad_tables_are_skipped_and_counted_the_rest_extracted(mixed_corpus: list[Path]) -> None:
    result = extract(mixed_corpus)
    assert skipped(result) == EXPECTED_SKIPS
    assert result.functions.height == 40 + 30 + 1
    assert result.summary.skipped == {"unreadable": 2, "bad_table": 1}
    details = dict(zip(result.skipped["origin"], result.skipped["detail"], strict=True))
    assert "is Int64, not text" in details[str(mixed_corpus[2])]
    assert "not a readable Parquet file" in details[str(mixed_corpus[1])]


def test_resumable_extraction_skips_bad_tables_too(mixed_corpus: list[Path], tmp_path) -> None:
    output = tmp_path / "functions.parquet"
    summary = extract_to_parquet(mixed_corpus, output, shard_bytes=1)
    assert summary.skipped == {"unreadable": 2, "bad_table": 1}
    written = pl.read_parquet(output)
    expected = extract(mixed_corpus).functions
    assert written.sort("function_id", "origin")["function_id"].to_list() == (
        expected.sort("function_id", "origin")["function_id"].to_list()
    )


def test_a_jsonl_file_that_cannot_be_opened_is_counted(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").mkdir()  # open() fails as it would on a file root cannot read
    items = list(jsonl_batches(tmp_path / "rows.jsonl", "content", 1 << 20))
    assert [(i.reason, i.row) for i in items] == [("unreadable", None)]
    assert "cannot read" in items[0].detail


def test_a_read_error_part_way_keeps_the_rows_before_it(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    noise = [f"def f{i}(a):\n{BODY}    return c + {i * 7919 % 104729}\n" for i in range(4000)]
    pl.DataFrame({"content": noise}).write_parquet(path, row_group_size=1000)
    raw = bytearray(path.read_bytes())
    # Zero the end of the last row group's pages; the footer (the schema) still reads.
    footer_start = len(raw) - 8 - int.from_bytes(raw[-8:-4], "little")
    raw[footer_start - 1500 : footer_start - 500] = bytes(1000)
    path.write_bytes(bytes(raw))
    result = extract([path], ExtractConfig(batch_bytes=4096))  # small chunks: 64 rows
    assert skipped(result) == {"rows.parquet": "unreadable"}
    assert "read failed part way" in result.skipped["detail"][0]
    assert 0 < result.functions.height < 4000


def test_a_text_column_no_table_has_is_refused_before_any_work(tmp_path: Path) -> None:
    with_code = tmp_path / "code.parquet"
    pl.DataFrame({"code": [GOOD]}).write_parquet(with_code)
    with pytest.raises(C2CError, match="no column 'content'; columns are code"):
        extract([with_code])
    # One table without it among tables with it is skipped, not fatal.
    good = write_table(tmp_path / "good.parquet", 5)
    result = extract([good, with_code])
    assert result.functions.height == 5
    assert skipped(result) == {"code.parquet": "bad_table"}


# -- missing paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["missing.py", "missing_dir", "missing.parquet", "gone.ipynb"])
def test_a_missing_corpus_path_is_refused_at_once(tmp_path: Path, name: str) -> None:
    (tmp_path / "ok.py").write_text(GOOD)
    missing = tmp_path / name
    with pytest.raises(C2CError, match=f"{name}: no such file or directory"):
        extract([tmp_path / "ok.py", missing])
    with pytest.raises(C2CError, match=f"{name}: no such file or directory"):
        corpus_fingerprint([missing])  # what `c2c run` checks before its first stage
    with pytest.raises(C2CError, match=f"{name}: no such file or directory"):
        extract_to_parquet([missing], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


# -- JSON arrays --------------------------------------------------------------------------------


def test_a_json_array_of_records_is_read_as_rows(tmp_path: Path) -> None:
    records = [
        {"content": GOOD, "path": "a.py"},
        {"text": "no content column"},
        ["not", "an", "object"],
        {"content": GOOD.replace("hyp", "hyp2"), "path": "b.py"},
    ]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=2))
    result = extract([path])
    rows = result.functions.select("name", "origin_row", "origin_path").rows()
    assert rows == [("hyp", 0, "a.py"), ("hyp2", 3, "b.py")]
    assert result.skipped.select("origin_row", "reason").rows() == [(1, "bad_row"), (2, "bad_row")]


def test_a_json_file_of_lines_still_works(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text(json.dumps({"content": GOOD}) + "\n" + json.dumps({"content": GOOD}) + "\n")
    assert extract([path]).functions["origin_row"].to_list() == [0, 1]
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert extract([empty]).summary.sources == 0


# -- .pyw and notebooks -------------------------------------------------------------------------


def notebook(*cells: tuple[str, str], language: str = "python") -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
                for kind, text in cells
            ],
            "metadata": {"kernelspec": {"language": language, "name": "k"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


NOTEBOOK = notebook(
    ("code", "%matplotlib inline\nimport math\n!pip install numpy\n"),
    ("markdown", "# Heading\ndef not_code(a):\n    return a\n"),
    ("code", f"def hyp(a):\n{BODY}    %time x = 1\n    return math.sqrt(c)\n"),
    ("code", "%%bash\nls -l\n"),
    ("code", "hyp(3)\n"),
)


def test_pyw_files_and_notebooks_are_python_sources(tmp_path: Path) -> None:
    (tmp_path / "tool.pyw").write_text(GOOD.replace("hyp", "from_pyw"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "analysis.ipynb").write_text(NOTEBOOK)
    (tmp_path / "sub" / ".ipynb_checkpoints").mkdir()  # Jupyter's autosaved copies: not read
    (tmp_path / "sub" / ".ipynb_checkpoints" / "analysis-checkpoint.ipynb").write_text(NOTEBOOK)
    (tmp_path / "sub" / "broken.ipynb").write_text('{"cells": [')
    (tmp_path / "sub" / "julia.ipynb").write_text(notebook(("code", GOOD), language="julia"))
    (tmp_path / "notes.txt").write_text(GOOD)
    result = extract([tmp_path])
    found = dict(zip(result.functions["name"], result.functions["origin"], strict=True))
    assert found == {"from_pyw": "tool.pyw", "hyp": "sub/analysis.ipynb"}
    assert set(result.functions["origin_corpus"]) == {tmp_path.name}
    source = result.functions.filter(pl.col("name") == "hyp")["source"][0]
    assert source == f"import math\ndef hyp(a):\n{BODY}\n    return math.sqrt(c)"
    assert skipped(result) == {"broken.ipynb": "bad_notebook", "julia.ipynb": "not_python"}
    # Named on their own, too.
    alone = extract([tmp_path / "tool.pyw", tmp_path / "sub" / "analysis.ipynb"])
    assert sorted(alone.functions["name"]) == ["from_pyw", "hyp"]


def test_the_walker_and_the_planner_agree_on_python_suffixes(tmp_path: Path) -> None:
    for suffix in (*PYTHON_SUFFIXES, ".txt", ".pyc", ".json"):
        (tmp_path / f"file{suffix}").write_text("")
    found, errors = _core.discover([str(tmp_path)], [])
    assert errors == []
    assert sorted(Path(p).suffix for p in found) == sorted(PYTHON_SUFFIXES)
