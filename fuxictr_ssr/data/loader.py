import glob
import os

import numpy as np
import pandas as pd
import torch

from .h5_store import H5_SUFFIXES, check_ids_in_vocabulary, check_label_columns, read_h5_rows


STORED_SUFFIXES = (".parquet", ".npz") + H5_SUFFIXES


def _resolve(data_path):
    """Find the preprocessed split: ``X.parquet``, ``X.npz``, ``X.h5`` or a folder of such parts."""
    for candidate in (data_path,) + tuple(data_path + suffix for suffix in STORED_SUFFIXES):
        if os.path.isfile(candidate):
            return [candidate]
        if os.path.isdir(candidate):
            parts = sorted(p for suffix in STORED_SUFFIXES for p in glob.glob(os.path.join(candidate, "*" + suffix)))
            if parts:
                return parts
    raise ValueError(f"preprocessed data {data_path!r} not found (looked for .parquet, .npz, .h5 and "
                     "a folder of parts); delete feature_map.json in the data folder to rebuild it")


def _read_columns(path, columns, feature_map):
    if path.endswith(H5_SUFFIXES):
        values = read_h5_rows(path, columns, feature_map)
        check_label_columns(values, path, feature_map.labels)
    elif path.endswith(".npz"):
        with np.load(path) as arrays:
            missing = [c for c in columns if c not in arrays]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}")
            values = {c: arrays[c] for c in columns}
    else:
        frame = pd.read_parquet(path, columns=columns)
        values = {c: (np.stack(frame[c].to_numpy()) if frame[c].dtype == object else frame[c].to_numpy())
                  for c in columns}
    check_ids_in_vocabulary(values, path, feature_map)
    return values


def split_labels(feature_map, data_path):
    """The label columns of a preprocessed split, ``{label: array}``, read without the features."""
    parts = [_read_columns(path, list(feature_map.labels), feature_map) for path in _resolve(data_path)]
    return {name: np.concatenate([part[name] for part in parts]) for name in feature_map.labels}


def _one_array(arrays):
    """The parts of a column as one writable array, copying only when needed (a single h5 or npz
    part is used as read, so a column is not held twice at the peak)."""
    if len(arrays) > 1:
        return np.concatenate(arrays)
    return arrays[0] if arrays[0].flags.writeable else arrays[0].copy()


class ColumnarDataLoader:
    """In-memory loader that keeps every column in its own dtype and slices whole batches.

    It yields the batch dicts fuxictr's models expect (column name -> tensor). Shuffling draws
    one permutation per epoch from a generator seeded with ``seed`` and the epoch number, so the
    same seed gives the same batches whatever else used the global RNG. fuxictr's
    ``RankDataLoader`` constructs it when a config says ``data_loader: columnar`` (the default of
    our runner).

    Args:
        feature_map: fuxictr ``FeatureMap``; its features and labels name the columns read.
        data_path: preprocessed split (parquet, npz or h5 file, or a folder of parts).
        split: ``train``, ``valid`` or ``test``; only ``train`` is shuffled.
        batch_size: rows per batch (the last batch may be smaller).
        shuffle: shuffle the train split every epoch.
        seed: base seed of the shuffle.
        rank, world_size: data-parallel share. The train split gives each rank
            ``rows // world_size`` rows of every epoch's permutation (all ranks draw the same one,
            so the shares are disjoint); other splits give each rank one contiguous shard.
    """

    def __init__(self, feature_map, data_path, split="train", batch_size=32, shuffle=False,
                 seed=2021, rank=0, world_size=1, **kwargs):
        columns = list(feature_map.features) + list(feature_map.labels)
        parts = [_read_columns(path, columns, feature_map) for path in _resolve(data_path)]
        self.columns = {c: torch.from_numpy(_one_array([part[c] for part in parts])) for c in columns}
        self.batch_size = batch_size
        self.shuffle = shuffle and split == "train"
        self.seed = seed
        self.epoch = 0
        self.rank, self.world_size = rank, world_size
        total = len(next(iter(self.columns.values())))
        self.num_blocks = len(parts)
        if total == 0:
            raise ValueError(f"{data_path}: the {split} split has no rows")
        if self.shuffle:
            self.num_samples = total // world_size
        else:
            start, stop = total * rank // world_size, total * (rank + 1) // world_size
            self.columns = {c: values[start:stop] for c, values in self.columns.items()}
            self.num_samples = stop - start
        self.total_samples = total
        self.num_batches = -(-self.num_samples // batch_size)

    def __len__(self):
        return self.num_batches

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
            order = torch.randperm(self.total_samples, generator=generator)
            order = order[self.rank::self.world_size][:self.num_samples]
            self.epoch += 1
        for start in range(0, self.num_samples, self.batch_size):
            if self.shuffle:
                rows = order[start:start + self.batch_size]
                yield {c: values[rows] for c, values in self.columns.items()}
            else:
                yield {c: values[start:start + self.batch_size] for c, values in self.columns.items()}
