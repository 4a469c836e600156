"""Dedup's clustering on Ray Data: `ClusterStep`'s decision table, row for row, with the LSH
buckets and the verification of candidate pairs computed on the cluster.

The local `Deduper.finish` is order-dependent: in band, key and position order it skips a
bucket position whose two functions are joined already, and asks about (head, this) only when
(prev, this) is not near. So the components of "every candidate pair, verified" are not its
clusters. `RayClusterStep` computes on Ray what `finish` might ask, and replays its walk:

1. **Signatures in**: the driver keeps what clustering needs per function (id, exact hash,
   rank) and puts band keys, sketch and shingles into Ray's object store, a block per batch,
   with each function's index (the benchmark tasks' follow, as in `ClusterStep`).
2. **Buckets** (Ray Data): a (band, key, index) row per function and band, hash-shuffled by
   (band, key) so that a bucket is in one block; per bucket of two or more members, in index
   order, a row per position k >= 1: (band, key, head, prev = member k - 1, this = member k).
3. **Verification** (Ray Data): the distinct pairs the positions may ask about, (prev, this)
   and (head, this), joined with both functions' sketch and shingles and checked by the Rust
   core's own test (`_core.dedup_near_pairs`); the near pairs come back to the driver.
4. **Replay** (driver, `_core.ClusterReplay`): the positions in `finish`'s order (band, key,
   this), checked for cut buckets, walked as `finish` walks them, with the same keep rule.

**Driver memory**: the bucket positions (about 70 bytes each at the peak) and the pairs they
may ask about (8 bytes each), on top of `ClusterStep`'s per function. The test corpus (51,000
functions, about 9 copies of each original) has 18 positions per function, 1.5 KB a function
at the peak: a 64 GiB driver clusters some 40 million such functions. Beyond that the
positions would be sorted on Ray and streamed into the replay; past even that, a distributed
connected components (large-star / small-star), whose components are not always the local
clusters (20,912 against 20,929 on the test corpus). Neither is built.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from case2code import _core
from case2code.dedup import ClusterStep, _checked
from case2code.errors import C2CError
from case2code.steps.base import KEY, GlobalStep, SummaryReader

# Rows per partition of a Ray Data shuffle (at least one partition per CPU of the cluster): a
# partition of bucket rows is sorted in one task's memory, 20 bytes a row.
SHUFFLE_PARTITION_ROWS = 1_000_000
# The signature columns that go to Ray; the others stay on the driver.
RAY_COLUMNS = ("bands", "sketch", "shingles")
POSITIONS: dict[str, pl.DataType] = {"band": pl.UInt32(), "key": pl.UInt64()}
POSITIONS |= {member: pl.UInt32() for member in ("head", "prev", "this")}
PAIRS: dict[str, pl.DataType] = {"a": pl.UInt32(), "b": pl.UInt32()}


# Below this many functions the driver clusters in process (the same decisions): Ray Data's
# fixed cost (two runs of ~10-20 s) outweighs the work (~1.3 s for 51,000 functions locally).
DISTRIBUTED_MIN_FUNCTIONS = 1_000_000


def on_ray(step: GlobalStep, functions: int | None = None) -> GlobalStep:
    """The step a Ray executor runs for `step`: dedup's clustering on Ray when its table has at
    least `DISTRIBUTED_MIN_FUNCTIONS` functions (None: always), others as they are."""
    if functions is not None and functions < DISTRIBUTED_MIN_FUNCTIONS:
        return step
    if isinstance(step, ClusterStep) and not isinstance(step, RayClusterStep):
        return RayClusterStep(step.config, step.tasks)
    return step


class RayClusterStep(ClusterStep):
    """`ClusterStep` with its candidates found and verified on Ray Data (module docstring): the
    same name, settings and decision table, so its output stands for `ClusterStep`'s."""

    def decide_stream(self, read: SummaryReader) -> Iterator[pl.DataFrame]:
        from case2code.executors.ray import connect

        ray = connect()
        replay = _core.ClusterReplay()
        ids: list[pl.Series] = []
        blocks: list[Any] = []
        for batch, ranks in self._ranked(read, ["exact_hash", *RAY_COLUMNS]):
            self._check_shapes(batch)
            _checked(replay.add, batch["exact_hash"].to_list(), ranks)
            blocks.append(ray.put(_ray_block(batch, len(replay) - batch.height)))
            ids.append(batch[KEY])
        if self.parts:
            signed = _checked(self.config.deduper().signatures, [p.source for p in self.parts])
            references = pl.DataFrame(signed)
            start = len(replay)
            _checked(replay.add, references["exact_hash"].to_list(), [0.0] * len(self.parts), True)
            blocks.append(ray.put(_ray_block(references, start)))
        if blocks:
            _checked(replay.cluster, *self._candidates(ray, blocks, len(replay)))
            blocks.clear()  # the object store's copy of the signatures is no longer needed
        else:
            _checked(replay.cluster, b"", b"", b"", b"", b"")
        yield from self._decisions(read, replay, ids)

    def _check_shapes(self, batch: pl.DataFrame) -> None:
        """Every signature as wide as this configuration's: a table signed with other
        settings is named here, not deep in a Ray task."""
        widths = {"bands": 8 * self.config.bands, "sketch": self.config.permutations}
        sizes = batch.select(*(pl.col(c).bin.size().alias(c) for c in RAY_COLUMNS), pl.col(KEY))
        bad = sizes.filter(
            (pl.col("bands") != widths["bands"])
            | (pl.col("sketch") != widths["sketch"])
            | (pl.col("shingles") % 4 != 0)
            | pl.any_horizontal(pl.col(*RAY_COLUMNS).is_null())
        )
        if bad.height:
            row = bad.row(0, named=True)
            raise C2CError(
                f"signatures: function {row[KEY]}: {row['bands']} band-key bytes, "
                f"{row['sketch']} sketch bytes and {row['shingles']} shingle bytes; this "
                f"configuration signs {widths['bands']}, {widths['sketch']} and a multiple "
                "of 4 (signed with other settings?)"
            )

    def _candidates(
        self, ray: Any, blocks: list[Any], functions: int
    ) -> tuple[bytes, bytes, bytes, bytes | None, bytes | None]:
        """`ClusterReplay.cluster`'s arguments: the bucket positions in `finish`'s order and
        the near pairs among those they may ask about."""
        signatures = ray.data.from_arrow_refs(blocks)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        rows = functions * self.config.bands
        partitions = max(cpus, math.ceil(rows / SHUFFLE_PARTITION_ROWS))
        positions = bucket_positions(signatures, self.config.bands, partitions)
        ordered = _in_finish_order(_collect(positions, POSITIONS))
        head, prev, this = (_u32_bytes(ordered[c]) for c in ("head", "prev", "this"))
        if not self.config.verify:
            return head, prev, this, None, None
        asked = _asked_pairs(ordered.drop("band", "key"))
        del ordered
        near = _collect(near_pairs(signatures, asked, self.config.threshold, partitions), PAIRS)
        return head, prev, this, _u32_bytes(near["a"]), _u32_bytes(near["b"])


