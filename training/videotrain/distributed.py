"""torchrun support: the same `videotrain train` command on one process or many.

torchrun (or `python -m torch.distributed.run`) sets WORLD_SIZE, RANK and
LOCAL_RANK; with WORLD_SIZE > 1 every process trains a shard of each batch
under DistributedDataParallel: NCCL with one GPU per process on CUDA, gloo on
CPU (how the path is tested without a GPU). Without those variables the run is
one process and nothing here communicates.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


class DistributedError(ValueError):
    """A torchrun setup this machine cannot run (e.g. more processes than GPUs)."""


@dataclass(frozen=True)
class Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0
    local_world: int = 1  # processes on this machine

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0 alone logs and writes the run directory."""
        return self.rank == 0


def from_env() -> Dist:
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    except ValueError as e:
        raise DistributedError(f"WORLD_SIZE/RANK/LOCAL_RANK must be integers (as torchrun sets them): {e}") from None
    if world < 1 or not 0 <= rank < world:
        raise DistributedError(f"RANK {rank} is not in [0, WORLD_SIZE={world})")
    return Dist(world, rank, local_rank, local_world)


def setup(d: Dist, device: torch.device) -> torch.device:
    """Joins the process group; returns this process's device (cuda:LOCAL_RANK on CUDA)."""
    if not d.enabled:
        return device
    if device.type == "cuda":
        if d.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK {d.local_rank} but only {torch.cuda.device_count()} GPUs: "
                "start at most one process per GPU (--nproc_per_node / --gpus)"
            )
        torch.cuda.set_device(d.local_rank)
        device = torch.device("cuda", d.local_rank)
    elif device.type != "cpu":
        raise DistributedError(f"multi-process training runs on CUDA (NCCL) or CPU (gloo), not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def teardown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    if not d.enabled:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard(n: int, d: Dist) -> list[int]:
    """This rank's share of n evaluation items: every item exactly once over all ranks
    (DistributedSampler would pad with repeats, which would be scored twice)."""
    return list(range(d.rank, n, d.world))


def _all_reduce(t: torch.Tensor, d: Dist, op) -> torch.Tensor:
    """In place on t. NCCL reduces CUDA tensors only: CPU tensors (metric sums) go through the GPU."""
    if not d.enabled:
        return t
    if dist.get_backend() == "nccl" and not t.is_cuda:
        on_gpu = t.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(on_gpu, op=op)
        t.copy_(on_gpu)
    else:
        dist.all_reduce(t, op=op)
    return t


def all_reduce_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    return _all_reduce(t, d, dist.ReduceOp.SUM)


def all_reduce_max(t: torch.Tensor, d: Dist) -> torch.Tensor:
    return _all_reduce(t, d, dist.ReduceOp.MAX)


def sync_buffers(model: nn.Module, d: Dist) -> None:
    """Rank 0's BatchNorm running statistics to every rank. DDP broadcasts buffers at the
    start of each forward, so after an epoch's last step every rank holds its own;
    validation and the saved checkpoint must see one model."""
    if d.enabled:
        for b in model.buffers():
            dist.broadcast(b, src=0)


def broadcast_model(model: nn.Module, d: Dist) -> None:
    """Rank 0's parameters and buffers to every rank (the model must be on this rank's
    device): ranks on other machines need not read rank 0's files."""
    if d.enabled:
        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                dist.broadcast(t, src=0)


def weights_digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def gather_digests(model: nn.Module, d: Dist) -> list[str]:
    """Every rank's weights digest, in rank order: equal when the ranks hold one model."""
    mine = weights_digest(model)
    if not d.enabled:
        return [mine]
    out: list[str] = [""] * d.world
    dist.all_gather_object(out, mine)
    return out
