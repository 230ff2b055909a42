"""Prints what the loop's speed/memory options cost on this machine (CPU):
activation memory kept for backward with and without --checkpoint-activations
(exact byte counts), and train-step throughput of the tiny preset under
fp32, --amp bf16 and --checkpoint-activations.

    .venv/bin/python training/bench/loop_options.py [--threads 1] [--steps 10]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from videotrain.checkpointing import checkpoint_blocks
from videotrain.models import build_model, get_preset
from videotrain.precision import autocast
from videotrain.recipes import PRESETS_DIR, load_preset


def saved_for_backward(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps between forward and backward for one training step."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).sum()
    loss.backward()
    return total


def clips_per_second(model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    y = torch.zeros(x.shape[0], dtype=torch.long)
    cpu = torch.device("cpu")

    def step():
        with autocast(cpu, dtype):
            loss = nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * x.shape[0] / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, CPU")

    print("\nactivation memory kept from forward to backward, one step (checkpointed: block inputs;\n"
          "backward then recomputes one block at a time on top of this)")
    for preset, batch in (("tiny", 8), ("s", 1)):
        pr = get_preset("x3d", preset)
        x = torch.randn(batch, 3, pr.frames, pr.crop_size, pr.crop_size)
        torch.manual_seed(0)
        plain = build_model("x3d", preset, 400 if preset != "tiny" else 8)
        ckpt = copy.deepcopy(plain)
        checkpoint_blocks(ckpt)
        a, b = saved_for_backward(plain, x), saved_for_backward(ckpt, x)
        print(f"  x3d-{preset} batch {batch} ({pr.frames}x{pr.crop_size}^2): {a / 2**20:.1f} MiB plain, "
              f"{b / 2**20:.1f} MiB checkpointed ({a / b:.1f}x less)")

    pr, batch = get_preset("x3d", "tiny"), load_preset(PRESETS_DIR / "tiny.json")["batch_size"]
    x = torch.randn(batch, 3, pr.frames, pr.crop_size, pr.crop_size)
    print(f"\ntrain steps, x3d-tiny batch {batch}, {args.steps} steps after one warm-up")
    for name, dtype, checkpointed in (("fp32", None, False), ("bf16 autocast", torch.bfloat16, False),
                                      ("fp32 + checkpointing", None, True)):
        torch.manual_seed(0)
        model = build_model("x3d", "tiny", 8)
        if checkpointed:
            checkpoint_blocks(model)
        print(f"  {name:22s} {clips_per_second(model, x, dtype, args.steps):7.1f} clips/s")


if __name__ == "__main__":
    main()
