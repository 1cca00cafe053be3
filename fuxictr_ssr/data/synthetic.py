"""A deterministic synthetic CTR dataset whose ground truth is known.

Many categorical fields, most of them pure noise; the click logit is a sum of per-value effects of
a few *informative* fields plus pairwise effects of a few *interacting* field pairs, plus Gaussian
noise. Values follow a Zipf-like skew, as ids do in real logs. The same ``SyntheticSpec`` always
produces byte-identical files, and the noise-free click probabilities are kept so an evaluation
can report the oracle (Bayes-optimal) AUC next to a model's.
"""
import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SyntheticSpec:
    """Shape and seed of a synthetic dataset.

    Args:
        num_rows: rows over all splits.
        num_fields: categorical fields ``f01..fNN``.
        num_informative: fields with a main effect on the logit.
        num_interactions: field pairs with a pairwise effect.
        vocab_size: distinct values per field.
        zipf_exponent: skew of the value frequencies (0 = uniform).
        effect_scale: standard deviation of each main and pairwise effect.
        noise_std: standard deviation of the Gaussian noise on the logit.
        intercept: logit offset (sets the click rate).
        seed: seed of everything above.
    """
    num_rows: int = 10000
    num_fields: int = 20
    num_informative: int = 4
    num_interactions: int = 3
    vocab_size: int = 50
    zipf_exponent: float = 1.0
    effect_scale: float = 0.8
    noise_std: float = 0.3
    intercept: float = -1.2
    seed: int = 2026

    def __post_init__(self):
        for name in ("num_rows", "num_fields", "vocab_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")
        if not 0 <= self.num_informative <= self.num_fields:
            raise ValueError(f"num_informative: expected 0..{self.num_fields}, got {self.num_informative!r}")
        if self.num_interactions < 0 or (self.num_interactions > 0 and self.num_fields < 2):
            raise ValueError(f"num_interactions: expected >= 0 with at least 2 fields, got {self.num_interactions!r}")

    @property
    def field_names(self):
        width = len(str(self.num_fields))
        return [f"f{i + 1:0{width}d}" for i in range(self.num_fields)]


def zipf_probabilities(cardinality, exponent):
    """P(value of rank r) proportional to r^-exponent, r = 1..cardinality."""
    ranks = np.arange(1, cardinality + 1, dtype=np.float64)
    probabilities = ranks ** -exponent
    return probabilities / probabilities.sum()


def draw_pairs(rng, num_fields, count):
    """``count`` distinct unordered field pairs, sorted."""
    pairs = set()
    while len(pairs) < count:
        pairs.add(tuple(sorted(rng.choice(num_fields, 2, replace=False).tolist())))
    return sorted(pairs)


def generate(spec):
    """Return ``(frame, truth)``: the rows (``label`` + fields) and the generating structure.

    ``truth`` holds the informative fields, the interacting pairs and every row's click
    probability from the noise-free logit (``click_probability``); its AUC is the best any model
    can reach.
    """
    rng = np.random.default_rng(spec.seed)
    names = spec.field_names
    values = rng.choice(spec.vocab_size, size=(spec.num_rows, spec.num_fields),
                        p=zipf_probabilities(spec.vocab_size, spec.zipf_exponent))
    informative = sorted(rng.choice(spec.num_fields, spec.num_informative, replace=False).tolist())
    pairs = draw_pairs(rng, spec.num_fields, spec.num_interactions)

    logit = np.full(spec.num_rows, spec.intercept)
    for field in informative:
        effects = rng.normal(0.0, spec.effect_scale, spec.vocab_size)
        logit += effects[values[:, field]]
    for left, right in pairs:
        effects = rng.normal(0.0, spec.effect_scale, (spec.vocab_size, spec.vocab_size))
        logit += effects[values[:, left], values[:, right]]
    noisy_logit = logit + rng.normal(0.0, spec.noise_std, spec.num_rows)
    labels = (rng.random(spec.num_rows) < 1.0 / (1.0 + np.exp(-noisy_logit))).astype(np.int64)
    # P(click | fields) is increasing in the noise-free logit: ranking by it is Bayes-optimal
    probability = 1.0 / (1.0 + np.exp(-logit))

    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "label", labels)
    truth = {
        "informative_fields": [names[i] for i in informative],
        "interacting_pairs": [[names[a], names[b]] for a, b in pairs],
        "click_probability": probability,
    }
    return frame, truth


def split_sizes(num_rows, fractions=(0.8, 0.1, 0.1)):
    train = int(num_rows * fractions[0])
    valid = int(num_rows * fractions[1])
    return train, valid, num_rows - train - valid


def test_split_oracle_auc(frame, click_probability):
    """Test-split AUC of ranking by the generator's noise-free click probability: Bayes-optimal,
    the best any model can reach there."""
    from sklearn.metrics import roc_auc_score
    n_train, n_valid, _ = split_sizes(len(frame))
    return float(roc_auc_score(frame["label"].to_numpy()[n_train + n_valid:],
                               click_probability[n_train + n_valid:]))


def write_frame_splits(frame, out_dir, description):
    """Write ``frame`` as ``train/valid/test.csv`` (8:1:1 in row order) and ``description`` as
    ``spec.json``; return the csv paths."""
    os.makedirs(out_dir, exist_ok=True)
    n_train, n_valid, _ = split_sizes(len(frame))
    bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, len(frame))}
    paths = {}
    for split, (start, stop) in bounds.items():
        paths[split] = os.path.join(out_dir, f"{split}.csv")
        frame.iloc[start:stop].to_csv(paths[split], index=False)
    with open(os.path.join(out_dir, "spec.json"), "w") as handle:
        json.dump(description, handle, indent=2)
        handle.write("\n")
    return paths


def write_splits(spec, out_dir):
    """Write the dataset of ``spec`` (see :func:`write_frame_splits`); ``spec.json`` records the
    spec and the ground truth (informative fields, interacting pairs), not per-row probabilities."""
    frame, truth = generate(spec)
    return write_frame_splits(frame, out_dir, {"spec": asdict(spec),
                                               "informative_fields": truth["informative_fields"],
                                               "interacting_pairs": truth["interacting_pairs"]})


def dataset_config(spec, dataset_id, data_dir, data_root):
    """A FuxiCTR dataset_config block for files written by :func:`write_splits`."""
    return {dataset_id: {
        "data_root": data_root,
        "data_format": "h5",
        "train_data": os.path.join(data_dir, "train.csv"),
        "valid_data": os.path.join(data_dir, "valid.csv"),
        "test_data": os.path.join(data_dir, "test.csv"),
        "min_categr_count": 1,
        "feature_cols": [{"name": spec.field_names, "active": True, "dtype": "str", "type": "categorical"}],
        "label_col": {"name": "label", "dtype": "float"},
    }}
