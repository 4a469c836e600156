#!/usr/bin/env bash
# Install the package with its test dependencies, then run every test: Rust, then Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet ".[test]"
# The real small LLM server the input-generation tests use (cached; a no-op once installed).
bash scripts/install-llm.sh
cargo test --workspace --quiet
python3 -m pytest -q tests
