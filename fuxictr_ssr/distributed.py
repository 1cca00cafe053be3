"""Data-parallel training with ``torch.distributed`` (DistributedDataParallel), started by torchrun.

``torchrun --nproc_per_node N -m fuxictr_ssr run --config DIR --expid X --gpu 0`` runs the same
runner in N processes. Under torchrun (``WORLD_SIZE > 1`` in the environment):

* one process per device: NCCL with GPU ``LOCAL_RANK`` when ``--gpu >= 0``, gloo on CPU; the
  process group has a timeout (``distributed_timeout`` seconds), so a lost rank ends the job
  instead of hanging it, and torchrun stops the other ranks when one fails;
* ``batch_size`` is the global batch: each rank takes ``batch_size / world_size`` rows per step,
  so a config means the same at any N (it must divide evenly);
* every epoch all ranks draw the same seeded permutation and each takes a disjoint share of it;
  valid/test are split into contiguous shards and the predictions are gathered in order, so
  AUC/logloss are computed once over the whole split, exactly as in one process;
* rank 0's validation result decides checkpointing, lr reduction and early stopping (broadcast),
  so all ranks stop together; only rank 0 logs, writes checkpoints and the result line, and the
  best checkpoint is broadcast from rank 0 when it is reloaded (no shared file system needed).

BatchNorm statistics stay per rank (DDP's default).
"""
import logging
import os
import sys
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

DEFAULT_TIMEOUT_S = 600


def launched_world_size():
    """How many processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_rank():
    """This process's rank as torchrun set it (0 outside torchrun), before the group is joined."""
    return int(os.environ.get("RANK", "0"))


def rank():
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size():
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main():
    return rank() == 0


def init(gpu, timeout_s=DEFAULT_TIMEOUT_S):
    """Join the process group; return the device index this rank uses (-1 for CPU)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if gpu >= 0:
        if not torch.cuda.is_available():
            raise ValueError("--gpu: CUDA is not available; use --gpu -1 to train on CPU with gloo")
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", timeout=timedelta(seconds=timeout_s),
                                device_id=torch.device("cuda", local_rank))
        return local_rank
    dist.init_process_group("gloo", timeout=timedelta(seconds=timeout_s))
    return -1


def shutdown():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def per_rank_batch_size(batch_size, processes):
    if batch_size % processes:
        raise ValueError(f"batch_size: the global batch {batch_size} must divide evenly over {processes} processes")
    return batch_size // processes


def barrier():
    dist.barrier()


def _communication_device(model):
    return model.device if dist.get_backend() == "nccl" else torch.device("cpu")


def gather_in_rank_order(values, device):
    """Concatenate a 1-D array from every rank, rank 0's first (shards may differ in length)."""
    local = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    lengths = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(world_size())]
    dist.all_gather(lengths, torch.tensor([len(local)], device=device))
    longest = int(max(length.item() for length in lengths))
    padded = torch.zeros(longest, dtype=local.dtype, device=device)
    padded[:len(local)] = local
    parts = [torch.empty_like(padded) for _ in lengths]
    dist.all_gather(parts, padded)
    return torch.cat([part[:int(length.item())] for part, length in zip(parts, lengths)]).cpu().numpy()


def broadcast_object(value):
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def check_gpu(gpu):
    """fuxictr trains on the CPU when the requested GPU is absent, without a word: say so (and
    name a device index this machine does not have)."""
    if gpu is None or gpu < 0:
        return
    if not torch.cuda.is_available():
        print(f"warning: --gpu {gpu}: CUDA is not available here (torch {torch.__version__}); training on the CPU",
              file=sys.stderr)
    elif gpu >= torch.cuda.device_count():
        raise ValueError(f"--gpu: device {gpu} requested; this machine has {torch.cuda.device_count()} CUDA devices")


def make_data_parallel(model):
    """Make a built fuxictr model train as one DDP replica (in place); return the DDP wrapper.

    Only the steps that talk to other ranks change: the training step runs the forward pass
    through DDP (gradients averaged in backward), metrics gather every rank's predictions,
    checkpoint/early-stop decisions come from rank 0, and only rank 0 writes checkpoints.
    """
    device_ids = [model.device.index] if model.device.type == "cuda" else None
    replica = DistributedDataParallel(model, device_ids=device_ids)
    evaluate_metrics, checkpoint_and_earlystop = model.evaluate_metrics, model.checkpoint_and_earlystop
    save_weights, load_weights = model.save_weights, model.load_weights
    device = _communication_device(model)

    def train_step(batch_data):
        model.optimizer.zero_grad()
        loss = model.compute_loss(replica(batch_data), model.get_labels(batch_data))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), model._max_gradient_norm)
        model.optimizer.step()
        return loss

    def gathered_metrics(y_true, y_pred, metrics, group_id=None):
        if group_id is not None:
            group_id = gather_in_rank_order(group_id, device)
        return evaluate_metrics(gather_in_rank_order(y_true, device), gather_in_rank_order(y_pred, device),
                                metrics, group_id)

    def decided_by_rank_zero(logs, **kwargs):
        checkpoint_and_earlystop(broadcast_object(logs), **kwargs)

    def save_on_rank_zero(checkpoint):
        if is_main():
            save_weights(checkpoint)
        dist.barrier()

    def load_and_broadcast(checkpoint):
        if is_main():
            load_weights(checkpoint)
        for tensor in model.state_dict().values():
            dist.broadcast(tensor.data, src=0)

    model.train_step = train_step
    model.evaluate_metrics = gathered_metrics
    model.checkpoint_and_earlystop = decided_by_rank_zero
    model.save_weights = save_on_rank_zero
    model.load_weights = load_and_broadcast
    return replica


def quiet_other_ranks():
    """Ranks other than 0 log warnings and errors only (to stderr), and show no progress bars."""
    logging.basicConfig(level=logging.WARNING, format=f"rank {rank()}: %(levelname)s %(message)s", force=True)
