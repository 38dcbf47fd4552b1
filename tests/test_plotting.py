"""Tests of lib.plotting.

The interactive figure's two modes (frames, live updates), and its errors.
"""

import io

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets.widgets.widget_link import DirectionalLink  # noqa: E402
from PIL import Image  # noqa: E402

from lib import plotting  # noqa: E402


def small_figure():
    """A line and a title on fixed axes, with a fixed layout (fresh copies match)."""
    fig, ax = plt.subplots(figsize=(2.5, 1.8), layout=None)
    fig.subplots_adjust(left=0.2, bottom=0.2)
    x = np.arange(5.0)
    (line,) = ax.plot(x, 0 * x)
    title = ax.set_title(" ")
    ax.set_ylim(0, 5)
    return fig, ax, x, line, title


def make(moving_xlim=False):
    """A small figure and its update; with moving_xlim the x axis follows the value."""
    fig, ax, x, line, title = small_figure()

    def update(eta):
        line.set_ydata(x * eta)
        title.set_text(f"eta = {eta:.2f}")
        if moving_xlim:
            # Clear of the spines: updated artists are drawn over the static ones, so a
            # line lying on a spine would differ from a fresh drawing by a pixel or two.
            ax.set_xlim(-0.5, 0.5 + 4 * eta)
        return [line, title]

    return fig, update


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def fresh_render(eta, **kwargs):
    """The picture at eta drawn from scratch, with nothing reused."""
    fig, update = make(**kwargs)
    update(eta)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return pixels(buf.getvalue())


def parts(box):
    frames, row, stack = box.children
    live, status = row.children
    return frames, live, status, stack


def test_precomputed_frames_are_the_figure_at_each_value():
    box = plotting.interactive_figure(
        *make(), "eta", [0.1, 0.2, 0.3], live_range=(0.01, 1.0)
    )
    frames, live, status, stack = parts(box)
    assert list(frames.options) == ["0.1", "0.2", "0.3"]
    assert len(stack.children) == 4 and stack.selected_index == 0
    pngs = [img.value for img in stack.children[:3]]
    assert len(set(pngs)) == 3  # one distinct picture per value
    assert np.array_equal(pixels(pngs[1]), fresh_render(0.2))


def test_live_slider_redraws_for_a_value_that_was_not_precomputed():
    box = plotting.interactive_figure(
        *make(), "eta", [0.1, 0.2], live_range=(0.01, 1.0)
    )
    frames, live, status, stack = parts(box)
    live.value = 0.77
    assert stack.selected_index == 2
    assert np.array_equal(pixels(stack.children[2].value), fresh_render(0.77))
    assert "eta = 0.77" in status.value and frames.index == 0
    # The second update reuses the background: it must still equal a fresh drawing.
    seconds = box.redraw(0.5)
    assert seconds > 0
    assert np.array_equal(pixels(stack.children[2].value), fresh_render(0.5))


def test_a_moved_axis_limit_redraws_the_background():
    """Ticks depend on the limits: a reused background would show the old ones."""
    box = plotting.interactive_figure(
        *make(moving_xlim=True), "eta", [0.5], live_range=(0.01, 1.0)
    )
    stack = parts(box)[3]
    box.redraw(0.5)
    box.redraw(0.9)
    assert np.array_equal(
        pixels(stack.children[1].value), fresh_render(0.9, moving_xlim=True)
    )


def test_log_slider_covers_its_range():
    box = plotting.interactive_figure(
        *make(), "w0", [1e-3, 1e-2], live_range=(1e-4, 1e-1), log=True
    )
    _, live, _, _ = parts(box)
    assert isinstance(live, widgets.FloatLogSlider)
    assert (live.min, live.max, live.base) == (-4.0, -1.0, 10)


def test_the_frame_link_is_one_way():
    """Showing the live frame must not drag the frame slider to its last option."""
    box = plotting.interactive_figure(
        *make(), "eta", [0.1, 0.2], live_range=(0.01, 1.0)
    )
    frames, _, _, stack = parts(box)
    assert isinstance(box.frame_link, DirectionalLink)
    assert box.frame_link.source == (frames, "index")
    assert box.frame_link.target == (stack, "selected_index")


def test_update_must_return_the_artists_it_changed():
    fig, _ = make()
    with pytest.raises(ValueError, match="update must return the list of artists"):
        plotting.interactive_figure(
            fig, lambda eta: None, "eta", [0.1], live_range=(0, 1)
        )
    other, _ = make()
    with pytest.raises(ValueError, match="not in the figure"):
        plotting.interactive_figure(
            fig, lambda eta: other.axes, "eta", [0.1], live_range=(0, 1)
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(fig=None), "fig must be a matplotlib Figure"),
        (dict(update=None), "update must be callable"),
        (dict(values=[]), "values must hold at least one value"),
        (dict(values=[0.1, 0.1]), "values must be distinct"),
        (dict(live_range=(1.0, 0.5)), "live_range must be"),
        (dict(live_range=(0.0, 1.0), log=True), "live_range must be positive"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    fig, update = make()
    args = (
        dict(
            fig=fig,
            update=update,
            name="eta",
            values=[0.1, 0.2],
            live_range=(0.01, 1.0),
        )
        | kwargs
    )
    with pytest.raises(ValueError, match=message):
        plotting.interactive_figure(
            args.pop("fig"),
            args.pop("update"),
            args.pop("name"),
            args.pop("values"),
            **args,
        )


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


def test_an_artist_left_out_of_one_update_is_still_drawn():
    """An artist that an earlier update changed is out of the background for good."""
    fig, _, x, line, title = small_figure()

    def update(eta):
        line.set_ydata(x * eta)
        if eta < 0.5:  # the title changes only below 0.5
            title.set_text("small eta")
            return [line, title]
        return [line]

    box = plotting.interactive_figure(fig, update, "eta", [0.1], live_range=(0.01, 1.0))
    box.redraw(0.9)
    reference, ref_update = make()
    ref_update(0.9)
    reference.axes[0].set_title("small eta")
    buf = io.BytesIO()
    reference.savefig(buf, format="png", dpi=90)
    plt.close(reference)
    assert np.array_equal(
        pixels(parts(box)[3].children[1].value), pixels(buf.getvalue())
    )
