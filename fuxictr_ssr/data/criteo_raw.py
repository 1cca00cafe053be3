"""Criteo's raw Kaggle file (``train.txt``) generated at any size, written as a stream.

The layout is the Display Advertising Challenge's: tab-separated, no header, the label, I1-I13
integer counts and C1-C26 categorical values as 8 hex digits, an empty cell where a value is
missing. Rows are made in chunks of :data:`CHUNK_ROWS` from a generator seeded by ``(seed, chunk)``,
so memory does not grow with the row count and the same seed gives the same file.

Each categorical column is a mixture sized so that, at the Kaggle file's 45,840,617 rows, its
number of distinct values is close to the real file's (:data:`KAGGLE_CARDINALITIES`): a Zipf-skewed
head of ``min(K, HEAD)`` values, and for ``K > HEAD`` a uniform tail of ``M = (K - HEAD) / (1 - 1/e)``
values drawn with probability ``M`` over the column's non-missing cells at 45,840,617 rows, so that
each tail value is drawn about once at full size (a Poisson(1) count: ``M (1 - 1/e) = K - HEAD`` of them appear) and the long tail is mostly
singletons, as in the real logs; a smaller file has proportionally fewer. The click comes from a
recorded random teacher (a few numeric fields, a few categorical fields and pairs, Gaussian noise
on the logit) whose intercept is solved on the first chunk for the Kaggle click rate.
"""
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from .criteo_like import CATEGORICAL, CATEGORICAL_MISSING, CRITEO_CARDINALITIES, NUMERIC, NUMERIC_MISSING, _solve_intercept
from .synthetic import draw_pairs, zipf_probabilities

KAGGLE_ROWS = 45_840_617
# Distinct values of C1-C26 in the Kaggle train.txt, as DLRM's Kaggle preprocessing counts them
# (facebookresearch/dlrm; the same list appears in many Criteo-Kaggle pipelines)
KAGGLE_CARDINALITIES = dict(zip(CATEGORICAL, CRITEO_CARDINALITIES))
KAGGLE_CLICK_RATE = 0.2562  # 11,745,438 clicks in 45,840,617 rows
HEAD = 100_000
CHUNK_ROWS = 500_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_SHIFTS = np.arange(28, -1, -4, dtype=np.uint32)


@dataclass(frozen=True)
class RawCriteoSpec:
    """Size, seed and teacher of a generated ``train.txt``."""
    num_rows: int
    seed: int = 2026
    informative_numeric: int = 3
    informative_categorical: int = 5
    interactions: int = 4
    effect_scale: float = 0.5
    noise_std: float = 1.0
    zipf_exponent: float = 1.1

    def __post_init__(self):
        if not isinstance(self.num_rows, int) or not 0 < self.num_rows <= KAGGLE_ROWS:
            raise ValueError(f"--rows: expected an integer in 1..{KAGGLE_ROWS:,} (the Kaggle file's rows), "
                             f"got {self.num_rows!r}")


class _Columns:
    """The per-column plan every chunk draws from: head probabilities, tail size and share, hash salt."""

    def __init__(self, spec):
        rng = np.random.default_rng([spec.seed, 0])
        self.head, self.tail, self.tail_share, self.salt = {}, {}, {}, {}
        for name in CATEGORICAL:
            cardinality = KAGGLE_CARDINALITIES[name]
            head = min(cardinality, HEAD)
            self.head[name] = zipf_probabilities(head, spec.zipf_exponent)
            self.tail[name] = math.ceil((cardinality - head) / (1 - math.exp(-1))) if cardinality > head else 0
            # about one draw per tail value over the cells present at full size
            self.tail_share[name] = self.tail[name] / (KAGGLE_ROWS * (1 - CATEGORICAL_MISSING.get(name, 0.0)))
            self.salt[name] = int(rng.integers(1, 2 ** 31))
        self.numeric_means = rng.uniform(0.0, 4.0, len(NUMERIC))
        self.informative_numeric = sorted(rng.choice(len(NUMERIC), spec.informative_numeric, replace=False).tolist())
        self.informative_categorical = sorted(rng.choice(len(CATEGORICAL), spec.informative_categorical,
                                                         replace=False).tolist())
        self.numeric_weights = rng.normal(0, spec.effect_scale, len(NUMERIC)) * 2
        self.categorical_effects = rng.normal(0, spec.effect_scale, (len(CATEGORICAL), 10_000))
        self.pairs = draw_pairs(rng, len(CATEGORICAL), spec.interactions)
        self.pair_effects = rng.normal(0, spec.effect_scale, (len(self.pairs), 20_000))


