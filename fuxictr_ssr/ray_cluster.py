"""Runs as tasks of a Ray cluster (``bench --ray ADDRESS``, ``tune --ray ADDRESS``).

Each run is one Ray task that asks for its devices (``num_gpus = nproc``, or ``threads x nproc``
CPUs) and, on whichever node has them free, starts the same ``fuxictr-ssr run`` process a local
run starts (:func:`fuxictr_ssr.bench.run_one`; Ray sets its ``CUDA_VISIBLE_DEVICES``). The task
returns the run's result to the driver, which writes every row, result line and leaderboard as on
one machine, so resume and the leaderboard behave the same. Every node needs this package
installed, the config folder and the dataset (raw files or the built store) at the same path (or
under ``--data-root``); checkpoints and logs are written on the node that trained, under the same
``--out`` path (shared storage keeps them in one place).

``ADDRESS``: ``host:port`` of a running cluster's head, ``auto`` for one started on this machine
with ``ray start``, ``local`` for a new single-machine instance.
"""
import socket

from .scheduler import Slot


def connect(address):
    """``ray``, initialised on ``address``; ``ValueError`` naming what was tried when it fails."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray: needs ray (pip install ray; fuxictr installs it)") from None
    if ray.is_initialized():
        return ray
    target = None if address == "local" else address
    if target not in (None, "auto"):
        check_reachable(target)
    try:
        ray.init(address=target, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as error:  # ConnectionError, timeouts, bad addresses: Ray raises many kinds
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"--ray: cannot reach a Ray cluster at {address!r} (ray.init(address={target!r}): "
                         f"{message}); start one with 'ray start --head', give its head as host:port, 'auto' for "
                         "one started on this machine, or 'local' for a new one here") from None
    return ray


def check_reachable(address):
    """A TCP connection to a ``host:port`` head, within 5 s (Ray itself retries for minutes)."""
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray: expected host:port, 'auto' or 'local', got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise ValueError(f"--ray: cannot reach a Ray cluster at {address!r} (a TCP connection to {host}:{port} "
                         f"failed: {error.strerror or error}); start one with 'ray start --head', or give 'auto' "
                         "for one started on this machine or 'local' for a new one here") from None


def cluster_slots(ray, nproc, threads, use_gpus):
    """One slot per run the live nodes can hold at once; ``ValueError`` when no node can hold one."""
    need = {"GPU": nproc} if use_gpus else {"CPU": threads * nproc}
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    held = [int(min(node["Resources"].get(k, 0) // v for k, v in need.items())) for node in nodes]
    if not any(held):
        found = "; ".join(f"{n.get('NodeManagerAddress')}: {n['Resources'].get('CPU', 0):g} CPUs, "
                          f"{n['Resources'].get('GPU', 0):g} GPUs" for n in nodes) or "no live node"
        raise ValueError(f"--ray: no node of the cluster has {', '.join(f'{v} {k}' for k, v in need.items())} free "
                         f"for one run ({found})")
    return [Slot(f"ray task {number}", 0 if use_gpus else -1, (), threads) for number in range(1, sum(held) + 1)]


def _run_on_a_node(run_args, run_kwargs):
    from .bench import run_one
    return run_one(*run_args, **run_kwargs)


def _quiet(line):
    """A run's progress lines on a node go nowhere."""


class RayRunner:
    """``run(run_args, slot)``: one run as a Ray task asking for its devices, waited for here."""

    def __init__(self, ray, nproc, threads, use_gpus):
        self.ray, self.tasks = ray, set()
        resources = {"num_gpus": nproc, "num_cpus": 1} if use_gpus else {"num_cpus": threads * nproc}
        self.remote = ray.remote(max_retries=0, **resources)(_run_on_a_node)

    def run(self, run_args, run_kwargs):
        """The driver's log, its process set and its environment stay here; the node logs nothing
        (the driver prints each finished run) and Ray chooses the devices."""
        kept = {k: v for k, v in run_kwargs.items() if k not in ("log", "running", "env")}
        task = self.remote.remote(run_args, {**kept, "log": _quiet})
        self.tasks.add(task)
        try:
            return self.ray.get(task)
        except self.ray.exceptions.RayTaskError as error:  # the run's own error, as a local run gives it
            raise error.as_instanceof_cause() from None
        finally:
            self.tasks.discard(task)

    def stop_all(self):
        for task in list(self.tasks):
            self.ray.cancel(task, force=True)
