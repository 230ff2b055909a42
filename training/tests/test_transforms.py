import json
import pickle
from pathlib import Path

import pytest
import torch

from videotrain.data.synthetic import HFLIP_LABEL_PERMUTATION
from videotrain.sampling import uniform_indices
from videotrain.transforms import (
    CenterCrop,
    Compose,
    Div255,
    HorizontalFlipWithLabel,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShortSideScale,
    ShortSideScale,
    UniformTemporalSubsample,
    eval_transform,
    short_side_scale_size,
    train_transform,
)

torch.set_num_threads(1)

EXAMPLE_INPUT = json.loads((Path(__file__).resolve().parents[2] / "contract" / "manifest.example.json").read_text())["input"]


def video(c=3, t=5, h=6, w=8, dtype=torch.float32):
    return torch.arange(c * t * h * w, dtype=dtype).reshape(c, t, h, w)


def test_uniform_temporal_subsample_indices():
    x = video(c=1, t=10, h=1, w=1)
    assert UniformTemporalSubsample(4)(x).flatten().tolist() == [0, 3, 6, 9]
    assert UniformTemporalSubsample(1)(x).flatten().tolist() == [0]
    # Fewer frames than samples: indices repeat.
    assert UniformTemporalSubsample(5)(video(c=1, t=3, h=1, w=1)).flatten().tolist() == [0, 0, 1, 1, 2]
    # Integer arithmetic, as the TypeScript side: slot 7 of 15 over 3 frames is exactly 7·2/14 = 1;
    # PyTorchVideo's float linspace(0, 2, 15)[7] is 0.99999… and picks frame 0.
    assert torch.linspace(0, 2, 15).long()[7] == 0
    assert UniformTemporalSubsample(15)(video(c=1, t=3, h=1, w=1)).flatten().tolist()[7] == 1
    for m in range(1, 40):
        for t in range(1, 12):
            got = UniformTemporalSubsample(t)(video(c=2, t=m, h=1, w=1))[0].flatten().tolist()
            assert got == uniform_indices(m, t)


def test_short_side_scale_sizes():
    assert short_side_scale_size(72, 96, 64) == (64, 85)  # floor(96·64/72) = floor(85.33)
    assert short_side_scale_size(128, 96, 64) == (85, 64)  # portrait
    assert short_side_scale_size(50, 50, 20) == (20, 20)
    # The exact integer: PyTorchVideo's float floor((148/144)·108) gives 110.
    assert short_side_scale_size(144, 148, 108) == (108, 111)
    assert ShortSideScale(64)(video(h=72, w=96)).shape == (3, 5, 64, 85)


def test_short_side_scale_is_bilinear_half_pixel_without_antialias():
    # Upscale 2x2 -> 4x4 (align_corners=False): source coordinate (i + 0.5)/2 − 0.5,
    # clamped: weights 0, 0.25, 0.75, 1 along each axis; value = 2·y + x.
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    r = [0.0, 0.25, 0.75, 1.0]
    expected = torch.tensor([[2 * ry + rx for rx in r] for ry in r]).reshape(1, 1, 4, 4)
    assert torch.equal(ShortSideScale(4)(x), expected)
    # Downscale 2x4 -> 1x2: samples at x = 0.5 and 2.5, the mean of the two
    # neighbours (antialias would blur in more pixels and give 1.0, 5.71).
    row = torch.tensor([0.0, 1.0, 4.0, 9.0])
    x = torch.stack([row, row]).reshape(1, 1, 2, 4)
    assert torch.equal(ShortSideScale(1)(x), torch.tensor([0.5, 6.5]).reshape(1, 1, 1, 2))


