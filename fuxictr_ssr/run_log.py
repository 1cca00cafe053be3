"""A run's log: FuxiCTR's log file, what reaches the console, and the one reader of the progress
lines a run writes (fuxictr's epoch boundaries and ``[Metrics]`` lines, and the in-epoch
``Progress:`` lines of :mod:`fuxictr_ssr.models.training_progress`)."""
import logging
import os
import re
import time

import fuxictr

from . import __version__
from .models.training_progress import PROGRESS_PREFIX

EPOCH = re.compile(r"Epoch=(\d+) (start|end|early stop)")
METRICS_PREFIX = "[Metrics] "


def progress(message):
    """What a log message says of a run's progress: ``("metrics", text)`` for fuxictr's metric
    lines, ``("epoch", number, kind)`` for its epoch boundaries (kind ``start``, ``end`` or
    ``early stop``), ``("progress", text)`` for an in-epoch progress line, ``None`` for anything else."""
    if message.startswith(METRICS_PREFIX):
        return "metrics", message[len(METRICS_PREFIX):]
    if message.startswith(PROGRESS_PREFIX):
        return "progress", message[len(PROGRESS_PREFIX):]
    match = EPOCH.search(message)
    return ("epoch", int(match[1]), match[2]) if match else None


class EpochLines(logging.Handler):
    """Console progress of a run that logs to its file only (``log_to_console: epochs``): one line
    per finished epoch, with the validation metrics fuxictr logged and the epoch's seconds."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.metrics, self.start = "", time.perf_counter()

    def emit(self, record):
        seen = progress(record.getMessage())
        if seen and seen[0] == "metrics":
            self.metrics = seen[1]
        elif seen and seen[0] == "progress":
            print(f"    {seen[1]}", flush=True)
        elif seen:
            now = time.perf_counter()
            if seen[2] != "start":  # fuxictr logs the start of the first epoch only
                print(f"    epoch {seen[1]}: valid {self.metrics} ({now - self.start:.0f} s)", flush=True)
            self.start = now


def log_path(params):
    """``<model_root>/<dataset_id>/<expid>.log``, as FuxiCTR writes it."""
    return os.path.join(params["model_root"], params["dataset_id"], params["model_id"] + ".log")


def setup_logging(params):
    """Log to :func:`log_path` and to the console: everything (``log_to_console: true``), one line
    per epoch (``epochs``) or nothing (``false``); a quiet run also keeps Ray to warnings."""
    os.makedirs(os.path.dirname(log_path(params)), exist_ok=True)
    handlers = [logging.FileHandler(log_path(params), mode="w")]
    if params["log_to_console"] is True:
        handlers.append(logging.StreamHandler())
    else:
        if params["log_to_console"] == "epochs":
            handlers.append(EpochLines())
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s P%(process)d %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.info("FuxiCTR version: %s, fuxictr_ssr version: %s", fuxictr.__version__, __version__)
