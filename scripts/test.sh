#!/usr/bin/env bash
# Install the package with its test dependencies, then run every test: Rust, then Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet ".[test,ray]"
# The real small LLM server the input-generation tests use (cached; a no-op once installed).
bash scripts/install-llm.sh
cargo test --workspace --quiet
python3 -m pytest -q tests

# The oldest polars and datasets that pyproject.toml allows get the Python tests too (without the
# slow LLM-server ones): their APIs change between releases, and users may have the floor.
floor() {
    python3 scripts/dependency_floor.py "$1"
}
# What the floors' install changes (it downgrades their dependencies too) is put back afterwards,
# exactly: the versions installed before it, this package aside.
before="$(mktemp)"
python3 -m pip freeze --exclude-editable | grep -v -i '^case2code' | sort > "$before"
restore() {
    local changed
    changed="$(comm -23 "$before" <(python3 -m pip freeze --exclude-editable | sort))"
    if [ -n "$changed" ]; then
        python3 -m pip install --quiet --no-deps $changed
    fi
    rm -f "$before"
}
echo "== Python tests on the dependency floors: polars $(floor polars), datasets $(floor datasets)"
trap restore EXIT  # pass or fail, leave this machine as it was
python3 -m pip install --quiet "polars==$(floor polars)" "datasets==$(floor datasets)"
# Building the wheel and compiling the sandbox in an empty cache are tested once, above: they do
# not depend on polars' or datasets' version.
C2C_SKIP_LLM_TESTS=1 python3 -m pytest -q tests --ignore tests/test_install.py \
    --ignore tests/test_sandbox_cli.py
