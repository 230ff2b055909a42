"""Prints how the zoo models compare with the implementations they mirror:
PyTorchVideo's create_slowfast / create_resnet (C2D) and torchvision's
mvit_v2_s. For each: whether the state_dict keys are identical (names, order,
shapes), then the max abs logit difference after loading the reference
model's (randomised) weights into ours with strict=True.

    pip download torchvision --no-deps -d /tmp/tv      # any recent wheel; it is only unzipped
    git clone https://github.com/facebookresearch/pytorchvideo /tmp/ptv
    .venv/bin/python training/bench/zoo_references.py --pytorchvideo /tmp/ptv --torchvision-wheel /tmp/tv/torchvision-*.whl

Neither package imports on the CPU-only machines (torchvision's wheel needs
CUDA torch, PyTorchVideo needs fvcore and torchvision), so the few modules
their model files import are replaced by minimal stand-ins in a temporary
directory: fvcore's two init helpers, torchvision.ops.RoIAlign (unused here),
and torchvision's weight-registry helpers. The model code itself runs as
published.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

STAND_INS = {
    # PyTorchVideo: its weight init and detection head imports.
    "fvcore/__init__.py": "",
    "fvcore/nn/__init__.py": "",
    "fvcore/nn/weight_init.py": (
        "import torch.nn as nn\n"
        "def c2_msra_fill(m):\n"
        "    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')\n"
        "    if m.bias is not None: nn.init.zeros_(m.bias)\n"
        "def c2_xavier_fill(m):\n"
        "    nn.init.kaiming_uniform_(m.weight, a=1)\n"
        "    if m.bias is not None: nn.init.zeros_(m.bias)\n"
    ),
    # torchvision: everything mvit.py imports besides ops.MLP / ops.StochasticDepth.
    "torchvision/__init__.py": "",
    "torchvision/models/__init__.py": "",
    "torchvision/models/video/__init__.py": "",
    "torchvision/transforms/__init__.py": "",
    "torchvision/transforms/_presets.py": "class VideoClassification: pass\n",
    "torchvision/ops/__init__.py": "from .misc import MLP\nfrom .stochastic_depth import StochasticDepth\nclass RoIAlign: pass\n",
    "torchvision/utils.py": (
        "import collections.abc, itertools\n"
        "def _log_api_usage_once(obj): pass\n"
        "def _make_ntuple(x, n):\n"
        "    return tuple(x) if isinstance(x, collections.abc.Iterable) else tuple(itertools.repeat(x, n))\n"
    ),
    "torchvision/models/_api.py": (
        "import enum\n"
        "def register_model(name=None): return lambda f: f\n"
        "class Weights:\n"
        "    def __init__(self, **kw): self.__dict__.update(kw)\n"
        "class WeightsEnum(enum.Enum):\n"
        "    @classmethod\n"
        "    def verify(cls, obj): return obj\n"
    ),
    "torchvision/models/_meta.py": "_KINETICS400_CATEGORIES = []\n",
    "torchvision/models/_utils.py": (
        "def _ovewrite_named_param(kwargs, name, value): kwargs[name] = value\n"
        "def handle_legacy_interface(**kw): return lambda f: f\n"
    ),
}
WHEEL_FILES = ("torchvision/models/video/mvit.py", "torchvision/ops/misc.py", "torchvision/ops/stochastic_depth.py")


def _randomize(state: dict[str, torch.Tensor], seed: int) -> None:
    """Weights that make every layer matter: norm scales near 1, the rest small."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in state.items():
            if not value.is_floating_point():
                continue
            if "running_var" in key or ("norm" in key and key.endswith("weight")):
                value.copy_(torch.rand(value.shape, generator=gen) * 0.5 + 0.75)
            else:
                value.copy_(torch.randn(value.shape, generator=gen) * 0.05)


def compare(name: str, reference: nn.Module, ours: nn.Module, reference_input, our_input: torch.Tensor) -> None:
    ref_state, our_state = reference.state_dict(), ours.state_dict()
    same = list(ref_state) == list(our_state) and all(ref_state[k].shape == our_state[k].shape for k in ref_state)
    print(f"{name}: {len(ref_state)} state_dict entries, keys/order/shapes identical: {same}")
    if not same:
        print(f"  only in reference: {sorted(set(ref_state) - set(our_state))[:5]}; only ours: {sorted(set(our_state) - set(ref_state))[:5]}")
        return
    _randomize(ref_state, 0)
    ours.load_state_dict(ref_state, strict=True)
    with torch.no_grad():
        diff = (reference.eval()(reference_input) - ours.eval()(our_input)).abs().max().item()
    print(f"  same weights, max abs logit difference: {diff:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytorchvideo", type=Path, required=True, help="a PyTorchVideo source checkout")
    parser.add_argument("--torchvision-wheel", type=Path, required=True, help="a torchvision wheel (only its mvit.py and ops are used)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root = Path(tempfile.mkdtemp(prefix="zoo-references-"))
    for rel, text in STAND_INS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    with zipfile.ZipFile(args.torchvision_wheel) as wheel:
        for rel in WHEEL_FILES:
            (root / rel).write_bytes(wheel.read(rel))
    sys.path[:0] = [str(root), str(args.pytorchvideo)]

    from pytorchvideo.models.resnet import create_resnet as ref_resnet
    from pytorchvideo.models.slowfast import create_slowfast as ref_slowfast
    from torchvision.models.video import mvit as ref_mvit

    from videotrain.models import create_c2d, create_mvit_v2_s, create_slowfast

    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 64, 64)
    # Full R50s at 8×64²; PyTorchVideo's SlowFast takes [slow, fast] sampled by PackPathway.
    kw = {"head_pool_kernel_sizes": ((2, 2, 2), (8, 2, 2)), "model_num_class": 10}
    slow = x.index_select(2, torch.linspace(0, 7, 2).long())
    compare("SlowFast-R50", ref_slowfast(**kw), create_slowfast(input_clip_length=8, **kw), [slow, x], x)
    c2d = {"stem_conv_kernel_size": (1, 7, 7), "stage1_pool": nn.MaxPool3d, "stage_conv_a_kernel_size": ((1, 1, 1),) * 4}
    compare("C2D-R50", ref_resnet(head_pool_kernel_size=(4, 2, 2), model_num_class=10, **c2d),
            create_c2d(head_pool_kernel_size=(4, 2, 2), model_num_class=10), x, x)

    # mvit_v2_s fixes 16×224²; its builder passes the size on to _mvit, which is where it can be changed.
    build = ref_mvit._mvit
    for frames, size in ((8, 64), (16, 224)):
        ref_mvit._mvit = lambda **kw: build(**{**kw, "spatial_size": (size, size), "temporal_size": frames})
        clip = torch.randn(2, 3, frames, size, size)
        compare(f"MViTv2-S at {frames}x{size}^2", ref_mvit.mvit_v2_s(num_classes=10),
                create_mvit_v2_s(temporal_size=frames, spatial_size=size, num_classes=10), clip, clip)
    ref_mvit._mvit = build


if __name__ == "__main__":
    main()
