"""fuxictr's dataset statistics, counted from the train csv in plain chunks.

fuxictr 2.3.10's ``FeatureProcessor.fit`` takes its statistics from ``_collect_statistics``:
value counts of every categorical, meta and sequence column, the longest sequence, and min / max /
mean / std / count of every normalised numeric column, as polars queries over ``scan_csv``. Those
queries memory-map the csv, so a build of Criteo's full train split (8.7 GB) counted all of it as
resident, and every column's raw counts (about 34M distinct values at full size, almost all below
``min_categr_count``) came back as Python dicts. :func:`chunked_statistics` computes the same
numbers from chunks read through a file handle (:func:`~fuxictr_ssr.data.raw_check.line_chunks`),
each run through the processor's own ``preprocess``:

* counts are kept as polars frames and merged when the chunks pending reach the merged frame's size
  (each value is re-counted O(log chunks) times, not once per chunk);
* a categorical column keeps only the values counted at least ``min_categr_count`` times. fuxictr's
  tokenizer keeps exactly those (ordered by count, then value), so the vocabulary is unchanged and
  the statistics handed to ``fit`` grow with the vocabulary, not with the raw values;
* numeric moments are merged exactly (Chan et al.'s pairwise update of mean and squared deviations).

``tests/test_statistics.py`` pins every statistic to fuxictr's own.
"""
import math
import warnings

import polars as pl

from .raw_check import line_chunks

MERGE_MIN_ROWS = 1_000_000


class _Counts:
    """Value counts of one column, merged geometrically."""

    def __init__(self):
        self.merged, self.pending, self.pending_rows = None, [], 0

    def add(self, counts):
        self.pending.append(counts)
        self.pending_rows += len(counts)
        if self.pending_rows >= max(MERGE_MIN_ROWS, len(self.merged) if self.merged is not None else 0):
            self._merge()

    def _merge(self):
        frames = ([self.merged] if self.merged is not None else []) + self.pending
        if frames:
            self.merged = pl.concat(frames).group_by("value").agg(pl.col("len").sum())
        self.pending, self.pending_rows = [], 0

    def as_dict(self, least=1):
        self._merge()
        if self.merged is None:
            return {}
        kept = self.merged.filter(pl.col("len") >= least)
        return dict(zip(kept["value"].to_list(), kept["len"].to_list()))


class _Moments:
    """min, max, mean, population std and count of a numeric column, over chunks."""

    def __init__(self):
        self.count, self.mean, self.m2, self.min, self.max = 0, 0.0, 0.0, None, None

    def add(self, values):
        values = values.drop_nulls()
        n = len(values)
        if n == 0:
            return
        mean, m2 = float(values.mean()), float(((values - values.mean()) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        low, high = values.min(), values.max()
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)

    def as_dict(self):
        if self.count == 0:
            return {"min": None, "max": None, "mean": None, "std": None, "count": 0}
        return {"min": self.min, "max": self.max, "mean": self.mean,
                "std": math.sqrt(self.m2 / self.count), "count": self.count}


def _columns(processor):
    """Which statistic each active column needs, as fuxictr's ``_collect_statistics`` decides."""
    wanted = {}
    for column in processor.feature_cols:
        if not column.get("active", True):
            continue
        kind, name = column["type"], column["name"]
        counted = kind in ("categorical", "meta", "sequence") and column.get("remap", True)
        if counted and column.get("category_processor") not in ("quantile_bucket", "hash_bucket"):
            wanted[name] = column
        elif kind == "numeric" and "normalizer" in column:
            wanted[name] = column
    return wanted


def _chunk_counts(frame, column):
    values = pl.col(column["name"])
    if column["type"] == "sequence":
        values = values.str.split(column.get("splitter", "^"))
    counted = frame.select(values.alias("value"))
    if column["type"] == "sequence":
        with warnings.catch_warnings():  # polars >= 1.35 warns of a default change for empty lists;
            warnings.simplefilter("ignore", DeprecationWarning)  # str.split never returns one
            counted = counted.explode("value")
    return counted.drop_nulls().group_by("value").len()


def chunked_statistics(processor, files, sep=",", chunk_rows=500_000, min_categr_count=1):
    """``{column: statistics}`` of the csv ``files`` in the layout of fuxictr's ``_collect_statistics``."""
    wanted = _columns(processor)
    counts = {name: _Counts() for name, c in wanted.items() if c["type"] != "numeric"}
    moments = {name: _Moments() for name, c in wanted.items() if c["type"] == "numeric"}
    max_len = {name: 0 for name, c in wanted.items() if c["type"] == "sequence" and not c.get("max_len", 0)}
    for path in files:
        for _, header, body in line_chunks(path, chunk_rows):
            raw = pl.read_csv(header + body, separator=sep, schema_overrides=processor.dtype_dict)
            frame = processor.preprocess(raw.lazy()).collect()
            for name, tally in counts.items():
                tally.add(_chunk_counts(frame, wanted[name]))
            for name, tally in moments.items():
                tally.add(frame[name])
            for name in max_len:
                longest = frame[name].str.split(wanted[name].get("splitter", "^")).list.len().max()
                max_len[name] = max(max_len[name], int(longest or 0))
    statistics = {name: tally.as_dict() for name, tally in moments.items()}
    for name, tally in counts.items():
        column = wanted[name]
        least = column.get("min_categr_count", min_categr_count) if column["type"] == "categorical" else 1
        statistics[name] = {"value_counts": tally.as_dict(least)}
        if column["type"] == "sequence":
            statistics[name]["max_len"] = max_len.get(name, 0)
    return statistics
