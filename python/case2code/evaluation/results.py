"""The figures of an evaluation and its files: results.json, tasks.jsonl, samples.jsonl and
report.md (overall figures, statuses, self-checks, and breakdowns by prompt family, function
size, whether an exception must be produced, and shown-case count). Written atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import write_text
from case2code.evaluation.grade import CORRECT, SAMPLE_STATUSES
from case2code.evaluation.passk import mean_pass_at_k, reported_ks

RESULT_FILES = ("results.json", "tasks.jsonl", "samples.jsonl", "report.md")
# Function size buckets, by lines of the task's code: (label, smallest, largest).
SIZE_BUCKETS = (("1-5", 1, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21-50", 21, 50))
LARGEST_BUCKET = "51+"
BREAKDOWNS = (
    ("family", "prompt family"),
    ("size", "function size (lines)"),
    ("expects_exception", "an exception must be produced"),
    ("shown", "cases shown in the prompt"),
)


def size_bucket(n_lines: int) -> str:
    for label, low, high in SIZE_BUCKETS:
        if low <= n_lines <= high:
            return label
    return LARGEST_BUCKET


def task_results(tasks: pl.DataFrame, verdicts: pl.DataFrame) -> pl.DataFrame:
    """One row per task: samples n, correct ones, cases passed / run over its samples, the
    first failing sample's status (null when every sample is correct), and the task's traits."""
    ordered = verdicts.sort("id", "sample")
    per_task = ordered.group_by("id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"),
        (pl.col("status") == CORRECT).sum().cast(pl.Int64).alias("correct"),
        pl.col("cases_passed").sum().alias("cases_passed"),
        pl.col("cases_total").sum().alias("cases_total"),
        pl.col("status").filter(pl.col("status") != CORRECT).first().alias("status"),
    )
    traits = tasks.select(
        "id",
        "family",
        "n_lines",
        pl.col("n_lines").map_elements(size_bucket, return_dtype=pl.String).alias("size"),
        "expects_exception",
        "shown",
    )
    return traits.join(per_task, on="id", how="left", maintain_order="left")


def figures(task_table: pl.DataFrame, verdicts: pl.DataFrame) -> dict[str, Any]:
    """Overall figures: pass@1 and pass@k (fractions in 0-1), the mean share of cases passed
    per sample, and the samples per status."""
    counts = list(zip(task_table["n"], task_table["correct"], strict=True))
    ks = reported_ks(n for n, _ in counts)
    pass_k = {str(k): mean_pass_at_k(counts, k) for k in ks}
    shares = verdicts["cases_passed"] / verdicts["cases_total"]
    statuses = dict.fromkeys(SAMPLE_STATUSES, 0)
    for status, count in verdicts["status"].value_counts().iter_rows():
        statuses[status] = int(count)
    return {
        "tasks": task_table.height,
        "samples": verdicts.height,
        "pass@1": pass_k.get("1", 0.0),
        **{f"pass@{k}": value for k, value in pass_k.items() if k != "1"},
        "pass@k": pass_k,
        "mean_case_share": float(shares.mean()) if verdicts.height else 0.0,
        "statuses": statuses,
    }


def breakdown(task_table: pl.DataFrame, column: str) -> list[dict[str, Any]]:
    """pass@1 and the mean case share per value of a task trait, ordered by value."""
    rows = []
    for key, group in sorted(task_table.group_by(column), key=lambda kv: _sort_key(kv[0][0])):
        counts = list(zip(group["n"], group["correct"], strict=True))
        share = (group["cases_passed"] / group["cases_total"]).mean()
        rows.append(
            {
                column: key[0],
                "tasks": group.height,
                "pass@1": mean_pass_at_k(counts, 1),
                "mean_case_share": float(share) if share is not None else 0.0,  # type: ignore[arg-type]
            }
        )
    return rows


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and value[:1].isdigit():
        return (0, int(value.split("-")[0].rstrip("+")))
    return (1, str(value)) if not isinstance(value, (int, bool)) else (0, int(value))


def write_results(
    folder: str | Path,
    summary: Mapping[str, Any],
    task_table: pl.DataFrame,
    verdicts: pl.DataFrame,
    tasks: pl.DataFrame,
) -> dict[str, Path]:
    """Every result file into `folder`; returns their paths by name."""
    folder = Path(folder)
    expected = dict(zip(tasks["id"], tasks["expected"], strict=True))
    samples = []
    for row in in_task_order(tasks, verdicts).iter_rows(named=True):
        first = row["first_failure"]
        samples.append({**row, "expected": None if first is None else expected[row["id"]][first]})
    tasks_rows = task_table.select(
        "id", "n", "correct", "cases_passed", "cases_total", "status"
    ).to_dicts()
    return {
        "results.json": write_text(json.dumps(summary, indent=2) + "\n", folder / "results.json"),
        "tasks.jsonl": write_text(_jsonl(tasks_rows), folder / "tasks.jsonl"),
        "samples.jsonl": write_text(_jsonl(samples), folder / "samples.jsonl"),
        "report.md": write_text(render_report(summary, task_table), folder / "report.md"),
    }


def in_task_order(tasks: pl.DataFrame, verdicts: pl.DataFrame) -> pl.DataFrame:
    """Verdicts ordered as the tasks are in the data file, then by sample."""
    order = tasks.select("id", pl.int_range(pl.len()).alias("_task"))
    return verdicts.join(order, on="id").sort("_task", "sample").drop("_task")


def _jsonl(rows: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# ---------------------------------------------------------------- report.md


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_report(summary: Mapping[str, Any], task_table: pl.DataFrame) -> str:
    settings = summary.get("settings", {})
    parts = [
        "# c2c eval\n",
        f"Data: `{summary['data']}` ({summary['tasks']:,} tasks); model: "
        f"`{summary.get('model') or 'predictions file'}`; settings: "
        + ", ".join(f"{k} = {v}" for k, v in settings.items() if k != "limits")
        + "\n",
        "## Overall\n",
        _table(
            ["figure", "value"],
            [
                *[(f"pass@{k}", _percent(v)) for k, v in summary["pass@k"].items()],
                ("mean share of cases passed", _percent(summary["mean_case_share"])),
                ("tasks", f"{summary['tasks']:,}"),
                ("samples", f"{summary['samples']:,}"),
            ],
        ),
        "## Samples by status\n",
        _table(
            ["status", "samples"],
            [(s, f"{c:,}") for s, c in summary["statuses"].items() if c],
        ),
    ]
    if summary.get("self_check"):
        parts.append(render_self_check(summary["self_check"]))
    for column, title in BREAKDOWNS:
        rows = [
            (r[column], r["tasks"], _percent(r["pass@1"]), _percent(r["mean_case_share"]))
            for r in breakdown(task_table, column)
        ]
        parts += [f"## By {title}\n", _table([title, "tasks", "pass@1", "mean case share"], rows)]
    return "\n".join(parts)


def render_self_check(check: Mapping[str, Any]) -> str:
    reference, baseline = check["reference"], check["baseline"]
    lines = [
        "## Self-checks\n",
        _table(
            ["answer", "pass@1"],
            [
                ("the reference code", _percent(reference["pass@1"])),
                ("baseline: returns the most common output", _percent(baseline["pass@1"])),
            ],
        ),
    ]
    if reference["not_reproduced"]:
        lines.append("Tasks whose expected outputs this sandbox does not reproduce, by cause:\n")
        lines.append(
            _table(
                ["cause", "tasks"],
                [(cause, len(ids)) for cause, ids in reference["not_reproduced"].items()],
            )
        )
    return "\n".join(lines)
