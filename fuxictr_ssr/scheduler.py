"""Runs side by side: the device slots of one machine (``--gpus``, ``--jobs``) and the queue that
feeds them, for ``bench`` and ``tune``.

A slot runs one run at a time: one GPU (or ``nproc`` of them for a data-parallel run, through
``CUDA_VISIBLE_DEVICES``), or on CPU one of ``--jobs`` shares of the cores (``threads`` each). Each
run is its own process; worker threads of the driver wait on them, and every finished run comes
back to the driver's own thread, which alone writes results (a row, a result line, the
leaderboard), so concurrency changes when rows are written, never how.
"""
import os
import queue
import threading
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Slot:
    """Where one run at a time goes: ``gpu`` is the run's ``--gpu`` (-1: CPU; 0: the first of its
    ``devices``, which become its ``CUDA_VISIBLE_DEVICES``), ``threads`` its torch threads."""
    label: str
    gpu: int
    devices: tuple
    threads: int

    @property
    def env(self):
        return {"CUDA_VISIBLE_DEVICES": ",".join(map(str, self.devices))} if self.devices else {}


def parse_gpus(text):
    """``--gpus 0,1,2,3`` as a list of device indices."""
    try:
        gpus = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--gpus: expected comma-separated device indices such as 0,1,2,3, got {text!r}") from None
    if not gpus or len(set(gpus)) < len(gpus) or min(gpus) < 0:
        raise ValueError(f"--gpus: expected distinct device indices >= 0, got {text!r}")
    return gpus


def plan_slots(gpus=None, jobs=None, nproc=1, threads=None, gpu=-1):
    """The slots of this machine; ``ValueError`` naming the option for devices that are not here,
    ``--jobs`` below 1 or with ``--gpus``, or ``--gpus`` beside ``--gpu``."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"--jobs: expected a positive integer, got {jobs!r}")
    cores = os.cpu_count() or 1
    if gpus:
        if jobs is not None:
            raise ValueError("--jobs: shares the CPU between runs; with --gpus each device runs one run at a time "
                             "(leave --jobs out)")
        if gpu is not None and gpu >= 0:
            raise ValueError(f"--gpu {gpu} and --gpus: give the devices once, with --gpus")
        check_visible(gpus)
        if len(gpus) < nproc:
            raise ValueError(f"--gpus: {len(gpus)} devices cannot hold one run of --nproc {nproc} processes")
        groups = [tuple(gpus[i:i + nproc]) for i in range(0, len(gpus) - nproc + 1, nproc)]
        per_run = threads or max(1, cores // len(groups))
        return [Slot(f"GPU{'s' if nproc > 1 else ''} {','.join(map(str, g))}", 0, g, per_run) for g in groups]
    jobs = jobs or 1
    if threads is None:
        threads = torch.get_num_threads() if jobs == 1 else max(1, cores // (jobs * nproc))
    return [Slot("cpu" if gpu is None or gpu < 0 else f"GPU {gpu}", gpu, (), threads) if jobs == 1
            else Slot(f"job {number}", gpu, (), threads) for number in range(1, jobs + 1)]


def check_visible(gpus):
    if not torch.cuda.is_available():
        raise ValueError(f"--gpus: CUDA is not available here (torch {torch.__version__}, no visible device); "
                         "on CPU run several at once with --jobs N")
    count = torch.cuda.device_count()
    missing = [g for g in gpus if g >= count]
    if missing:
        raise ValueError(f"--gpus: device {', '.join(map(str, missing))} not found; the visible devices are "
                         f"{', '.join(map(str, range(count)))}")


def run_queue(items, slots, launch, finished, failed, stop_all):
    """``launch(item, slot)`` for every item, one per slot at a time, the items taken in order.
    In the calling thread, ``finished(item, result, seconds)`` as each run completes and
    ``failed(item, error)`` as one fails (the others go on); on an interrupt (a run stopped by
    Ctrl-C, or Ctrl-C here) ``stop_all()`` stops what still runs and the interrupt propagates."""
    pending, done = queue.Queue(), queue.Queue()
    for item in items:
        pending.put(item)
    stop = threading.Event()

    def work(slot):
        while not stop.is_set():
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            start = time.perf_counter()
            try:
                done.put((item, launch(item, slot), None, time.perf_counter() - start))
            except BaseException as error:  # an interrupt too: the driver's thread decides
                done.put((item, None, error, time.perf_counter() - start))

    workers = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in slots]
    for worker in workers:
        worker.start()
    try:
        for _ in items:
            item, result, error, seconds = _next(done)
            if isinstance(error, KeyboardInterrupt):
                raise KeyboardInterrupt
            if error is None:
                finished(item, result, seconds)
            else:
                failed(item, error)
    except BaseException:
        stop.set()
        stop_all()
        raise


def _next(done):
    while True:  # a timed wait, so that Ctrl-C reaches this thread at once
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            continue


def estimate(seconds_done, runs_done, runs_left, slots):
    """``about 3 h 10 min`` for ``runs_left`` runs at the mean time of those done, ``slots`` at once."""
    if not runs_done or not runs_left:
        return ""
    seconds = seconds_done / runs_done * runs_left / min(slots, runs_left)
    hours, minutes = divmod(round(seconds / 60), 60)
    return f", about {hours} h {minutes} min" if hours else f", about {max(minutes, 1)} min"
