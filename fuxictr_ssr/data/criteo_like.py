"""A generated Criteo-shaped dataset with a known teacher.

39 fields like Criteo's: I1-I13 integer counts (log-normal, with Criteo-like missing rates) and
C1-C26 categorical ids written as 8-hex-digit hashes, with Criteo's cardinalities (capped at
``vocab_cap``) and a Zipf-like skew. The click comes from a fixed random teacher whose signal lives
in a few numeric fields, a few categorical fields and a few categorical field pairs, plus Gaussian
noise on the logit; the intercept is solved so the click rate is ``click_rate``. The teacher is
recorded (``spec.json``), so an analysis can check which inputs a model picks up.
"""
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .synthetic import draw_pairs, test_split_oracle_auc, write_frame_splits, zipf_probabilities

NUMERIC = [f"I{i}" for i in range(1, 14)]
CATEGORICAL = [f"C{i}" for i in range(1, 27)]
# Distinct values of C1..C26 in the Kaggle Criteo training file.
CRITEO_CARDINALITIES = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
                        27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572]
NUMERIC_MISSING = [0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04, 0.0005, 0.04, 0.45, 0.04, 0.77, 0.22]
CATEGORICAL_MISSING = {"C3": 0.03, "C12": 0.03, "C16": 0.03, "C19": 0.44, "C20": 0.44, "C21": 0.03,
                       "C22": 0.76, "C24": 0.03, "C25": 0.44, "C26": 0.44}


@dataclass(frozen=True)
class CriteoLikeSpec:
    """Size, teacher and seed of a Criteo-shaped dataset.

    Args:
        num_rows: rows over all splits (split 8:1:1 in row order).
        informative_numeric, informative_categorical: fields with a main effect.
        interactions: categorical field pairs with a pairwise effect.
        effect_scale: standard deviation of the teacher's effects.
        noise_std: standard deviation of the logit noise.
        click_rate: mean click probability the intercept is solved for.
        vocab_cap: cardinalities above this are capped (memory).
        zipf_exponent: skew of the categorical values.
        seed: seed of everything.
    """
    num_rows: int = 2_000_000
    informative_numeric: int = 3
    informative_categorical: int = 5
    interactions: int = 4
    effect_scale: float = 0.5
    noise_std: float = 1.0
    click_rate: float = 0.25
    vocab_cap: int = 100_000
    zipf_exponent: float = 1.1
    seed: int = 2026

    def __post_init__(self):
        if self.num_rows <= 0:
            raise ValueError(f"num_rows: expected a positive integer, got {self.num_rows!r}")
        if not 0 <= self.informative_numeric <= 13 or not 0 <= self.informative_categorical <= 26:
            raise ValueError("informative_numeric / informative_categorical: expected 0..13 / 0..26")
        if not 0 < self.click_rate < 1:
            raise ValueError(f"click_rate: expected a value in (0, 1), got {self.click_rate!r}")


def _solve_intercept(logit, click_rate):
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(logit + middle)))) < click_rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def generate(spec):
    """Return ``(frame, truth)``: the rows (``label``, I1-I13, C1-C26) and the teacher.

    ``truth["click_probability"]`` is the teacher's noise-free probability: its AUC on a split is
    the best any model can reach there.
    """
    rng = np.random.default_rng(spec.seed)
    n = spec.num_rows
    columns, logit = {}, np.zeros(n)
    informative_numeric = sorted(rng.choice(13, spec.informative_numeric, replace=False).tolist())
    informative_categorical = sorted(rng.choice(26, spec.informative_categorical, replace=False).tolist())
    pairs = draw_pairs(rng, 26, spec.interactions)

    for index, name in enumerate(NUMERIC):
        counts = np.floor(rng.lognormal(mean=rng.uniform(0.0, 4.0), sigma=1.5, size=n))
        missing = rng.random(n) < NUMERIC_MISSING[index]
        if index in informative_numeric:
            scaled = np.log1p(counts)
            scaled = (scaled - scaled.mean()) / (scaled.std() + 1e-12)
            logit += np.where(missing, 0.0, rng.normal(0, spec.effect_scale) * 2 * scaled)
        columns[name] = pd.array(np.where(missing, -1, counts).astype(np.int64), dtype="Int64")
        columns[name][missing] = pd.NA

    ids = {}
    for index, name in enumerate(CATEGORICAL):
        cardinality = min(CRITEO_CARDINALITIES[index], spec.vocab_cap)
        ids[index] = rng.choice(cardinality, size=n, p=zipf_probabilities(cardinality, spec.zipf_exponent))
        salt = int(rng.integers(1, 2 ** 31))
        hashed = (ids[index].astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) & np.uint64(0xFFFFFFFF)
        values = pd.Series(hashed).map("{:08x}".format)
        values[rng.random(n) < CATEGORICAL_MISSING.get(name, 0.0)] = ""
        columns[name] = values
        if index in informative_categorical:
            logit += rng.normal(0, spec.effect_scale, min(cardinality, 10_000))[ids[index] % 10_000]
    for left, right in pairs:
        table = rng.normal(0, spec.effect_scale, 20_000)
        logit += table[(ids[left] * 1_000_003 + ids[right]) % 20_000]
    noisy_logit = logit + rng.normal(0, spec.noise_std, n)
    intercept = _solve_intercept(noisy_logit, spec.click_rate)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(noisy_logit + intercept)))).astype(np.int64)
    # P(click | features) is increasing in the noise-free logit, so ranking by it is Bayes-optimal
    probability = 1 / (1 + np.exp(-(logit + intercept)))

    frame = pd.DataFrame({"label": labels, **columns})
    truth = {"informative_fields": [NUMERIC[i] for i in informative_numeric] +
                                   [CATEGORICAL[i] for i in informative_categorical],
             "interacting_pairs": [[CATEGORICAL[a], CATEGORICAL[b]] for a, b in pairs],
             "intercept": intercept, "click_probability": probability}
    return frame, truth


def write_splits(spec, out_dir):
    """Write ``train/valid/test.csv`` (8:1:1 in row order) and ``spec.json`` (spec, teacher and the
    test split's oracle AUC, the ceiling for any model)."""
    frame, truth = generate(spec)
    return write_frame_splits(frame, out_dir, {"spec": asdict(spec), "informative_fields": truth["informative_fields"],
                                               "interacting_pairs": truth["interacting_pairs"],
                                               "intercept": truth["intercept"],
                                               "oracle_test_auc": test_split_oracle_auc(frame, truth["click_probability"])})
