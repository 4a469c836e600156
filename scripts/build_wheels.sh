#!/usr/bin/env bash
# Build what a release publishes, into dist/ (or $1): one abi3 wheel for CPython >= 3.10 on
# manylinux x86_64 (the Rust core compiled once, release profile) and the sdist, then check the
# wheel's platform tag with auditwheel. Needs a Rust toolchain; installing the wheel does not.
# CARGO_TARGET_DIR is honoured, so a kept target folder makes rebuilds incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"

# The build tools: maturin in the range pyproject.toml's [build-system] asks for.
maturin_requirement="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"][0])')"
python3 -m pip install --quiet "$maturin_requirement" "auditwheel>=6"

mkdir -p "$out"
# Only this build's files: a wheel left from another tree would be published with them.
rm -f "$out"/case2code-*.whl "$out"/case2code-*.tar.gz

# No --compatibility: maturin audits the library and tags it with the oldest manylinux it
# satisfies (glibc of the build machine or older); a wheel that is not manylinux fails here.
python3 -m maturin build --release --out "$out"
python3 -m maturin sdist --out "$out"

wheel="$(ls "$out"/case2code-*.whl)"
sdist="$(ls "$out"/case2code-*.tar.gz)"
report="$(python3 -m auditwheel show "$wheel")"
echo "$report"
# Its verdict: 'consistent with the following platform tag: "manylinux_2_NN_x86_64"' (or
# "linux_x86_64" for a wheel that is not), wrapped over lines.
if ! tr -s ' \n' ' ' <<<"$report" | grep -q 'platform tag: "manylinux_'; then
    echo "error: $wheel is not manylinux compliant (auditwheel show above)" >&2
    exit 1
fi
echo "built: $wheel $sdist"
