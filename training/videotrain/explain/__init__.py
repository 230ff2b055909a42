"""`videotrain explain`: where in space and time a run's model finds a class.

    features.py  hooks on a named layer; its output as (C, T, H, W) grids, per pathway
    gradcam.py   Grad-CAM: channel weights from the gradient, the weighted map
    cam.py       class activation maps: the head's post-pool layers at every location
    render.py    strip.png and overlay.mp4
    command.py   the run and video in, the files out
"""


class ExplainError(ValueError):
    """A request explain cannot serve: an unknown label or layer, a method the model's head does not allow."""
