"""``fuxictr-ssr predict``: score raw csv or parquet rows with a trained experiment's checkpoint.

The rows go through the feature processor fitted when the model's data folder was built
(:mod:`fuxictr_ssr.data.scoring`), in chunks, so memory holds one chunk whatever the file's size;
the scores (one ``score`` column, the click probability, plus any kept input columns, in input
order) are written to a temporary file renamed into place at the end, so a failed or interrupted
scoring never leaves a partial file under the output's name. Everything that can be checked is
checked first: the output path, the checkpoint against the experiment and its feature map, every
input file's format and columns.
"""
import os
import time

import numpy as np
import polars as pl
import torch

from .data.scoring import CHUNK_ROWS, check_encodable, check_scoring_file, encode_rows, file_format, raw_chunks
from .safe_files import check_output_path
from .trained import load_trained

OUTPUT_FORMATS = (".csv", ".parquet")
SCORE_COLUMN = "score"


def check_output(out, keep_columns):
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(f"--out: {out!r}: expected a .csv or .parquet file name")
    check_output_path(out, "--out")
    if SCORE_COLUMN in keep_columns:
        raise ValueError(f"--keep-columns: {SCORE_COLUMN!r} is the name of the output's score column")
    return suffix


def predict(config_dir, expid, data_files, out, checkpoint=None, keep_columns=(), batch_size=None, gpu=-1,
            data_root=None, evaluate=False, chunk_rows=CHUNK_ROWS):
    """Score ``data_files`` with ``expid``'s checkpoint into ``out``; return a summary dict (rows,
    seconds, and with ``evaluate`` the experiment's metrics of the scores against the label)."""
    suffix = check_output(out, keep_columns)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"--batch-size: expected a positive integer, got {batch_size}")
    for path in data_files:
        file_format(path)
    trained = load_trained(config_dir, expid, checkpoint, data_root, gpu)
    check_inputs(trained.processor, data_files, keep_columns, trained.experiment.params.get("sep", ","), evaluate)
    start = time.perf_counter()
    evaluation = Evaluation(trained) if evaluate else None
    rows = write_scores(trained, data_files, out, suffix, keep_columns,
                        batch_size or trained.experiment.params["batch_size"], chunk_rows, evaluation)
    summary = {"rows": rows, "out": out, "seconds": time.perf_counter() - start, "checkpoint": trained.checkpoint}
    if evaluation:
        summary["metrics"] = evaluation.metrics()
    return summary


def check_inputs(processor, data_files, keep_columns, sep, evaluate):
    """Every file scorable with ``processor`` (and labelled, to ``evaluate``), before any scoring."""
    check_encodable(processor)
    labelled = [check_scoring_file(path, processor, keep_columns, sep) for path in data_files]
    if evaluate and not all(labelled):
        unlabelled = [path for path, has in zip(data_files, labelled) if not has]
        raise ValueError(f"--evaluate: {', '.join(unlabelled)} has no label column "
                         f"{', '.join(col['name'] for col in processor.label_cols)}")


def write_scores(trained, data_files, out, suffix, keep_columns, batch_size, chunk_rows, evaluation):
    """Score the files chunk by chunk into ``out`` (through ``<out>.tmp``); return the rows scored."""
    processor, sep, rows = trained.processor, trained.experiment.params.get("sep", ","), 0
    temporary = out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    try:
        with ScoreWriter(temporary, suffix, keep_columns) as writer:
            for path in data_files:
                for raw in raw_chunks(path, processor, keep_columns, sep, chunk_rows):
                    features, labels = encode_rows(processor, raw)
                    scores = score_arrays(trained.model, features, batch_size)
                    scored = pl.Series(SCORE_COLUMN, scores).to_frame()  # no kept column: no empty frame to widen
                    writer.write(raw.select(keep_columns).hstack(scored) if keep_columns else scored)
                    rows += len(scores)
                    if evaluation:
                        evaluation.add(labels, scores, features)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return rows


def score_arrays(model, features, batch_size):
    """The model's click probabilities of one encoded chunk (eval mode, no gradients), as float32."""
    count = len(next(iter(features.values())))
    scores = []
    with torch.no_grad():
        for begin in range(0, count, batch_size):
            batch = {name: torch.from_numpy(values[begin:begin + batch_size]) for name, values in features.items()}
            scores.append(model.forward(batch)["y_pred"].reshape(-1).float().cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)


class Evaluation:
    """The labels and scores of every row (and the group ids for gAUC and the like: one number
    each), for the experiment's metrics as BaseModel's ``evaluate`` computes them."""

    def __init__(self, trained):
        self.model, self.metrics_names = trained.model, trained.experiment.params["metrics"]
        self.group = trained.feature_map.group_id
        self.parts = {"labels": [], "scores": [], "groups": []}

    def add(self, labels, scores, features):
        self.parts["labels"].append(labels)
        self.parts["scores"].append(scores)
        if self.group:
            self.parts["groups"].append(features[self.group])

    def metrics(self):
        labels, scores = (np.concatenate(self.parts[k]).astype(np.float64) for k in ("labels", "scores"))
        groups = np.concatenate(self.parts["groups"]) if self.group else None
        return dict(self.model.evaluate_metrics(labels, scores, self.metrics_names, groups))


class ScoreWriter:
    """Appends polars frames to one csv (a header, then rows) or one parquet file (a row group
    each); a scoring of no rows leaves a file with the columns' header and no rows."""

    def __init__(self, path, suffix, keep_columns):
        self.path, self.suffix, self.handle = path, suffix, None
        self.columns = [*keep_columns, SCORE_COLUMN]

    def __enter__(self):
        return self

    def write(self, frame):
        if self.suffix == ".csv":
            if self.handle is None:
                self.handle = open(self.path, "wb")
            frame.write_csv(self.handle, include_header=self.handle.tell() == 0)
            return
        import pyarrow.parquet as pq
        table = frame.to_arrow()
        if self.handle is None:
            self.handle = pq.ParquetWriter(self.path, table.schema)
        self.handle.write_table(table)

    def __exit__(self, *exc_info):
        if self.handle is not None:
            self.handle.close()
        elif exc_info[0] is None:
            empty = pl.DataFrame(schema={name: pl.Float32 if name == SCORE_COLUMN else pl.String for name in self.columns})
            empty.write_csv(self.path) if self.suffix == ".csv" else empty.write_parquet(self.path)
        return False