def _draw_chunk(spec, columns, chunk, rows):
    """``(numeric counts, numeric missing masks, categorical ids, categorical missing masks, logit)``
    of one chunk, the logit without its intercept."""
    rng = np.random.default_rng([spec.seed, chunk + 1])
    counts, numeric_missing, logit = {}, {}, np.zeros(rows)
    for index, name in enumerate(NUMERIC):
        counts[name] = np.floor(rng.lognormal(columns.numeric_means[index], 1.5, rows)).astype(np.int64)
        numeric_missing[name] = rng.random(rows) < NUMERIC_MISSING[index]
        if index in columns.informative_numeric:  # standardised log count; log1p(x) of a log-normal
            scaled = (np.log1p(counts[name]) - columns.numeric_means[index]) / 1.5
            logit += np.where(numeric_missing[name], 0.0, columns.numeric_weights[index] * scaled)
    ids, categorical_missing = {}, {}
    for index, name in enumerate(CATEGORICAL):
        head = rng.choice(len(columns.head[name]), size=rows, p=columns.head[name])
        if columns.tail[name]:
            in_tail = rng.random(rows) < columns.tail_share[name]
            head[in_tail] = len(columns.head[name]) + rng.integers(0, columns.tail[name], int(in_tail.sum()))
        ids[name] = head
        categorical_missing[name] = rng.random(rows) < CATEGORICAL_MISSING.get(name, 0.0)
        if index in columns.informative_categorical:
            logit += columns.categorical_effects[index][head % 10_000]
    for number, (left, right) in enumerate(columns.pairs):
        logit += columns.pair_effects[number][(ids[CATEGORICAL[left]] * 1_000_003 + ids[CATEGORICAL[right]]) % 20_000]
    return counts, numeric_missing, ids, categorical_missing, logit + rng.normal(0, spec.noise_std, rows)


def _hex_ids(ids, salt):
    """8 hex digits per id: ``(id * 2654435761 + salt) mod 2**32`` (a bijection on 32-bit ids)."""
    hashed = ((ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return _HEX[(hashed[:, None] >> _SHIFTS) & 0xF].view("S8").ravel()


def _chunk_table(columns, drawn, intercept, rng):
    counts, numeric_missing, ids, categorical_missing, logit = drawn
    labels = (rng.random(len(logit)) < 1 / (1 + np.exp(-(logit + intercept)))).astype(np.int64)
    table = {"label": pa.array(labels)}
    table.update({name: pa.array(counts[name], mask=numeric_missing[name]) for name in NUMERIC})
    table.update({name: pa.array(_hex_ids(ids[name], columns.salt[name]), type=pa.binary(8),
                                 mask=categorical_missing[name]).cast(pa.string()) for name in CATEGORICAL})
    return pa.table(table)


def write_raw_criteo(spec, path):
    """Write ``spec.num_rows`` rows of Criteo's raw layout to ``path`` (through ``path.tmp`` and a
    rename, so a kill leaves no partial file) and the teacher to ``<path>.spec.json``; return the path."""
    columns = _Columns(spec)
    first_rows = min(CHUNK_ROWS, spec.num_rows)
    intercept = _solve_intercept(_draw_chunk(spec, columns, 0, first_rows)[-1], KAGGLE_CLICK_RATE)
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "wb") as handle:
        for chunk, start in enumerate(range(0, spec.num_rows, CHUNK_ROWS)):
            rows = min(CHUNK_ROWS, spec.num_rows - start)
            drawn = _draw_chunk(spec, columns, chunk, rows)
            label_rng = np.random.default_rng([spec.seed, chunk + 1, 1])
            pa_csv.write_csv(_chunk_table(columns, drawn, intercept, label_rng), handle, options)
    os.replace(path + ".tmp", path)
    teacher = {"spec": asdict(spec), "intercept": intercept, "chunk_rows": CHUNK_ROWS, "head": HEAD,
               "informative_fields": [NUMERIC[i] for i in columns.informative_numeric]
               + [CATEGORICAL[i] for i in columns.informative_categorical],
               "interacting_pairs": [[CATEGORICAL[a], CATEGORICAL[b]] for a, b in columns.pairs],
               "expected_distinct_at_this_size": expected_distinct(spec.num_rows, spec.zipf_exponent)}
    with open(path + ".spec.json", "w") as handle:
        json.dump(teacher, handle, indent=1)
    return path


def expected_distinct(num_rows, zipf_exponent=1.1):
    """Each categorical column's expected number of distinct values in ``num_rows`` generated rows
    (missing cells excluded): the head's values seen at least once plus the tail's Poisson draws."""
    expected = {}
    for name in CATEGORICAL:
        cardinality, present = KAGGLE_CARDINALITIES[name], num_rows * (1 - CATEGORICAL_MISSING.get(name, 0.0))
        head = min(cardinality, HEAD)
        tail = math.ceil((cardinality - head) / (1 - math.exp(-1))) if cardinality > head else 0
        full_present = KAGGLE_ROWS * (1 - CATEGORICAL_MISSING.get(name, 0.0))
        head_rows = present * (1 - tail / full_present)
        seen_head = float(np.sum(1 - np.exp(-head_rows * zipf_probabilities(head, zipf_exponent))))
        seen_tail = tail * (1 - math.exp(-present / full_present)) if tail else 0.0
        expected[name] = round(seen_head + seen_tail)
    return expected
