"""Dedup's clustering on Ray Data (`case2code.dedup_distributed`) gives the local clusters:
on more than 50,000 functions (the stdlib's and a few site-packages' self-contained functions,
mutated copies of them as benches/dedup_mutations.py makes them, and HumanEval solutions with
their docstrings rewritten), the decision table of `RayClusterStep` on a local Ray cluster of 2
CPUs is `ClusterStep`'s, row for row. The replay on the driver follows the local clustering's
order (a position whose pair is joined already never asks about its head), which the
components of the verified pairs do not. Skipped when Ray is not installed."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from case2code import _core, extract
from case2code.benchmarks import load_benchmarks, reference_tasks
from case2code.dedup import ClusterStep, DedupConfig, SignStep
from case2code.errors import C2CError
from case2code.executors import LocalExecutor
from case2code.steps.choices import SampleFunctions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))
import dedup_mutations

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install ray[data]"
)

FUNCTIONS = 53_000  # rows before exact copies share an id: over 50,000 function ids
SITE_PACKAGES = ("networkx", "pip", "jedi")
LEAKED = 40  # HumanEval solutions put in the corpus with their docstring rewritten
KEY = "function_id"


def function_ids(sources: list[str]) -> list[str]:
    """Ids as extract gives them: a digest of the source (exact copies share one)."""
    return [hashlib.sha256(s.encode()).hexdigest()[:16] for s in sources]


def leaked_humaneval() -> list[str]:
    """HumanEval solutions as a corpus would copy them: the docstring rewritten."""
    leaked = []
    for task in load_benchmarks(["humaneval"])[:LEAKED]:
        head, quote, rest = task.source.partition('"""')
        if quote:
            _, _, body = rest.partition('"""')
            leaked.append(f'{head}"""Copied from somewhere else."""{body}')
    return leaked


