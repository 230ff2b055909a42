"""Activation checkpointing over a model's top-level blocks (--checkpoint-activations).

Each block keeps only its input for backward and recomputes its activations
then: less memory for one more forward per block. Models of the zoo follow
PyTorchVideo's layout, a `blocks` ModuleList run in order.

BatchNorm updates its running statistics on every training-mode forward, so a
plain recomputation would count each batch twice; the recomputation here puts
the block's buffers back as they were, leaving the statistics exactly as
without checkpointing. Dropout draws the same masks (the RNG state is replayed).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class CheckpointingError(ValueError):
    pass


@contextmanager
def _buffers_restored(block: nn.Module):
    buffers = list(block.buffers())
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, s in zip(buffers, saved):
                b.copy_(s)


def _contexts(block: nn.Module):
    return nullcontext(), _buffers_restored(block)


def _checkpointed_forward(block: nn.Module, forward, *args):
    if not torch.is_grad_enabled():  # evaluation: nothing is kept for backward anyway
        return forward(*args)
    return checkpoint(forward, *args, use_reentrant=False, context_fn=partial(_contexts, block))


def checkpoint_blocks(model: nn.Module) -> int:
    """Checkpoints every block of model.blocks in place (parameter names unchanged); returns how many."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.ModuleList, nn.Sequential)) or len(blocks) == 0:
        raise CheckpointingError(f"--checkpoint-activations: {type(model).__name__} has no `blocks` list to checkpoint")
    for block in blocks:
        # An instance attribute shadows the class's forward; state_dict keys stay the same.
        block.forward = partial(_checkpointed_forward, block, block.forward)
    return len(blocks)