def _ray_block(signatures: pl.DataFrame, start: int) -> pa.Table:
    """The signature columns Ray works on, with each function's index from `start`."""
    index = pl.Series("index", np.arange(start, start + signatures.height, dtype=np.uint32))
    table = signatures.select(*RAY_COLUMNS).with_columns(index)
    return table.to_arrow(compat_level=pl.CompatLevel.oldest())  # binary cells: plain offsets


# ------------------------------------------------------------ on Ray


def bucket_positions(signatures: Any, bands: int, partitions: int) -> Any:
    """The positions k >= 1 of every LSH bucket of two or more members: (band, key, head,
    prev, this), from a dataset of (index, bands) rows."""
    rows = signatures.map_batches(
        _bucket_rows, fn_kwargs={"bands": bands}, batch_format="pyarrow", zero_copy_batch=True
    )
    return rows.repartition(partitions, keys=["band", "key"]).map_batches(
        _positions, batch_size=None, batch_format="numpy"
    )


def near_pairs(signatures: Any, pairs: pl.DataFrame, threshold: float, partitions: int) -> Any:
    """Those of `pairs` (columns a, b: indices of `signatures`) that are near duplicates, by
    the Rust core's verification, with both functions' sketch and shingles brought to each
    pair by two hash joins on the index."""
    from case2code.executors.ray import import_ray

    pieces = [piece.to_arrow() for piece in pairs.iter_slices(SHUFFLE_PARTITION_ROWS)]
    joined = import_ray().data.from_arrow(pieces or [pairs.to_arrow()])
    sides = signatures.select_columns(["index", "sketch", "shingles"])
    for side in ("a", "b"):
        named = {"index": side, "sketch": f"sketch_{side}", "shingles": f"shingles_{side}"}
        joined = joined.join(
            sides.rename_columns(named),
            join_type="inner",
            num_partitions=partitions,
            on=(side,),
        )
    return joined.map_batches(_verified, fn_kwargs={"threshold": threshold}, batch_format="pyarrow")


