"""videotrain explain: Grad-CAM and CAM over space and time, and the command end to end on tiny runs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from videotrain.cli import main
from videotrain.data.synthetic import generate_dataset
from videotrain.data.video import probe_video
from videotrain.explain import ExplainError
from videotrain.explain.cam import class_activation_map, location_logits, pooled_head
from videotrain.explain.features import LayerCapture, default_layer, find_layer
from videotrain.explain.gradcam import channel_weights, grad_cam
from videotrain.models import build_model
from videotrain.runs import evaluate_onnx

torch.set_num_threads(1)

# ---------------------------------------------------------------- a model whose evidence is known

FRAMES, SIDE, HALF = 4, 64, 32
# In normalized space: a red and a blue square; class 2 is noise alone.
COLORS = torch.tensor([[2.0, -1.5, -1.5], [-1.5, -1.5, 2.0]])


def _paint(x: torch.Tensor, i: int, color: int, quadrant: int, g: torch.Generator) -> None:
    """A 15-pixel square of `color` wandering inside `quadrant` (0 1 / 2 3) of clip i."""
    qy, qx = divmod(quadrant, 2)
    for t in range(x.shape[2]):
        oy, ox = torch.randint(0, HALF - 15 + 1, (2,), generator=g).tolist()
        y0, x0 = qy * HALF + oy, qx * HALF + ox
        x[i, :, t, y0 : y0 + 15, x0 : x0 + 15] = COLORS[color][:, None, None]


def _noise(n: int, g: torch.Generator) -> torch.Tensor:
    return 0.5 * torch.randn(n, 3, FRAMES, SIDE, SIDE, generator=g)


def _batch(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _noise(n, g), torch.randint(0, 3, (n,), generator=g)
    for i in range(n):
        if y[i] < 2:
            _paint(x, i, int(y[i]), int(torch.randint(0, 4, (1,), generator=g)), g)
    return x, y


@pytest.fixture(scope="module")
def spotter() -> torch.nn.Module:
    """Tiny X3D (4×64²) trained to tell a red square from a blue one from none, anywhere in the frame."""
    torch.manual_seed(0)
    model = build_model("x3d", "tiny", 3, frames=FRAMES)
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), 5e-3)
    for _ in range(60):
        x, y = _batch(16, g)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = _batch(48, g)
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95, "the spotter did not learn its task"
    return model


def _occluded(x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Each clip with one quadrant set to 0 (the normalized mean) in every frame."""
    x = x.clone()
    for i, c in enumerate(cells.tolist()):
        qy, qx = divmod(c, 2)
        x[i, :, :, qy * HALF : (qy + 1) * HALF, qx * HALF : (qx + 1) * HALF] = 0
    return x


def test_gradcam_points_at_the_explained_class_and_occluding_it_costs_the_most(spotter):
    # Both squares in every clip, in different quadrants: a map that only found
    # strong activations (not the class's evidence) would fail one of the classes.
    pairs = [(a, b) for a in range(4) for b in range(4) if a != b]
    g = torch.Generator().manual_seed(1)
    x = _noise(len(pairs), g)
    for i, (red, blue) in enumerate(pairs):
        _paint(x, i, 0, red, g)
        _paint(x, i, 1, blue, g)
    for k in (0, 1):
        e = grad_cam(spotter, x, "blocks.4", k)
        assert e.map.shape == (len(pairs), FRAMES, 2, 2)  # blocks.4's cells are the quadrants at 64²
        heat = e.map.sum(1).flatten(1)
        assert heat.argmax(1).tolist() == [p[k] for p in pairs], f"class {k}"
        with torch.no_grad():
            score = spotter(x)[:, k]
            drop_hot = score - spotter(_occluded(x, heat.argmax(1)))[:, k]
            drop_cold = score - spotter(_occluded(x, heat.argmin(1)))[:, k]
        assert (drop_hot > drop_cold).all(), f"class {k}: {drop_hot} vs {drop_cold}"


# ---------------------------------------------------------------- the weights are the gradient's mean


def _shift_channel(pathway: int, channel: int, eps: float, tokens: bool):
    """Forward hook adding eps to one channel at every location of a layer's output (not the class token)."""

    def hook(module, inputs, output):
        outs = list(output) if isinstance(output, list) else [output]
        t = outs[pathway].clone()
        if tokens:
            t[:, 1:, channel] += eps
        else:
            t[:, channel] += eps
        outs[pathway] = t
        return outs if isinstance(output, list) else t

    return hook


