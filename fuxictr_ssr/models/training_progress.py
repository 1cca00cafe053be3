"""What a run shows of its training while it trains and keeps afterwards: a progress line inside
each epoch every ``progress_seconds`` (batches done, samples/s, the epoch's time left, the running
train loss), and one JSON line per validation beside the run's log (``<expid>.curves.jsonl``:
epoch, batches, train loss since the previous validation, the validation metrics, the learning
rate, seconds, and for SSR-D the surviving fraction of each ICS layer); with ``log_to:
tensorboard`` the same scalars in a TensorBoard log (``<model_root>/<dataset_id>/tensorboard/<expid>``)."""
import json
import logging
import os
import time

# the line prefix the run log's reader (:func:`fuxictr_ssr.run_log.progress`) and bench pick up
PROGRESS_PREFIX = "Progress: "


def tensorboard_available():
    from importlib.util import find_spec
    return find_spec("tensorboard") is not None


class TrainingProgress:
    """Fed by the model's training step (:meth:`step`) and validation (:meth:`validation`)."""

    def __init__(self, steps_per_epoch, every_seconds, curves_path, tensorboard_dir=None):
        self.steps_per_epoch, self.every_seconds, self.curves_path = steps_per_epoch, every_seconds, curves_path
        self.start = self.epoch_start = self.last_line = time.perf_counter()
        self.epoch, self.epoch_rows, self.losses, self.total_steps = 0, 0, [], 0
        self.writer = None
        if tensorboard_dir:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(log_dir=tensorboard_dir)
        with open(curves_path, "w"):  # a rerun's curves replace the previous run's
            pass

    def step(self, epoch, batch_index, rows, loss):
        """One training batch of ``rows`` rows with training ``loss`` (a float)."""
        now = time.perf_counter()
        if epoch != self.epoch:
            self.epoch, self.epoch_start, self.epoch_rows, self.last_line = epoch, now, 0, now
        self.epoch_rows += rows
        self.total_steps += 1
        self.losses.append(loss)
        if self.every_seconds is not None and now - self.last_line >= self.every_seconds:
            self.last_line = now
            logging.info(PROGRESS_PREFIX + self.progress_line(batch_index + 1, now))

    def progress_line(self, batches, now):
        elapsed = now - self.epoch_start
        left = elapsed / batches * (self.steps_per_epoch - batches)
        recent = self.losses[-batches:]
        return (f"epoch {self.epoch}, batch {batches}/{self.steps_per_epoch} "
                f"({100 * batches / self.steps_per_epoch:.0f}%), {self.epoch_rows / max(elapsed, 1e-9):,.0f} samples/s, "
                f"about {duration(left)} left in the epoch, train loss {sum(recent) / len(recent):.6f}")

    def validation(self, epoch, logs, learning_rate, ics_surviving):
        """One validation: a JSON line (and TensorBoard scalars) with what happened since the last."""
        record = {"epoch": epoch, "step": self.total_steps,
                  "train_loss": sum(self.losses) / len(self.losses) if self.losses else None,
                  "valid": {name: float(value) for name, value in logs.items()}, "learning_rate": learning_rate,
                  "seconds": round(time.perf_counter() - self.start, 3),
                  "ics_surviving": [ics_surviving[depth] for depth in sorted(ics_surviving)]}
        self.losses = []
        with open(self.curves_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer:
            self.write_scalars(record)

    def write_scalars(self, record):
        step = record["step"]
        if record["train_loss"] is not None:
            self.writer.add_scalar("train/loss", record["train_loss"], step)
        for name, value in record["valid"].items():
            self.writer.add_scalar(f"valid/{name}", value, step)
        self.writer.add_scalar("learning_rate", record["learning_rate"], step)
        for depth, share in enumerate(record["ics_surviving"]):
            self.writer.add_scalar(f"ics/surviving_fraction_layer_{depth}", share, step)
        self.writer.flush()

    def close(self):
        if self.writer:
            self.writer.close()


def duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def curves_path_of(checkpoint):
    """``<expid>.curves.jsonl`` beside the run's checkpoint and log."""
    return os.path.splitext(checkpoint)[0] + ".curves.jsonl"
