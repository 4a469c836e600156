"""The interpreter's files are checked against their pinned digests at every start; the digest
of a file already checked is remembered with the file's identity, so that an edit is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from case2code import _core
from case2code.sandbox import STDLIB_ZIP_SHA256, _artifacts


def _prepare(stdlib: Path, cache: Path, tmp_path: Path) -> str:
    # A wasm that fails its own digest check right after the stdlib zip's: nothing compiles.
    wasm = tmp_path / "not-the-interpreter.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0")
    with pytest.raises(RuntimeError) as error:
        _core.sandbox_prepare(str(wasm), "0" * 64, str(stdlib), STDLIB_ZIP_SHA256, str(cache))
    return str(error.value)


def test_a_file_edited_after_its_check_is_refused(tmp_path: Path) -> None:
    stdlib = tmp_path / "python-stdlib.zip"
    shutil.copyfile(_artifacts()[1], stdlib)
    cache = tmp_path / "cache"

    first = _prepare(stdlib, cache, tmp_path)
    assert "not-the-interpreter.wasm has sha256" in first  # the zip passed
    assert len(list((cache / "verified").iterdir())) == 2  # both files' digests remembered
    assert "not-the-interpreter.wasm" in _prepare(stdlib, cache, tmp_path)  # from the stamp

    # Same size, one byte changed in place: the stamp no longer matches, the digest is redone.
    with stdlib.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    refused = _prepare(stdlib, cache, tmp_path)
    assert "python-stdlib.zip has sha256" in refused and "refusing to use it" in refused
