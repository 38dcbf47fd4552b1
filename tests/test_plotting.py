"""lib.plotting: the interactive figure's two modes, and its errors."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets.widgets.widget_link import DirectionalLink  # noqa: E402

from lib import plotting  # noqa: E402


def draw(eta):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot(np.arange(5) * eta)
    return fig


def parts(box):
    frames, row, stack = box.children
    live, status = row.children
    return frames, live, status, stack


def test_precomputed_frames_and_a_live_frame():
    box = plotting.interactive_figure(draw, "eta", [0.1, 0.2, 0.3], live_range=(0.01, 1.0))
    frames, live, status, stack = parts(box)
    assert list(frames.options) == ["0.1", "0.2", "0.3"]
    assert len(stack.children) == 4 and stack.selected_index == 0
    pngs = [img.value for img in stack.children[:3]]
    assert len(set(pngs)) == 3  # one distinct picture per value
    assert pngs[1] == plotting.png_bytes(draw(0.2))  # frames are draw() at the values


def test_live_slider_redraws_for_a_value_that_was_not_precomputed():
    box = plotting.interactive_figure(draw, "eta", [0.1, 0.2], live_range=(0.01, 1.0))
    frames, live, status, stack = parts(box)
    live.value = 0.77
    assert stack.selected_index == 2
    assert stack.children[2].value == plotting.png_bytes(draw(0.77))
    assert "eta = 0.77" in status.value and frames.index == 0
    seconds = box.redraw(0.5)
    assert seconds > 0 and stack.children[2].value == plotting.png_bytes(draw(0.5))


def test_log_slider_covers_its_range():
    box = plotting.interactive_figure(draw, "w0", [1e-3, 1e-2], live_range=(1e-4, 1e-1), log=True)
    _, live, _, _ = parts(box)
    assert isinstance(live, widgets.FloatLogSlider)
    assert (live.min, live.max, live.base) == (-4.0, -1.0, 10)


def test_the_frame_link_is_one_way():
    """Showing the live frame must not drag the frame slider to its last option."""
    box = plotting.interactive_figure(draw, "eta", [0.1, 0.2], live_range=(0.01, 1.0))
    frames, _, _, stack = parts(box)
    assert isinstance(box.frame_link, DirectionalLink)
    assert box.frame_link.source == (frames, "index")
    assert box.frame_link.target == (stack, "selected_index")


@pytest.mark.parametrize("kwargs, message", [
    (dict(draw=None), "draw must be callable"),
    (dict(values=[]), "values must hold at least one value"),
    (dict(values=[0.1, 0.1]), "values must be distinct"),
    (dict(live_range=(1.0, 0.5)), "live_range must be"),
    (dict(live_range=(0.0, 1.0), log=True), "live_range must be positive"),
])
def test_bad_input_names_the_argument(kwargs, message):
    args = dict(draw=draw, name="eta", values=[0.1, 0.2], live_range=(0.01, 1.0)) | kwargs
    with pytest.raises(ValueError, match=message):
        plotting.interactive_figure(args.pop("draw"), args.pop("name"), args.pop("values"), **args)


def test_fraction_learned_draws_one_curve_and_one_line_per_mode():
    fig, ax = plt.subplots()
    s = np.linspace(0, 2, 50)
    fractions = np.stack([np.clip(s - 0.5 * i, 0, 1) for i in range(3)], axis=1)
    plotting.fraction_learned(ax, s, fractions, transitions=[0.5, 1.0, 1.5])
    assert len(ax.lines) == 6
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), fractions[:, 1])
    assert ax.lines[1].get_xdata()[0] == 0.5  # the first mode's T_1
    with pytest.raises(ValueError, match="fractions"):
        plotting.fraction_learned(ax, s, fractions[1:])
    plt.close(fig)