def _bucket_rows(batch: pa.Table, bands: int) -> dict[str, np.ndarray]:
    """One (band, key, index) row per function and band."""
    keys = _fixed_width(batch["bands"], 8 * bands).view("<u8")
    index = batch["index"].to_numpy()
    return {
        "band": np.tile(np.arange(bands, dtype=np.uint32), len(index)),
        "key": keys.astype(np.uint64, copy=False),
        "index": np.repeat(index.astype(np.uint32), bands),
    }


def _fixed_width(column: pa.ChunkedArray, width: int) -> np.ndarray:
    """A binary column whose cells are all `width` bytes, as one byte array (no copy per
    cell)."""
    cells = column.combine_chunks()
    if not pa.types.is_binary(cells.type):
        cells = cells.cast(pa.large_binary())
    if len(cells) == 0:
        return np.zeros(0, dtype=np.uint8)
    large = pa.types.is_large_binary(cells.type)
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[cells.offset : cells.offset + len(cells) + 1]
    if not (np.diff(offsets) == width).all():
        raise C2CError(f"dedup on Ray: a signature cell is not {width} bytes")
    data = np.frombuffer(cells.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]]


def _positions(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A shuffle partition's bucket rows (whole buckets) as the positions k >= 1 of its buckets
    of two or more members, members in index order."""
    band, key, index = rows["band"], rows["key"], rows["index"]
    order = np.lexsort((index, key, band))
    band, key, index = band[order], key[order], index[order]
    n = len(index)
    first = np.ones(n, dtype=bool)
    first[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    bucket_start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else first
    at = np.flatnonzero(~first)
    return {
        "band": band[at],
        "key": key[at],
        "head": index[bucket_start[at]],
        "prev": index[at - 1],
        "this": index[at],
    }


def _verified(pairs: pa.Table, threshold: float) -> pa.Table:
    """The near pairs of a batch, by the Rust core's verification."""
    near = _core.dedup_near_pairs(
        threshold,
        pairs["sketch_a"].to_pylist(),
        pairs["sketch_b"].to_pylist(),
        pairs["shingles_a"].to_pylist(),
        pairs["shingles_b"].to_pylist(),
    )
    return pairs.select(["a", "b"]).filter(pa.array(near, type=pa.bool_()))


# ------------------------------------------------------------ on the driver


def _collect(dataset: Any, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A dataset of a few numbers a row gathered on the driver, in `schema`'s columns."""
    frames = [pl.DataFrame(schema=schema)]
    for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame.select(pl.col(c).cast(t) for c, t in schema.items()))
    return pl.concat(frames)


def _asked_pairs(positions: pl.DataFrame) -> pl.DataFrame:
    """The distinct pairs the positions may ask about: (prev, this), and (head, this) where
    head != prev (a position asks about the second only when the first is not near)."""
    by_prev = positions.select(pl.col("prev").alias("a"), pl.col("this").alias("b"))
    by_head = positions.filter(pl.col("head") != pl.col("prev"))
    by_head = by_head.select(pl.col("head").alias("a"), pl.col("this").alias("b"))
    return pl.concat([by_prev, by_head]).unique()


def _u32_bytes(column: pl.Series) -> bytes:
    """A column as 4-byte little-endian values, as the Rust core reads them."""
    return column.cast(pl.UInt32).to_numpy().astype("<u4").tobytes()


def _in_finish_order(positions: pl.DataFrame) -> pl.DataFrame:
    """The positions by band, key and position (`this` grows along a bucket), checked for a
    bucket cut across shuffle blocks (a position's prev not the one before's this, two heads),
    which would cluster differently: refused, not guessed. (Ray Data's key repartition puts a
    key's rows in one block, and `batch_size=None` hands a block whole: this is the guard.)"""
    ordered = positions.sort(["band", "key", "this"])
    same_bucket = (pl.col("band") == pl.col("band").shift(1)) & (
        pl.col("key") == pl.col("key").shift(1)
    )
    follows = (pl.col("prev") == pl.col("this").shift(1)) & (
        pl.col("head") == pl.col("head").shift(1)
    )
    whole = (
        pl.when(same_bucket.fill_null(False))
        .then(follows)
        .otherwise(pl.col("head") == pl.col("prev"))
    )
    broken = ordered.select((~whole).sum()).item()
    if broken:
        raise C2CError(
            f"dedup on Ray: {broken} bucket position(s) came back from a bucket cut in pieces "
            "(the shuffle split a (band, key) group): cannot replay the local clustering"
        )
    return ordered


__all__ = ["RayClusterStep", "bucket_positions", "near_pairs", "on_ray"]
