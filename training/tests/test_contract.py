"""The Python side of the shared contract: sampling vectors and manifest schema."""
import copy
import json
from pathlib import Path

import pytest

from videotrain.manifest import ManifestError, load_manifest, validate_manifest
from videotrain.sampling import SamplingError, VideoTimeline, frame_times_from_rate, sample_frames

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
VECTORS = json.loads((CONTRACT / "sampling-vectors.json").read_text())["cases"]
EXAMPLE = json.loads((CONTRACT / "manifest.example.json").read_text())


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_sampling_vectors(case):
    v = case["video"]
    times = v["frameTimes"] if "frameTimes" in v else frame_times_from_rate(v["frameCount"], v["fps"])
    video = VideoTimeline(duration=v["duration"], frame_times=times, keyframes=v.get("keyframes", []))
    if "expectedError" in case:
        with pytest.raises(SamplingError, match=case["expectedError"]):
            sample_frames(video, case["plan"])
        return
    got = [
        {"index": c.index, "start": c.start, "end": c.end, "frames": [[f.index, f.time, f.target] for f in c.frames]}
        for c in sample_frames(video, case["plan"])
    ]
    # Exact equality, floats included: both languages must compute the same doubles.
    assert got == case["expected"]


def _problems(obj):
    with pytest.raises(ManifestError) as e:
        validate_manifest(obj, "m.json")
    return [p for p, _ in e.value.problems]


def test_example_manifest_is_valid():
    assert validate_manifest(copy.deepcopy(EXAMPLE))["id"] == "synthetic-motion-x3d-tiny"


def test_bad_fields_are_named():
    m = copy.deepcopy(EXAMPLE)
    m["input"]["mean"] = [0.45, 0.45]
    assert _problems(m) == ["input.mean"]
    m = copy.deepcopy(EXAMPLE)
    m["model"]["sha256"] = "XYZ"
    assert _problems(m) == ["model.sha256"]
    m = copy.deepcopy(EXAMPLE)
    del m["labels"]
    assert _problems(m) == ["(root)"]  # jsonschema reports a missing property on its parent
    m = copy.deepcopy(EXAMPLE)
    m["sampling"]["frames"] = 16
    assert _problems(m) == ["sampling.frames"]
    m = copy.deepcopy(EXAMPLE)
    m["labels"][1] = m["labels"][0]
    assert _problems(m) == ["labels"]


def test_load_manifest_names_the_file(tmp_path):
    p = tmp_path / "manifest.json"
    p.write_text("{ nope")
    with pytest.raises(ManifestError, match=r"manifest.json: invalid manifest: \(root\): not valid JSON"):
        load_manifest(p)
