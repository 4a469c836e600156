"""The Rust core's boundary: result tables carry exactly the columns the Python schemas name,
`Limits` crosses as the dataclass, and each kind of Rust error arrives as its Python exception
(then as a `C2CError` naming the stage)."""

from __future__ import annotations

import pytest
from case2code import _core
from case2code.dedup import DedupConfig
from case2code.errors import C2CError
from case2code.extract import FUNCTION_SCHEMA, REJECTION_SCHEMA
from case2code.sandbox import CASE_SCHEMA, Limits, Sandbox, prepare

SOURCE = (
    "import os\ndef kept(a):\n    b = a + 1\n    return b\n\ndef f(a):\n    return os.getcwd()\n"
)


def test_extraction_tables_have_the_python_schemas_columns() -> None:
    columns = _core.Extractor(min_lines=1).extract_texts([SOURCE, "x = 1\n"])
    assert set(columns) == {"functions", "rejections", "sources"}
    # Python adds where each row came from (origin_corpus, origin, origin_row) from the
    # source index.
    added = {"origin_corpus", "origin", "origin_row"}
    assert list(columns["functions"]) == [
        "source_index",
        *(c for c in FUNCTION_SCHEMA if c not in added),
    ]
    assert list(columns["rejections"]) == [
        "source_index",
        *(c for c in REJECTION_SCHEMA if c not in added),
    ]
    assert columns["functions"]["name"] == ["kept"]
    assert columns["rejections"]["source_index"] == [0]
    assert columns["sources"] == {"bytes": [len(SOURCE), 6], "skipped": [None, None]}


def test_dedup_table_has_a_row_per_function() -> None:
    deduper = _core.Deduper()
    sources = ["def f(a):\n    return a + 1\n", "def f(a):\n    return a + 1\n", "x = [1, 2, 3]\n"]
    deduper.add(sources, [0.0, 1.0, 2.0])
    outcome = deduper.finish()
    assert list(outcome) == ["cluster", "reason", "exact_hash"]
    assert outcome["reason"] == ["kept", "exact", "kept"]
    assert outcome["cluster"] == [0, 0, 2]
    assert all(len(h) == 32 for h in outcome["exact_hash"])


def test_sandbox_table_has_the_case_schemas_columns_and_reads_limits_fields() -> None:
    compiled, stdlib_dir = prepare()
    limits = Limits(check_stability=False, recursion_limit=60)
    executor = _core.Executor(compiled, stdlib_dir, limits, 0, [])
    source = "import sys\ndef f(x):\n    return (x, sys.getrecursionlimit())\n"
    columns = executor.run([(source, "f", ["(1,)", "(2,)"])])
    assert list(columns) == ["job", *CASE_SCHEMA]
    assert columns["job"] == [0, 0] and columns["case"] == [0, 1]
    # The limits reached the guest: the recursion limit is the one set above.
    assert columns["value_repr"] == ["(1, 60)", "(2, 60)"]


def test_limits_refused_by_rust_are_config_errors() -> None:
    compiled, stdlib_dir = prepare()
    # Python's checks are bypassed on purpose: Rust validates what crosses on its own.
    tiny = Limits()
    object.__setattr__(tiny, "memory_bytes", 1 << 20)
    with pytest.raises(_core.ConfigError, match="at least 64 MiB"):
        _core.Executor(compiled, stdlib_dir, tiny, 0, [])
    odd = Limits()
    object.__setattr__(odd, "isolation", "thread")
    with pytest.raises(_core.ConfigError, match='unknown isolation "thread"'):
        _core.Executor(compiled, stdlib_dir, odd, 1, ["true"])
    wrong_type = Limits()
    object.__setattr__(wrong_type, "fuel_per_case", "many")
    with pytest.raises(_core.ConfigError, match="limits: fuel_per_case"):
        _core.Executor(compiled, stdlib_dir, wrong_type, 0, [])


def test_limits_refused_by_rust_reach_users_as_c2c_errors() -> None:
    tiny = Limits()
    object.__setattr__(tiny, "recursion_limit", 10)
    with pytest.raises(C2CError, match=r"^sandbox: recursion_limit must be between 50"):
        Sandbox(tiny, workers=0)


def test_interpreter_file_errors_are_sandbox_errors(tmp_path) -> None:
    missing = tmp_path / "missing.wasm"
    with pytest.raises(_core.SandboxError, match=f"cannot read {missing}"):
        _core.sandbox_prepare(missing, "", missing, "", tmp_path / "cache")


def test_dedup_settings_refused_by_rust_are_config_errors() -> None:
    with pytest.raises(_core.ConfigError, match=r"bands x rows \(50 x 6\) exceeds the 256"):
        _core.Deduper(bands=50)
    with pytest.raises(_core.ConfigError, match=r"threshold must be between 0 and 1, not 1\.5"):
        _core.Deduper(threshold=1.5)
    # DedupConfig checks first; Rust's check is the same rule, raised as C2CError either way.
    unchecked = DedupConfig()
    object.__setattr__(unchecked, "rows", 0)
    with pytest.raises(C2CError, match=r"^dedup: ngram, permutations, bands and rows must be"):
        unchecked.deduper()
    deduper = _core.Deduper()
    with pytest.raises(ValueError, match=r"differ in length \(1 sources, 2 ranks\)"):
        deduper.add(["x = 1\n"], [0.0, 1.0])
    deduper.add(["x = 1\n"], [0.0])
    with pytest.raises(ValueError, match=r"no such function: 3 \(of 1 added\)"):
        deduper.similarity(0, 3)


def test_dedup_record_files_that_cannot_be_made_are_os_errors(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("TMPDIR", str(missing))
    with pytest.raises(OSError, match=f"cannot create dedup's record files in {missing}"):
        _core.Deduper()
    with pytest.raises(C2CError, match=r"^dedup: cannot create dedup's record files .* TMPDIR"):
        DedupConfig().deduper()


def test_extraction_settings_refused_by_rust_are_config_errors() -> None:
    with pytest.raises(_core.ConfigError, match='unknown rule "sise"; rules are: not_async'):
        _core.Extractor(rules={"sise": False})
    with pytest.raises(_core.ConfigError, match='unknown list "deny"; lists are: stdlib_modules'):
        _core.Extractor(lists={"deny": []})
    with pytest.raises(_core.ConfigError, match="size: "):
        _core.Extractor(rules={"size": "no"})