@pytest.fixture(scope="module")
def signatures(
    stdlib_dir: Path, site_packages_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The signature table of the corpus (module docstring), signed once."""
    roots = [stdlib_dir] + [site_packages_dir / name for name in SITE_PACKAGES]
    base = extract([r for r in roots if r.exists()]).functions.unique("function_id").sort(KEY)
    sources, _, _ = dedup_mutations.enlarge(base["source"].to_list(), FUNCTIONS, seed=16)
    sources += leaked_humaneval()
    functions = pl.DataFrame(
        {KEY: function_ids(sources), "name": ["f"] * len(sources), "source": sources}
    )
    path = tmp_path_factory.mktemp("signatures") / "signatures.parquet"
    LocalExecutor().run(SignStep(DedupConfig()), {"functions": functions}, path)
    return path


def decide(step: ClusterStep, signatures: Path, output: Path) -> tuple[pl.DataFrame, float]:
    """The step's decision table, streamed as an executor streams it, and its seconds."""
    start = time.perf_counter()
    LocalExecutor().decide_into(step, signatures, output)
    return pl.read_parquet(output), time.perf_counter() - start


def test_ray_clusters_are_the_local_clusters_on_over_50k_functions(
    ray_address: str, signatures: Path, tmp_path: Path, monkeypatch
) -> None:
    from case2code import dedup_distributed

    config, tasks = DedupConfig(), reference_tasks("humaneval")
    local, local_s = decide(ClusterStep(config, tasks), signatures, tmp_path / "local.parquet")
    asked: list[tuple[bytes, ...]] = []
    candidates = dedup_distributed.RayClusterStep._candidates

    def recorded(self, *args):
        asked.append(candidates(self, *args))
        return asked[-1]

    monkeypatch.setattr(dedup_distributed.RayClusterStep, "_candidates", recorded)
    step = dedup_distributed.on_ray(ClusterStep(config, tasks))
    distributed, ray_s = decide(step, signatures, tmp_path / "ray.parquet")
    print(f"\n{local.height} functions: local clustering {local_s:.1f} s, on Ray {ray_s:.1f} s")

    assert local.height >= 50_000
    assert distributed.equals(local)
    reasons = local["dedup_reason"].value_counts().rows()
    counts = dict(reasons)
    assert counts["near"] > 5_000 and counts["exact"] > 1_000
    assert counts["contaminated"] >= LEAKED // 2, reasons
    # The order matters on real data: the components of every near pair the positions could
    # ask about join functions the local clustering keeps apart.
    _, _, this, near_a, near_b = asked[0]
    assert len(this) // 4 > local.height  # more bucket positions than functions
    components = near_components(local["exact_hash"], near_a, near_b, len(tasks))
    print(
        f"{len(this) // 4} bucket positions, {len(near_a) // 4} near pairs; clusters kept: "
        f"{counts['kept']}, components of the near pairs: {components}"
    )
    assert components < counts["kept"]


def test_the_first_rule_and_unverified_candidates_cluster_as_locally(
    ray_address: str, signatures: Path, tmp_path: Path, monkeypatch
) -> None:
    """On 4,000 of the functions read back 700 at a time (several blocks on Ray, indices
    continued across them): the `first` keep rule with unverified candidates, as locally."""
    from case2code.dedup_distributed import on_ray
    from case2code.executors import partitions

    monkeypatch.setattr(partitions, "SUMMARY_BATCH_ROWS", 700)
    some = tmp_path / "some.parquet"
    pl.read_parquet(signatures).head(4_000).write_parquet(some)
    config, tasks = DedupConfig(keep="first", verify=False), reference_tasks("humaneval")
    local, _ = decide(ClusterStep(config, tasks), some, tmp_path / "local.parquet")
    distributed, _ = decide(on_ray(ClusterStep(config, tasks)), some, tmp_path / "ray.parquet")
    assert distributed.equals(local)
    assert local.filter(pl.col("dedup_reason") == "near").height > 100


def near_components(exact: pl.Series, near_a: bytes, near_b: bytes, references: int) -> int:
    """Clusters (with at least one corpus function) of the union of exact copies and every
    near pair: what a "verify every candidate, take components" dedup would keep."""
    n = exact.len() + references
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, h in enumerate(exact.to_list()):
        union(first.setdefault(h, i), i)
    a = memoryview(near_a).cast("I")
    b = memoryview(near_b).cast("I")
    for x, y in zip(a, b, strict=True):
        union(x, y)
    corpus_roots = {find(i) for i in range(exact.len())}
    contaminated = {find(i) for i in range(exact.len(), n)}
    return len(corpus_roots - contaminated)


def test_a_joined_pair_never_asks_about_its_head() -> None:
    """Buckets [1, 3], [2, 3], [0, 1, 2] with near pairs (1, 3), (2, 3), (0, 2): at the last
    position (1, 2) is joined already, so (0, 2) is never asked and 0 stays alone; without
    bucket [2, 3] it is asked and joins. Unverified, every position asked joins."""

    def u32(*values: int) -> bytes:
        return b"".join(v.to_bytes(4, "little") for v in values)

    replay = _core.ClusterReplay()
    replay.add([f"{h:032x}" for h in (10, 11, 12, 13)], [0.0, 0.0, 0.0, 0.0])
    near = (u32(1, 2, 0), u32(3, 3, 2))
    replay.cluster(u32(1, 2, 0, 0), u32(1, 2, 0, 1), u32(3, 3, 1, 2), *near)
    assert replay.outcome(0, 4)["cluster"] == [0, 1, 1, 1]
    assert replay.outcome(0, 4)["reason"] == ["kept", "kept", "near", "near"]
    replay.cluster(u32(1, 0, 0), u32(1, 0, 1), u32(3, 1, 2), *near)
    assert replay.outcome(0, 4)["cluster"] == [0, 1, 0, 1]
    replay.cluster(u32(1, 0, 0), u32(1, 0, 1), u32(3, 1, 2))
    assert replay.outcome(0, 4)["cluster"] == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="no such function: 4"):
        replay.cluster(u32(0), u32(0), u32(4))
    with pytest.raises(ValueError, match="whole number of 4-byte values"):
        replay.cluster(u32(0), u32(0), b"\x01\x00")