def test_short_side_scale_needs_floats():
    with pytest.raises(TypeError, match="Div255"):
        ShortSideScale(4)(video(dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        ShortSideScale(4)(torch.zeros(2, 3, 4))


def test_center_crop_offsets():
    x = video(h=7, w=10)
    # offsets ceil((7 − 4)/2) = 2, ceil((10 − 4)/2) = 3
    assert torch.equal(CenterCrop(4)(x), x[..., 2:6, 3:7])
    x = video(h=9, w=6)
    # ceil(6/2) = 3, ceil(3/2) = 2: odd leftovers go to the top/left margin being larger
    assert torch.equal(CenterCrop(3)(x), x[..., 3:6, 2:5])
    assert torch.equal(CenterCrop(6)(video(h=6, w=6)), video(h=6, w=6))
    with pytest.raises(ValueError, match=r"CenterCrop\(7\) does not fit a 6x6 frame"):
        CenterCrop(7)(video(h=6, w=6))


def test_random_crop_positions_are_uniform_and_seeded():
    x = video(c=1, t=1, h=6, w=8)
    torch.manual_seed(0)
    seen = set()
    for _ in range(400):
        out = RandomCrop(4)(x)
        assert out.shape == (1, 1, 4, 4)
        y0, x0 = divmod(int(out[0, 0, 0, 0].item()), 8)
        assert torch.equal(out, x[..., y0 : y0 + 4, x0 : x0 + 4])
        seen.add((y0, x0))
    assert seen == {(y, x) for y in range(3) for x in range(5)}
    torch.manual_seed(5)
    a = [RandomCrop(4)(x) for _ in range(5)]
    torch.manual_seed(5)
    assert all(torch.equal(p, q) for p, q in zip(a, [RandomCrop(4)(x) for _ in range(5)]))


def test_random_short_side_scale_range():
    torch.manual_seed(0)
    sizes = {RandomShortSideScale(10, 13)(video(h=20, w=30)).shape[-2] for _ in range(200)}
    assert sizes == {10, 11, 12, 13}
    with pytest.raises(ValueError):
        RandomShortSideScale(5, 4)


def test_div255_and_normalize():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(3, 1, 1, 1)
    y = Div255()(x)
    assert y.dtype == torch.float32 and torch.allclose(y.flatten(), torch.tensor([0.0, 0.2, 1.0]))
    z = Normalize([0.5, 0.0, 1.0], [0.5, 0.2, 2.0])(y)
    assert torch.allclose(z.flatten(), torch.tensor([-1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="channels"):
        Normalize([0.5], [0.5])(y)
    with pytest.raises(ValueError, match="std > 0"):
        Normalize([0.5, 0.5, 0.5], [0.5, 0.0, 0.5])


def test_eval_transform_from_manifest_input():
    spec = EXAMPLE_INPUT  # frames 8, crop 64, short side 72
    t = eval_transform(spec)
    assert repr(t) == (
        "Compose(Div255(), ShortSideScale(72), CenterCrop(64), "
        "Normalize(mean=[0.45, 0.45, 0.45], std=[0.225, 0.225, 0.225]))"
    )
    g = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 256, (3, 8, 96, 128), dtype=torch.uint8, generator=g)
    out = t(clip)
    assert out.shape == (3, 8, 64, 64) and out.dtype == torch.float32
    # By hand: 96x128 -> 72x96, crop offsets (4, 16).
    scaled = torch.nn.functional.interpolate(clip.float() / 255.0, size=(72, 96), mode="bilinear", align_corners=False)
    assert torch.equal(out, (scaled[..., 4:68, 16:80] - 0.45) / 0.225)
    assert torch.equal(out, t(clip))  # no randomness
    # A flat colour stays exactly that colour.
    flat = torch.full((3, 2, 50, 70), 200, dtype=torch.uint8)
    assert torch.allclose(t(flat), torch.full((3, 2, 64, 64), (200 / 255 - 0.45) / 0.225))


def test_train_transform_shapes_and_determinism():
    t = train_transform(EXAMPLE_INPUT)
    assert "RandomShortSideScale(72, 90)" in repr(t) and "RandomCrop(64)" in repr(t)
    assert "Flip" not in repr(t)
    clip = torch.randint(0, 256, (3, 8, 72, 96), dtype=torch.uint8)
    torch.manual_seed(1)
    a = t(clip)
    torch.manual_seed(1)
    assert torch.equal(a, t(clip))
    assert a.shape == (3, 8, 64, 64)
    assert any(not torch.equal(a, t(clip)) for _ in range(5))
    with pytest.raises(ValueError, match="smaller than cropSize"):
        train_transform(EXAMPLE_INPUT, min_short_side=60)


def test_flips():
    x = video(c=1, t=1, h=2, w=3)
    assert torch.equal(RandomHorizontalFlip(p=1.0)(x), x.flip(-1))
    assert torch.equal(RandomHorizontalFlip(p=0.0)(x), x)
    flip = HorizontalFlipWithLabel(HFLIP_LABEL_PERMUTATION, p=1.0)
    y, label = flip(x, 0)  # move_left
    assert torch.equal(y, x.flip(-1)) and label == 1  # move_right
    assert flip(x, 6)[1] == 7 and flip(x, 2)[1] == 2
    assert HorizontalFlipWithLabel(HFLIP_LABEL_PERMUTATION, p=0.0)(x, 6) == (x, 6)
    with pytest.raises(ValueError, match="permutation"):
        HorizontalFlipWithLabel([0, 0, 1])


def test_transforms_pickle_for_dataloader_workers():
    t = Compose([train_transform(EXAMPLE_INPUT), UniformTemporalSubsample(4)])
    u = pickle.loads(pickle.dumps(t))
    clip = torch.randint(0, 256, (3, 8, 72, 96), dtype=torch.uint8)
    torch.manual_seed(3)
    a = t(clip)
    torch.manual_seed(3)
    assert torch.equal(a, u(clip)) and a.shape == (3, 4, 64, 64)
