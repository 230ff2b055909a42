"""RandAugment (video), MixUp/CutMix/MixVideo and label smoothing, ApplyTransformToKey, the train recipe."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torch.nn import functional as F

from videotrain import rand_augment as ra
from videotrain.transforms import (
    ApplyTransformToKey,
    CutMix,
    Div255,
    MixUp,
    MixVideo,
    Normalize,
    RandAugment,
    RandomCrop,
    RandomShortSideScale,
    smooth_one_hot,
    train_transform,
)

torch.set_num_threads(1)

INPUT = {"frames": 4, "cropSize": 32, "shortSideSize": 36, "mean": [0.45] * 3, "std": [0.225] * 3}


def clip(t=4, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, t, h, w, generator=g)


def frames_of(image: np.ndarray) -> torch.Tensor:
    """An (H, W, 3) uint8 image as a one-frame float (T=1, C, H, W) batch for the op functions."""
    return (torch.from_numpy(image).permute(2, 0, 1).float() / 255.0).unsqueeze(0)


def as_uint8(v: torch.Tensor) -> np.ndarray:
    return (v[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    # Uneven histogram: a gradient plus noise, so equalize has work to do.
    base = np.linspace(40, 160, 20 * 30).reshape(20, 30, 1)
    return np.clip(base + rng.normal(0, 12, (20, 30, 3)), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- RandAugment operations


def test_equalize_posterize_solarize_invert_match_pil(image):
    pil = Image.fromarray(image)
    assert np.array_equal(as_uint8(ra.equalize(frames_of(image))), np.asarray(ImageOps.equalize(pil)))
    for bits in (1, 2, 4):
        assert np.array_equal(as_uint8(ra.posterize(frames_of(image), bits)), np.asarray(ImageOps.posterize(pil, bits)))
    # PIL inverts pixels >= threshold, like torchvision's solarize.
    assert np.array_equal(as_uint8(ra.solarize(frames_of(image), 128 / 255)), np.asarray(ImageOps.solarize(pil, 128)))
    assert np.array_equal(as_uint8(ra.invert(frames_of(image))), np.asarray(ImageOps.invert(pil)))


def test_geometric_ops_directions_and_fill():
    v = torch.rand(2, 3, 8, 8)
    # 90 degrees counter-clockwise, as np.rot90 turns a picture.
    assert torch.allclose(ra.rotate(v, 90), torch.rot90(v, 1, dims=(-2, -1)), atol=1e-5)
    # TranslateX by +2/8 of the width: content moves 2 px left, the right edge is filled with 0.5.
    out = ra.translate_x(v, 0.25)
    assert torch.allclose(out[..., :6], v[..., 2:], atol=1e-6) and torch.all(out[..., 6:] == ra.FILL)
    out = ra.translate_y(v, -0.25)  # content moves 2 px down
    assert torch.allclose(out[..., 2:, :], v[..., :6, :], atol=1e-6) and torch.all(out[..., :2, :] == ra.FILL)
    assert torch.allclose(ra.shear_x(v, 0.0), v) and torch.allclose(ra.shear_y(v, 0.0), v)
    # ShearX reads x + f·y + H·f/2 (PyTorchVideo's offset): row r shifts by f·(r + 0.5) px.
    # On a ramp along x, bilinear resampling is exact where both neighbours are inside.
    ramp = torch.arange(8.0).expand(1, 3, 8, 8) / 10
    sheared = ra.shear_x(ramp, 0.25)
    for r in range(8):
        shift = 0.25 * (r + 0.5)
        j = torch.arange(8)[torch.arange(8) + shift <= 7]
        assert torch.allclose(sheared[0, 0, r, j], (j + shift) / 10, atol=1e-6)


def test_color_ops_factors():
    v = torch.rand(2, 3, 6, 6) * 0.5
    assert torch.allclose(ra.adjust_brightness(v, 1.5), v * 1.5)
    for op in (ra.adjust_brightness, ra.adjust_contrast, ra.adjust_saturation, ra.adjust_sharpness):
        assert torch.allclose(op(v, 1.0), v)  # factor 1 is the identity
    gray = ra.adjust_saturation(v, 0.0)
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    flat = ra.adjust_contrast(v, 0.0)  # each frame becomes its own mean grey
    assert torch.allclose(flat[0], flat[0, 0, 0, 0].expand_as(flat[0])) and not torch.allclose(flat[0], flat[1])
    stretched = ra.autocontrast(v)
    assert torch.allclose(stretched.amin(dim=(-2, -1)), torch.zeros(2, 3)) and torch.allclose(stretched.amax(dim=(-2, -1)), torch.ones(2, 3))


# ---------------------------------------------------------------- RandAugment


def test_rand_augment_shape_range_and_seeded_determinism():
    x = clip()
    aug = RandAugment(magnitude=9, num_layers=2)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        outs.append(aug(x))
    assert torch.equal(outs[0], outs[1])
    assert outs[0].shape == x.shape and outs[0].dtype == x.dtype
    assert 0 <= outs[0].min() and outs[0].max() <= 1
    torch.manual_seed(8)
    assert not torch.equal(aug(x), outs[0])  # another seed, other ops (prob 0.5 each: 1 − 1/4 of draws change something)
    assert torch.equal(x, clip())  # the input is not modified


@pytest.mark.parametrize("seed", range(6))
def test_rand_augment_applies_the_same_op_to_every_frame(seed):
    x = clip(t=5)
    aug = RandAugment(magnitude=10, num_layers=3, prob=1.0)
    torch.manual_seed(seed)
    whole = aug(x)
    for t in range(x.shape[1]):
        torch.manual_seed(seed)  # the same draws for a one-frame clip
        assert torch.allclose(aug(x[:, t : t + 1]), whole[:, t : t + 1], atol=1e-6)
    # A clip of identical frames stays a clip of identical frames.
    still = x[:, :1].expand(3, 5, 24, 32).contiguous()
    torch.manual_seed(seed)
    out = aug(still)
    assert all(torch.equal(out[:, 0], out[:, t]) for t in range(5))


def test_rand_augment_draws_distinct_ops_with_pytorchvideo_levels(monkeypatch):
    calls = []

    def recorder(name, op):
        def run(v, *args):
            calls.append((name, args))
            return op(v, *args)

        return run

    monkeypatch.setattr(ra, "OPS", {name: (recorder(name, op), arg) for name, (op, arg) in ra.OPS.items()})
    aug = RandAugment(magnitude=10, num_layers=4, prob=1.0, sampling_std=0.0)
    for seed in range(30):
        calls.clear()
        torch.manual_seed(seed)
        aug(clip(t=2, h=8, w=8))
        names = [n for n, _ in calls]
        assert len(names) == 4 and len(set(names)) == 4
        for name, args in calls:
            # Level 10 (std 0): PyTorchVideo's maxima, sign by a coin where it applies.
            expected = {
                "AdjustBrightness": {0.1, 1.9}, "AdjustContrast": {0.1, 1.9}, "AdjustSaturation": {0.1, 1.9},
                "AdjustSharpness": {0.1, 1.9}, "Rotate": {-30.0, 30.0}, "Posterize": {0}, "Solarize": {0.0},
                "ShearX": {-0.3, 0.3}, "ShearY": {-0.3, 0.3}, "TranslateX": {-0.45, 0.45}, "TranslateY": {-0.45, 0.45},
            }.get(name, set())
            assert {round(a, 6) for a in args} <= {round(e, 6) for e in expected} and len(args) == (1 if expected else 0)


def test_rand_augment_prob_zero_is_identity():
    x = clip()
    torch.manual_seed(0)
    assert torch.equal(RandAugment(magnitude=9, num_layers=3, prob=0.0)(x), x)


def test_rand_augment_input_checks_and_pickle():
    with pytest.raises(TypeError, match="Div255"):
        RandAugment()(torch.zeros(3, 2, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(3, T, H, W\)"):
        RandAugment()(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="num_layers"):
        RandAugment(num_layers=15)
    with pytest.raises(ValueError, match="magnitude"):
        RandAugment(magnitude=11)
    aug = pickle.loads(pickle.dumps(RandAugment(magnitude=5, num_layers=1)))
    assert repr(aug) == "RandAugment(magnitude=5, num_layers=1, prob=0.5, sampling_type='gaussian')"


# ---------------------------------------------------------------- mixing and label smoothing


def test_smooth_one_hot_values_and_cross_entropy_equivalence():
    y = torch.tensor([0, 3, 1])
    t = smooth_one_hot(y, 4, 0.1)
    assert torch.allclose(t[0], torch.tensor([0.925, 0.025, 0.025, 0.025]))
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert torch.equal(smooth_one_hot(y, 4), F.one_hot(y, 4).float())
    logits = torch.randn(3, 4)
    # Soft targets give torch's own label-smoothed loss: the loss accepts both.
    assert torch.allclose(F.cross_entropy(logits, t), F.cross_entropy(logits, y, label_smoothing=0.1))
    with pytest.raises(ValueError, match="label smoothing"):
        smooth_one_hot(y, 4, 1.0)


def batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 2, 8, 10, generator=g), torch.tensor([0, 1, 2, 3][:n])


def test_mixup_mixes_with_the_reversed_batch():
    x, y = batch()
    torch.manual_seed(3)
    out, target = MixUp(alpha=1.0, label_smoothing=0.1, num_classes=5)(x, y)
    lam = float((target[0, 0] - 0.02) / 0.9)  # sample 0 has label 0, its partner label 3
    assert 0 < lam < 1
    assert torch.allclose(out, lam * x + (1 - lam) * x.flip(0), atol=1e-6)
    assert torch.allclose(target.sum(1), torch.ones(4))
    assert torch.allclose(target[0], lam * smooth_one_hot(y[:1], 5, 0.1)[0] + (1 - lam) * smooth_one_hot(y[3:], 5, 0.1)[0])
    torch.manual_seed(3)
    again, _ = MixUp(alpha=1.0, num_classes=5)(x, y)
    assert torch.equal(again, out)
    assert torch.equal(x, batch()[0])  # not modified in place


def test_cutmix_pastes_one_box_into_every_frame():
    x, y = batch()
    seen_lams = set()
    for seed in range(10):
        torch.manual_seed(seed)
        out, target = CutMix(alpha=1.0, num_classes=4)(x, y)
        pasted = (out != x).any(dim=(0, 1, 2))  # (H, W): where any sample changed
        lam = float(target[0, 0])  # label 0, partner label 3: the unpasted fraction
        assert torch.allclose(target.sum(1), torch.ones(4))
        if pasted.any():
            rows, cols = pasted.nonzero(as_tuple=True)
            y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            assert pasted[y0:y1, x0:x1].all()  # a rectangle
            assert torch.equal(out[..., y0:y1, x0:x1], x.flip(0)[..., y0:y1, x0:x1])  # same box, all frames
            assert lam == pytest.approx(1 - float((y1 - y0) * (x1 - x0)) / (8 * 10))
        else:
            assert lam == 1.0
        seen_lams.add(round(lam, 4))
    assert len(seen_lams) > 3


def test_mix_video_chooses_and_mix_prob():
    x, y = batch()
    torch.manual_seed(0)
    always_cut = MixVideo(cutmix_prob=1.0, num_classes=4)
    torch.manual_seed(1)
    out, _ = always_cut(x, y)
    changed = (out != x).any(dim=(0, 1, 2))
    assert not changed.all()  # a box (or nothing), never a blend of every pixel
    torch.manual_seed(1)
    out, target = MixVideo(cutmix_alpha=0.0, num_classes=4)(x, y)  # MixUp only: every pixel blended
    lam = float(target[0, 0])
    assert 0 < lam < 1 and torch.allclose(out, lam * x + (1 - lam) * x.flip(0), atol=1e-6)
    # mix_prob: about that fraction of batches are mixed; the others get plain smoothed targets.
    mv = MixVideo(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.2, num_classes=4, mix_prob=0.3)
    torch.manual_seed(2)
    plain = sum(torch.equal(mv(x, y)[1], smooth_one_hot(y, 4, 0.2)) for _ in range(200))
    assert 110 < plain < 170  # expected 140
    with pytest.raises(ValueError, match="at least one > 0"):
        MixVideo(mixup_alpha=0.0, cutmix_alpha=0.0)
    with pytest.raises(ValueError, match="mix_prob"):
        MixVideo(mix_prob=0.0)
    with pytest.raises(ValueError, match=r"label smoothing must be in \[0, 1\), got 1.0"):
        MixVideo(label_smoothing=1.0)
    with pytest.raises(ValueError, match="N labels"):
        MixUp()(x, y[:2])


# ---------------------------------------------------------------- composition


def test_apply_transform_to_key():
    item = {"video": torch.full((3, 1, 2, 2), 255, dtype=torch.uint8), "label": 3}
    out = ApplyTransformToKey("video", Div255())(item)
    assert out["label"] == 3 and torch.equal(out["video"], torch.ones(3, 1, 2, 2)) and item["video"].dtype == torch.uint8


def test_train_transform_default_recipe_is_unchanged_and_rand_augment_goes_before_normalize():
    default = train_transform(INPUT)
    assert [type(t) for t in default.transforms] == [Div255, RandomShortSideScale, RandomCrop, Normalize]
    aug = RandAugment(magnitude=9, num_layers=2)
    with_ra = train_transform(INPUT, rand_augment=aug)
    assert with_ra.transforms[3] is aug and [type(t) for t in with_ra.transforms] == [Div255, RandomShortSideScale, RandomCrop, RandAugment, Normalize]
    x = torch.randint(0, 256, (3, 4, 40, 50), dtype=torch.uint8)
    torch.manual_seed(5)
    a = default(x)
    torch.manual_seed(5)
    b = train_transform(INPUT)(x)
    assert torch.equal(a, b) and a.shape == (3, 4, 32, 32)
    torch.manual_seed(5)
    assert with_ra(x).shape == (3, 4, 32, 32)
