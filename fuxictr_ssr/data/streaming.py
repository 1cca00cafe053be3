import queue
import threading

import numpy as np
import torch

from .h5_store import check_ids_in_vocabulary, check_label_columns, h5_parts, read_h5_rows

BLOCK_ROWS = 262_144


class StreamingH5Loader:
    """Streams an h5 split block by block, so memory is O(block) rather than O(split).

    A block is a contiguous row range of one h5 file. Every epoch the train split visits its
    blocks in an order drawn from ``(seed, epoch)`` and shuffles the rows inside each block with
    the same generator; batches run across block boundaries, so all but the last are full. A
    background thread reads the next block while the current one is consumed (``prefetch``).
    With ``world_size > 1`` rank ``r`` takes blocks ``r, r + W, ...`` of the epoch's order; when
    training every rank yields the same number of rows (the smallest share), so data-parallel
    ranks step together. Valid and test splits are read in order, every row by one rank.

    Labels are checked (0/1, none missing) for the whole split when the loader is made, reading
    only the label column, so bad data stops a run before training.

    Args:
        feature_map: fuxictr ``FeatureMap``; its features and labels name the columns read.
        data_path: ``X.h5`` (or ``X``), or a folder of ``*.h5`` block files.
        split: ``train``, ``valid`` or ``test``; only ``train`` is shuffled.
        batch_size: rows per batch.
        shuffle: shuffle the train split every epoch.
        seed: base seed of the shuffle.
        block_rows: rows per block read at once.
        prefetch: read the next block in a background thread.
        rank, world_size: this process's share of the blocks.
    """

    def __init__(self, feature_map, data_path, split="train", batch_size=32, shuffle=False, seed=2021,
                 block_rows=BLOCK_ROWS, prefetch=True, rank=0, world_size=1, **kwargs):
        self.feature_map = feature_map
        self.columns = list(feature_map.features) + list(feature_map.labels)
        self.batch_size = batch_size
        self.shuffle = shuffle and split == "train"
        self.seed = seed
        self.prefetch = prefetch
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.blocks = []
        for path in h5_parts(data_path):
            labels = read_h5_rows(path, list(feature_map.labels), feature_map)
            check_label_columns(labels, path, feature_map.labels)
            rows = len(labels[feature_map.labels[0]])
            self.blocks += [(path, start, min(start + block_rows, rows)) for start in range(0, rows, block_rows)]
        if not self.blocks:
            raise ValueError(f"{data_path}: the {split} split has no rows")
        self.num_blocks = len(self.blocks)
        self.num_samples = self._rows_per_rank(self._block_order(0))

    def _block_order(self, epoch):
        if not self.shuffle:
            return list(range(len(self.blocks)))
        generator = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
        return torch.randperm(len(self.blocks), generator=generator).tolist()

    def _rows_per_rank(self, order):
        """Rows this rank yields: the smallest share when training (ranks step together), its
        whole share otherwise (every row is evaluated once)."""
        sizes = [sum(self.blocks[b][2] - self.blocks[b][1] for b in order[r::self.world_size])
                 for r in range(self.world_size)]
        return min(sizes) if self.shuffle else sizes[self.rank]

    def __len__(self):
        return -(-self.num_samples // self.batch_size)

    def _read(self, block, generator):
        path, start, stop = self.blocks[block]
        columns = read_h5_rows(path, self.columns, self.feature_map, start, stop)
        check_ids_in_vocabulary(columns, path, self.feature_map)
        tensors = {c: torch.from_numpy(np.ascontiguousarray(v)) for c, v in columns.items()}
        if generator is not None:
            rows = torch.randperm(stop - start, generator=generator)
            tensors = {c: v[rows] for c, v in tensors.items()}
        return tensors

    def _blocks(self, order, generator):
        mine = order[self.rank::self.world_size]
        if not self.prefetch:
            yield from (self._read(block, generator) for block in mine)
            return
        ready, stop = queue.Queue(maxsize=1), threading.Event()

        def reader():
            try:
                for block in mine:
                    if stop.is_set():
                        return
                    item = self._read(block, generator)
                    while not stop.is_set():
                        try:
                            ready.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                ready.put(None)
            except Exception as error:  # surfaced in the consuming thread
                ready.put(error)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:  # an epoch cut short (or an abandoned iterator) must not leave the reader blocked
            stop.set()
            while thread.is_alive():
                try:
                    ready.get(timeout=0.1)
                except queue.Empty:
                    pass

    def __iter__(self):
        order = self._block_order(self.epoch)
        generator = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch) if self.shuffle else None
        if self.shuffle:
            self.epoch += 1
        remaining = self.num_samples = self._rows_per_rank(order)
        pending = None
        for block in self._blocks(order, generator):
            if pending is not None and len(pending[self.columns[-1]]):
                block = {c: torch.cat([pending[c], block[c]]) for c in self.columns}
            rows = len(block[self.columns[-1]])
            full = min(rows - rows % self.batch_size, remaining)
            for start in range(0, full, self.batch_size):
                yield {c: v[start:min(start + self.batch_size, full)] for c, v in block.items()}
            remaining -= full
            pending = {c: v[full:] for c, v in block.items()}
            if remaining == 0:
                return
        if remaining > 0:
            yield {c: v[:remaining] for c, v in pending.items()}
