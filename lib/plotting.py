"""One figure style for the book, and a slider over precomputed figures that works in the
static HTML with no kernel (the frames are PNGs inside widgets linked in the browser)."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "font.size": 10,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.hashsalt": "gbl2019",  # deterministic ids if anyone saves SVG
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once, in a chapter's first code cell)."""
    matplotlib.rcParams.update(STYLE)


def mode_colors(k: int) -> list[str]:
    """One colour per mode, the same in every chapter (cycles after 8 modes)."""
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


def png_bytes(fig, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes and close it (frames must not also display)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def frame_slider(frames, labels, description: str = "frame"):
    """A slider over precomputed frames, linked in the browser: works with no kernel.

    Parameters
    ----------
    frames : list of matplotlib figures (closed after rendering) or of PNG bytes
    labels : list of str, one per frame, shown as the slider's readout
    description : the slider's label (e.g. "delta")

    Returns
    -------
    ipywidgets.VBox holding a SelectionSlider and a Stack of Image widgets. The slider's
    `index` is `jslink`-ed to the stack's `selected_index`, so the link lives in the
    page's JavaScript: the static HTML (with the saved widget state) switches frames
    without a Python kernel.
    """
    import ipywidgets as widgets

    frames = list(frames)
    labels = [str(x) for x in labels]
    if len(frames) == 0:
        raise ValueError("frames must contain at least one figure")
    if len(labels) != len(frames):
        raise ValueError(f"labels must have one entry per frame ({len(frames)}), got {len(labels)}")
    if len(set(labels)) != len(labels):
        raise ValueError("labels must be distinct (they are the slider's options)")
    pngs = [f if isinstance(f, (bytes, bytearray)) else png_bytes(f) for f in frames]
    images = [widgets.Image(value=bytes(png), format="png") for png in pngs]
    stack = widgets.Stack(images, selected_index=0)
    slider = widgets.SelectionSlider(options=labels, index=0, description=description,
                                     continuous_update=True, layout=widgets.Layout(width="60%"))
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])