@pytest.mark.parametrize(
    "arch, pathway",
    [("x3d", 0), ("mvit_v2_s", 0), ("slowfast_r50", 0), ("slowfast_r50", 1)],
)
def test_gradcam_weights_match_finite_differences(arch, pathway):
    torch.manual_seed(0)
    frames = 16 if arch == "slowfast_r50" else 8
    model = build_model(arch, "tiny", 4).double().eval()
    x = torch.randn(1, 3, frames, 64, 64, dtype=torch.float64)
    layer, k = default_layer(arch, model), 2
    with LayerCapture(model, layer) as capture, torch.enable_grad():
        capture.backward(model(x)[:, k].sum())
    grads = capture.gradients()
    weights = channel_weights(grads[pathway])[0]
    cells = grads[pathway][0, 0].numel()
    module = find_layer(model, layer)
    for c in weights.abs().argsort(descending=True)[:4].tolist():
        scores = []
        for eps in (1e-5, -1e-5):
            handle = module.register_forward_hook(_shift_channel(pathway, c, eps, tokens=arch == "mvit_v2_s"))
            with torch.no_grad():
                scores.append(model(x)[0, k].item())
            handle.remove()
        # d score / d(every location of channel c) = Σ of the gradient = cells · mean.
        numeric = (scores[0] - scores[1]) / 2e-5 / cells
        assert numeric == pytest.approx(weights[c].item(), rel=1e-5, abs=1e-9)


# ---------------------------------------------------------------- CAM


@pytest.mark.parametrize("arch", ["c2d_r50", "slowfast_r50"])
def test_cam_location_logits_average_to_the_logits_for_linear_heads(arch):
    torch.manual_seed(0)
    frames = 16 if arch == "slowfast_r50" else 8
    model = build_model(arch, "tiny", 5).eval()
    x = torch.randn(2, 3, frames, 64, 64)
    shares, combined, logits = location_logits(model, x)
    torch.testing.assert_close(combined.mean(dim=(2, 3, 4)), logits, atol=1e-5, rtol=1e-5)
    if arch == "slowfast_r50":
        assert [s.shape[2:] for s in shares] == [(4, 2, 2), (16, 2, 2)] and combined.shape[2:] == (16, 2, 2)


def test_x3d_cam_is_the_head_at_each_location_of_the_pool_input():
    torch.manual_seed(0)
    model = build_model("x3d", "tiny", 5).eval()
    layer, _, _ = pooled_head(model)
    assert layer == "blocks.5.pool.pre_act"
    x = torch.randn(2, 3, 8, 64, 64)
    e = class_activation_map(model, x, 3)
    assert e.map.shape == (2, 8, 2, 2) and torch.isfinite(e.map).all()

    # Where every location holds the same features, each location's logits are the model's.
    def flatten(module, inputs, output):
        return output.mean(dim=(2, 3, 4), keepdim=True).expand_as(output)

    handle = find_layer(model, layer).register_forward_hook(flatten)
    try:
        _, combined, logits = location_logits(model, x)
    finally:
        handle.remove()
    torch.testing.assert_close(combined, logits[:, :, None, None, None].expand_as(combined), atol=1e-5, rtol=1e-5)


def test_x3d_gradcam_at_the_pool_input_is_the_forward_only_jacobian_map():
    # The compiler's expose-class-map pass computes Σ_c J[k, c]·F[c, l] / L with
    # J = ∂logits/∂mean_l(F): Grad-CAM at the pool's input before its ReLU.
    torch.manual_seed(0)
    model = build_model("x3d", "tiny", 5).eval()
    layer, post, proj = pooled_head(model)
    x = torch.randn(1, 3, 8, 64, 64)
    k = 3
    with LayerCapture(model, layer) as capture, torch.enable_grad():
        logits = model(x)
        capture.backward(logits[:, k].sum())
    (features,), (grad,) = capture.features(), capture.gradients()
    gradcam = torch.einsum("bcthw,bc->bthw", features, channel_weights(grad))[0]

    def head(pooled):
        return proj(post(pooled[:, None, None, None]).flatten())

    jacobian = torch.autograd.functional.jacobian(head, features[0].mean(dim=(1, 2, 3)).detach())
    cells = features[0, 0].numel()
    class_map = torch.einsum("c,cthw->thw", jacobian[k], features[0].detach()) / cells
    torch.testing.assert_close(gradcam, class_map, atol=1e-6, rtol=1e-5)
    # X3D's post-pool ReLU follows a bias-free conv: the map sums to the logit less the bias.
    assert class_map.sum().item() == pytest.approx((logits[0, k] - proj.bias[k]).item(), abs=1e-5)


def test_cam_refuses_a_class_token_head():
    with pytest.raises(ExplainError, match="use --method gradcam"):
        pooled_head(build_model("mvit_v2_s", "tiny", 3))


def test_an_unknown_layer_names_some_that_exist():
    with pytest.raises(ExplainError, match=r"unknown layer 'blocks\.9'; e\.g\. blocks, blocks\.0, .*blocks\.5"):
        find_layer(build_model("x3d", "tiny", 3), "blocks.9")


# ---------------------------------------------------------------- the command on tiny runs


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain-data")
    generate_dataset(out, clips_per_class_train=1, clips_per_class_val=1, seed=0, workers=2, progress=False)
    return out


@pytest.fixture(scope="module")
def runs(dataset, tmp_path_factory):
    """One-epoch tiny X3D and SlowFast runs (8 training clips: one step each)."""
    out = {}
    for arch in ("x3d", "slowfast_r50"):
        out[arch] = tmp_path_factory.mktemp("explain-runs") / arch
        assert main([
            "train", "--data", str(dataset), "--arch", arch, "--preset", "tiny", "--epochs", "1", "--batch-size", "8",
            "--out", str(out[arch]), "--workers", "0", "--threads", "1", "--no-progress", "--no-tensorboard",
            "--id", f"explain-{arch}", "--version", "1",
        ]) == 0
    return out