def test_verification_from_signature_bytes_is_the_local_one() -> None:
    sources = [
        "def f(a):\n    total = 0\n    for x in a:\n        total += x * x\n    return total\n",
        "def f(a):\n    # squares\n    total = 0\n    for x in a:\n        total += x * x\n"
        "    return total + 0\n",
        "def g(s):\n    return s.strip().lower()\n",
    ]
    deduper = DedupConfig().deduper()
    signed = deduper.signatures(sources)
    deduper.add(sources, [0.0, 1.0, 2.0])
    pairs = [(0, 1), (0, 2), (1, 2)]
    near = _core.dedup_near_pairs(
        0.7,
        [signed["sketch"][a] for a, _ in pairs],
        [signed["sketch"][b] for _, b in pairs],
        [signed["shingles"][a] for a, _ in pairs],
        [signed["shingles"][b] for _, b in pairs],
    )
    assert near == [deduper.jaccard(a, b) >= 0.7 for a, b in pairs] == [True, False, False]


def test_signatures_of_other_settings_are_named(
    ray_address: str, tmp_path: Path, monkeypatch
) -> None:
    from case2code.dedup_distributed import RayClusterStep

    sources = ["def f(a):\n    return a + 1\n", "def g(b):\n    return b * 2\n"]
    functions = pl.DataFrame({KEY: ["a1", "b2"], "name": ["f", "g"], "source": sources})
    signed = LocalExecutor().run(SignStep(DedupConfig(bands=10)), {"functions": functions})
    assert signed.table is not None
    with pytest.raises(C2CError, match=r"function a1: 80 band-key bytes.* signs 336"):
        LocalExecutor().decide(RayClusterStep(DedupConfig()), signed.table)
    empty = LocalExecutor().decide(RayClusterStep(DedupConfig(bands=10)), signed.table.clear())
    assert empty.height == 0 and empty.columns == list(ClusterStep.decision_schema)


def test_only_dedups_clustering_moves_to_ray() -> None:
    from case2code.dedup_distributed import DISTRIBUTED_MIN_FUNCTIONS, RayClusterStep, on_ray

    step = ClusterStep(DedupConfig(keep="first"), reference_tasks("humaneval"))
    moved = on_ray(step)
    assert isinstance(moved, RayClusterStep) and on_ray(moved) is moved
    assert moved.fingerprint() == step.fingerprint()
    sample = SampleFunctions(10, seed=1)
    assert on_ray(sample) is sample
    # A small table is clustered on the driver (the same decisions, without Ray Data's cost).
    assert on_ray(step, functions=DISTRIBUTED_MIN_FUNCTIONS - 1) is step
    assert isinstance(on_ray(step, functions=DISTRIBUTED_MIN_FUNCTIONS), RayClusterStep)


def test_a_bucket_cut_across_shuffle_blocks_is_refused() -> None:
    """Bucket [0, 1, 2, 3] of band 0 seen as two buckets [0, 1] and [2, 3] (a shuffle that
    split it) would replay differently: refused. Whole buckets come back in finish's order."""
    from case2code.dedup_distributed import POSITIONS, _in_finish_order

    def positions(*rows: tuple[int, int, int, int, int]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=POSITIONS, orient="row")

    whole = positions((0, 7, 0, 2, 3), (0, 7, 0, 0, 1), (0, 5, 4, 4, 6), (0, 7, 0, 1, 2))
    assert _in_finish_order(whole)["this"].to_list() == [6, 1, 2, 3]
    cut = positions((0, 7, 0, 0, 1), (0, 7, 2, 2, 3))
    with pytest.raises(C2CError, match=r"1 bucket position.* cut in pieces"):
        _in_finish_order(cut)
