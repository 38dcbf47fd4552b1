"""One figure style for the book, and interactive figures that work two ways.

In the static HTML with no kernel (precomputed PNG frames behind a slider linked in the
browser), and in a live kernel, where a second slider recomputes the figure for any
value in its range.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

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
    """Apply the book's matplotlib style (call once, in a chapter's first code cell).

    Updates ``matplotlib.rcParams`` with `STYLE`: figure size and resolution, a light
    grid without top and right spines, the colour-blind-safe `PALETTE` as the colour
    cycle, and small fonts. Takes no argument and returns nothing; figures created
    after the call use the style.
    """
    matplotlib.rcParams.update(STYLE)


def glue(name: str, fig) -> None:
    """Show a figure in the chapter and store it under `name` for another page to paste.

    The same output as `myst_nb.glue(name, fig)` (myst-nb's glue protocol: the figure's
    PNG with a ``scrapbook`` metadata entry naming it), without importing myst_nb, which
    loads nbformat into the chapter's kernel for these few lines. The figure is shown,
    not hidden: a page that pastes it (``{glue} name`` with ``:doc:``) points at the
    image file the chapter's page writes, which exists only if the chapter displays
    these bytes. Use it instead of ``plt.show()`` in the figure's cell.

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
    bundle = {
        "image/png": base64.b64encode(png).decode("ascii"),
        "text/plain": f"<Figure {name}>",
    }
    display(bundle, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": ""}})


def mode_colors(k: int) -> list[str]:
    """One colour per mode, the same in every chapter (cycles after 8 modes).

    Mode i gets ``PALETTE[i % 8]``, so a mode keeps its colour from figure to figure.

    Parameters
    ----------
    k : int
        Number of modes.

    Returns
    -------
    list of k str
        Hex colours.
    """
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


def png_bytes(fig, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes and close it (frames must not also display).

    Used for the precomputed frames of `interactive_figure` and by `glue`.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Closed after rendering: a frame must not also display in the notebook.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    bytes
        The PNG file, without "Software" metadata (so the bytes do not depend on the
        matplotlib version).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


class _PersistentRenderer:
    """Renders one long-lived figure to PNG bytes, in full or by redrawing what changed.

    A live slider redraws one figure many times. Building a new figure each time spends
    most of its time on work that does not change between values: layout, ticks, tick
    labels, legend (about 0.2 s per figure here). This keeps one figure, fixes its
    layout after the first render, and after that redraws only the artists that `update`
    reports as changed, on top of a saved background ("blitting", as in
    matplotlib.animation). The background is redrawn only when an axis' limits move.
    """

    def __init__(self, fig, dpi: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        plt.close(fig)  # off pyplot's list, so the cell's end does not also display it
        fig.set_dpi(dpi)  # the live picture has the frames' resolution
        self.fig = fig
        self.dpi = dpi
        self.canvas = FigureCanvasAgg(fig)
        self._background = None
        self._limits = None
        self._animated = []  # every artist any update has changed, drawn on each update

    def full(self) -> bytes:
        """The whole figure as PNG (the layout is computed once, then frozen)."""
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=self.dpi, metadata={"Software": None})
        if self.fig.get_layout_engine() is not None:
            self.fig.set_layout_engine("none")  # frames and live views share one layout
        return buf.getvalue()

    def _view_limits(self) -> tuple:
        return tuple(tuple(ax.viewLim.bounds) for ax in self.fig.axes)

    def draw_background(self, artists: Sequence) -> None:
        """Draw and keep everything but `artists` (the ones updates change).

        Called once when the widget is built, so that even the first live update only
        redraws what changed, and again whenever an axis limit moves.
        """
        for artist in artists:
            artist.set_animated(True)  # left out of the background
            if artist not in self._animated:
                self._animated.append(artist)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self._limits = self._view_limits()

    def changed(self, artists: Sequence) -> bytes:
        """PNG after `artists` changed: background reused unless an axis limit moved."""
        from PIL import Image

        limits = self._view_limits()
        if (
            self._background is None
            or limits != self._limits
            or any(a not in self._animated for a in artists)
        ):
            self.draw_background(artists)
        else:
            self.canvas.restore_region(self._background)
        # All of them, not only this update's: an artist changed by an earlier update is
        # no longer in the background either.
        for artist in self._animated:
            self.fig.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="png")
        return buf.getvalue()


def _changed_artists(result, fig) -> list:
    """Check what `update` returned: artists of `fig` (the ones it changed)."""
    from matplotlib.artist import Artist

    artists = list(result) if result is not None else []
    if not artists or not all(isinstance(a, Artist) for a in artists):
        raise ValueError(
            "update must return the list of artists it changed "
            f"(matplotlib artists of the figure), got {result!r}"
        )
    if any(a.get_figure(root=True) is not fig for a in artists):
        raise ValueError("update returned an artist that is not in the figure")
    return artists


def interactive_figure(
    fig,
    update: Callable,
    name: str,
    values: Sequence[float],
    *,
    live_range: tuple[float, float],
    log: bool = False,
    description: str | None = None,
    dpi: int = 90,
):
    """A figure with a slider over `name`: precomputed frames, and live recomputation.

    Two sliders drive one picture. The first steps through frames precomputed at
    `values`; it is `jsdlink`-ed in the browser, so it works in the static HTML with no
    kernel. The second ("live") covers the whole `live_range`; in a running kernel each
    release of it calls `update` and shows the new picture (in the static HTML it cannot
    recompute, and its label says so).

    The chapter builds the figure once, with every artist that depends on the value,
    and `update` changes those artists in place (``line.set_data``, ``text.set_text``,
    ``ax.set_xlim``...). Live updates then redraw only the changed artists over a saved
    background, which is what keeps one update within the book's 0.2 s budget.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, built once. It is taken over (closed in pyplot, so the cell does
        not display it a second time) and must not be shown elsewhere.
    update : callable
        ``update(value) -> list of artists``: sets the figure to `value` and returns
        every artist of `fig` it changed. Changing axis limits is allowed (the
        background is then redrawn); changing another artist without returning it is
        not (it would keep its old look in live updates). Live updates draw the
        changed artists over the static ones; where they overlap a spine or a legend,
        the live picture differs from a frame by those few pixels.
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
        Resolution of every frame and of the live picture.

    Returns
    -------
    ipywidgets.VBox
        ``[precomputed slider, live slider row, Stack of len(values) + 1 images]``; the
        last image holds the live picture. ``.redraw(value) -> seconds`` updates the
        live picture from Python (what the live slider calls; the benchmark times it);
        ``.frame_link`` is the browser-side link from the frame slider to the stack.
    """
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not callable(update):
        raise ValueError(f"update must be callable, got {type(update).__name__}")
    values = [float(v) for v in values]
    if len(values) == 0:
        raise ValueError("values must hold at least one value")
    if len(set(values)) != len(values):
        raise ValueError("values must be distinct (they are the slider's options)")
    low, high = (float(x) for x in live_range)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"live_range must be (low, high) with low < high, got {live_range}"
        )
    if log and low <= 0:
        raise ValueError(f"live_range must be positive with log=True, got {live_range}")
    labels = [f"{v:g}" for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError("values must stay distinct when printed with %g")

    renderer = _PersistentRenderer(fig, dpi)
    images = []
    for v in values:
        artists = _changed_artists(update(v), fig)
        images.append(widgets.Image(value=renderer.full(), format="png"))
    renderer.draw_background(artists)
    live_image = widgets.Image(value=images[0].value, format="png")
    stack = widgets.Stack([*images, live_image], selected_index=0)
    frames = widgets.SelectionSlider(
        options=labels,
        index=0,
        description=description or name,
        continuous_update=True,
        layout=widgets.Layout(width="60%"),
    )
    # One-way: showing the live frame (index len(values)) must not move this slider.
    frame_link = widgets.jsdlink((frames, "index"), (stack, "selected_index"))

    slider_type = widgets.FloatLogSlider if log else widgets.FloatSlider
    bounds = (
        dict(min=math.log10(low), max=math.log10(high), base=10)
        if log
        else dict(min=low, max=high)
    )
    live = slider_type(
        value=values[0] if low <= values[0] <= high else low,
        description=f"live {name}",
        continuous_update=False,
        readout_format=".3g",
        layout=widgets.Layout(width="60%"),
        step=(math.log10(high / low) if log else high - low) / 1000,
        **bounds,
    )
    status = widgets.Label("recomputes in a running kernel")

    def redraw(value: float) -> float:
        start = time.perf_counter()
        artists = _changed_artists(update(float(value)), fig)
        live_image.value = renderer.changed(artists)
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


def fraction_learned(
    ax,
    s,
    fractions,
    transitions=None,
    colors=None,
    labels=None,
    linestyles=None,
    transition_style="--",
    xlabel=r"rescaled time $t/\delta$",
) -> None:
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