def _val_video(dataset, n: int = 0) -> str:
    return str(dataset / (dataset / "val.txt").read_text().split()[2 * n])


@pytest.mark.parametrize("arch, frames, grid", [("x3d", 8, [8, 2, 2]), ("slowfast_r50", 16, [16, 2, 2])])
def test_explain_writes_maps_pictures_and_json(runs, dataset, tmp_path, arch, frames, grid, capsys):
    video, out = _val_video(dataset), tmp_path / "out"
    assert main(["explain", "--run", str(runs[arch]), video, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert (out / "strip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert probe_video(out / "overlay.mp4").frame_count == frames
    maps, raw = np.load(out / "maps.npy"), np.load(out / "maps_raw.npy")
    assert maps.dtype == raw.dtype == np.float32
    assert maps.shape == (1, frames, 64, 64) and list(raw.shape) == [1, *grid]
    assert 0 <= maps.min() and maps.max() <= 1 and raw.max() == 1 and not np.isnan(maps).any()

    doc = json.loads((out / "explain.json").read_text())
    assert (doc["method"], doc["layer"], doc["rawGrid"]) == ("gradcam", "blocks.4", grid)
    assert doc["label"]["chosen"] == "top-1" and doc["label"]["name"] == doc["top5"][0]["label"]
    # The clip explained is the one the model classifies: evaluate's frames and logits.
    ev = evaluate_onnx(runs[arch], dataset / "val.txt", out=tmp_path / "eval.json", progress=False)
    (want,) = [v for v in ev["videos"] if v["path"] == video]
    (clip,) = doc["clips"]
    assert clip["times"] == want["clips"][0]["times"]
    assert clip["logit"] == pytest.approx(want["clipLogits"][0][doc["label"]["index"]], abs=1e-4)
    if arch == "slowfast_r50":
        assert [(p["name"], p["grid"]) for p in doc["pathways"]] == [("slow", [4, 2, 2]), ("fast", [16, 2, 2])]
        assert np.load(out / "maps_raw_slow.npy").shape == (1, 4, 2, 2)
    else:
        assert doc["pathways"] == []


def test_explain_follows_the_manifests_frame_selector(runs, dataset, tmp_path):
    run = tmp_path / "keyframe-run"
    shutil.copytree(runs["x3d"], run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["sampling"]["frameSelector"] = "keyframe"
    (run / "manifest.json").write_text(json.dumps(manifest))
    video = _val_video(dataset, 1)
    assert main(["explain", "--run", str(run), video, "--label", manifest["labels"][3]]) == 0
    doc = json.loads((run / "explain" / Path(video).stem / "explain.json").read_text())  # the default --out
    assert (doc["label"]["index"], doc["label"]["chosen"]) == (3, "--label")
    ev = evaluate_onnx(run, dataset / "val.txt", out=tmp_path / "eval.json", progress=False)
    (want,) = [v for v in ev["videos"] if v["path"] == video]
    assert doc["clips"][0]["times"] == want["clips"][0]["times"]
    uniform = evaluate_onnx(runs["x3d"], dataset / "val.txt", out=tmp_path / "eval-u.json", progress=False)
    assert want["clips"][0]["times"] != [v for v in uniform["videos"] if v["path"] == video][0]["clips"][0]["times"]


def test_explain_cam_at_the_x3d_pool_input(runs, dataset, tmp_path):
    out = tmp_path / "cam"
    assert main(["explain", "--run", str(runs["x3d"]), _val_video(dataset), "--method", "cam", "--out", str(out)]) == 0
    doc = json.loads((out / "explain.json").read_text())
    assert (doc["method"], doc["layer"], doc["rawGrid"]) == ("cam", "blocks.5.pool.pre_act", [8, 2, 2])
    lo, hi = doc["clips"][0]["rawRange"]
    assert lo < hi  # per-location logits, not a constant


@pytest.mark.parametrize(
    "args, message",
    [
        (["--label", "nope"], "error: unknown label 'nope'; the run's labels: "),
        (["--layer", "blocks.9"], "error: unknown layer 'blocks.9'; e.g. blocks, blocks.0"),
        (["--method", "cam", "--layer", "blocks.4"], "error: --method cam works at the input of the head's pool"),
        (["--clip", "3"], "error: --clip 3: "),
    ],
)
def test_explain_errors_are_one_line(runs, dataset, tmp_path, capsys, args, message):
    assert main(["explain", "--run", str(runs["x3d"]), _val_video(dataset), "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_explain_errors_name_the_missing_run_and_the_unreadable_video(runs, tmp_path, capsys):
    assert main(["explain", "--run", str(tmp_path / "none"), "v.mp4"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none'}: no such run directory\n"
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert main(["explain", "--run", str(runs["x3d"]), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and err.count("\n") == 1, err
