"""One figure style for the book, and interactive figures that work two ways: in the static
HTML with no kernel (precomputed PNG frames behind a slider linked in the browser), and in a
live kernel, where a second slider recomputes the figure for any value in its range."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence

import math

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


def glue(name: str, fig) -> None:
    """Show a figure in the chapter and store it under `name` for another page to paste.

    The same output as `myst_nb.glue(name, fig)` (myst-nb's glue protocol: the figure's
    PNG with a ``scrapbook`` metadata entry naming it), without importing myst_nb, which
    loads nbformat into the chapter's kernel for these few lines. The figure is shown, not
    hidden: a page that pastes it (``{glue} name`` with ``:doc:``) points at the image file
    the chapter's page writes, which exists only if the chapter displays these bytes. Use
    it instead of ``plt.show()`` in the figure's cell.

    Parameters
    ----------
    name : str
        Key of the glued output, unique in the book (e.g. ``"key-staircase"``).
    fig : matplotlib.figure.Figure
        Rendered to PNG at the book's resolution, then closed.
    """
    import base64

    from IPython.display import display

    if not (isinstance(name, str) and name):
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    png = png_bytes(fig, dpi=matplotlib.rcParams["savefig.dpi"])
    bundle = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<Figure {name}>"}
    display(bundle, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": ""}})


def mode_colors(k: int) -> list[str]:
    """One colour per mode, the same in every chapter (cycles after 8 modes)."""
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


def png_bytes(fig, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes and close it (frames must not also display)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def interactive_figure(draw: Callable, name: str, values: Sequence[float], *,
                       live_range: tuple[float, float], log: bool = False,
                       description: str | None = None, dpi: int = 90):
    """A figure with a slider over `name`: precomputed frames, and live recomputation.

    Two sliders drive one picture. The first steps through figures precomputed at
    `values`; it is `jslink`-ed in the browser, so it works in the static HTML with no
    kernel. The second ("live") covers the whole `live_range`; in a running kernel each
    release of it calls `draw` again and shows the new figure (in the static HTML it
    cannot recompute, and says so in its label).

    Parameters
    ----------
    draw : callable
        ``draw(value) -> matplotlib.figure.Figure``; called once per precomputed value
        and once per live update. It must not display the figure (it is closed here).
    name : str
        The parameter's name in the book's notation (e.g. ``"eta"``), used in labels.
    values : sequence of float, length >= 1, distinct
        The values precomputed for the static page.
    live_range : (float, float)
        Range of the live slider, ``low < high``; with `log`, both must be > 0.
    log : bool
        Use a logarithmic live slider (for scales such as ``w0``).
    description : str, optional
        Label of the precomputed slider; defaults to `name`.
    dpi : int
        Resolution of every frame.

    Returns
    -------
    ipywidgets.VBox
        ``[precomputed slider, live slider row, Stack of len(values) + 1 images]``; the
        last image holds the live figure. ``.redraw(value) -> seconds`` recomputes the
        live frame from Python (what the live slider calls; benchmarks time it);
        ``.frame_link`` is the browser-side link from the frame slider to the stack.
    """
    import ipywidgets as widgets

    values = [float(v) for v in values]
    if not callable(draw):
        raise ValueError(f"draw must be callable, got {type(draw).__name__}")
    if len(values) == 0:
        raise ValueError("values must hold at least one value")
    if len(set(values)) != len(values):
        raise ValueError("values must be distinct (they are the slider's options)")
    low, high = (float(x) for x in live_range)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"live_range must be (low, high) with low < high, got {live_range}")
    if log and low <= 0:
        raise ValueError(f"live_range must be positive with log=True, got {live_range}")

    labels = [f"{v:g}" for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError("values must stay distinct when printed with %g")
    images = [widgets.Image(value=png_bytes(draw(v), dpi=dpi), format="png") for v in values]
    live_image = widgets.Image(value=images[0].value, format="png")
    stack = widgets.Stack([*images, live_image], selected_index=0)
    frames = widgets.SelectionSlider(options=labels, index=0,
                                     description=description or name,
                                     continuous_update=True,
                                     layout=widgets.Layout(width="60%"))
    # One-way: showing the live frame (index len(values)) must not move this slider.
    frame_link = widgets.jsdlink((frames, "index"), (stack, "selected_index"))

    slider_type = widgets.FloatLogSlider if log else widgets.FloatSlider
    bounds = (dict(min=math.log10(low), max=math.log10(high), base=10) if log
              else dict(min=low, max=high))
    live = slider_type(value=values[0] if low <= values[0] <= high else low,
                       description=f"live {name}", continuous_update=False,
                       readout_format=".3g", layout=widgets.Layout(width="60%"),
                       step=(math.log10(high / low) if log else high - low) / 1000,
                       **bounds)
    status = widgets.Label("recomputes in a running kernel")

    def redraw(value: float) -> float:
        start = time.perf_counter()
        live_image.value = png_bytes(draw(float(value)), dpi=dpi)
        stack.selected_index = len(values)
        seconds = time.perf_counter() - start
        status.value = f"{name} = {float(value):.3g}: recomputed in {seconds:.2f} s"
        return seconds

    live.observe(lambda change: redraw(change["new"]), names="value")
    box = widgets.VBox([frames, widgets.HBox([live, status]), stack])
    box.add_class("interactive-figure")
    box.redraw = redraw
    box.frame_link = frame_link
    return box


def fraction_learned(ax, s, fractions, transitions=None, colors=None, labels=None,
                     linestyles=None, transition_style="--",
                     xlabel=r"rescaled time $t/\delta$") -> None:
    """Draw each mode's learned fraction against rescaled time, with its T_i marked.

    The book's recurring figure: w_i / (sigma_i / lam_i) against t / delta, one curve
    per mode, and a vertical line at each mode's transition time T_i
    (`lib.theory.transition_time_rescaled`).

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    s : (T,) array
        Rescaled times (or iterations) t / delta.
    fractions : (T, k) array
        Learned fraction of each mode at those times.
    transitions : (k,) array, optional
        Transition times T_i, drawn as vertical lines in the mode's colour.
    colors : sequence of k colours, optional
        Default `mode_colors(k)`.
    labels : sequence of k strings, optional
        Legend labels; default "mode i".
    linestyles : sequence of k line styles, optional
        Default solid.
    transition_style : str
        Line style of the T_i lines.
    xlabel : str
        Label of the x axis.

    Returns
    -------
    None
    """
    import numpy as np  # here, not at the top: the rest of this module does not need it

    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 2 or fractions.shape[0] != np.size(s):
        raise ValueError(
            f"fractions must have shape (len(s), k) = ({np.size(s)}, k), "
            f"got {fractions.shape}"
        )
    k = fractions.shape[1]
    colors = mode_colors(k) if colors is None else list(colors)
    for i in range(k):
        ax.plot(
            s,
            fractions[:, i],
            color=colors[i],
            ls="-" if linestyles is None else linestyles[i],
            label=f"mode {i + 1}" if labels is None else labels[i],
        )
        if transitions is not None:
            ax.axvline(transitions[i], color=colors[i], ls=transition_style, lw=0.8)
    ax.set_xlabel(xlabel)
