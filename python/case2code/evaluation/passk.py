"""The unbiased pass@k estimator of Chen et al. (2021), as EvalPlus computes it.

For a task with n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k): the chance
that k samples drawn without replacement from the n include a correct one. The product form
below never builds the huge binomials. The paper's own script counts a task solved at k when
any of its first k samples is; that is biased (it depends on the samples' order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# The k reported, each only when every task has at least k samples.
KS = (1, 5, 10, 20, 50, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) for one task, as a fraction in 0-1."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    failing_draws = 1.0
    for m in range(n - c + 1, n + 1):
        failing_draws *= 1.0 - k / m
    return 1.0 - failing_draws


def reported_ks(sample_counts: Iterable[int]) -> list[int]:
    """The k of KS that every task's sample count allows."""
    counts = list(sample_counts)
    smallest = min(counts) if counts else 0
    return [k for k in KS if k <= smallest]


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k over tasks given as (n, c) pairs: the mean of the per-task estimates."""
    if not counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
