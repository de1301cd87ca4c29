"""An interactive DEIMOS view of the 1D experiment of Fig 1, for teaching in JupyterLab.

:func:`interactive_demo` returns an :class:`InteractiveDemo`:

``.widget``        the ipywidgets (8) view: controls, the plot, a summary of the picks
``.update(**c)``   the same as moving controls (names in :data:`CONTROLS`); returns ``.state``
``.label_batch()`` label the batch (y = f(x) + noise), retrain from scratch, redraw
``.add_point(x)``  label one point at x, retrain, redraw (what a click on the plot does)
``.state``         what the picture shows (see :meth:`TeachingSession.acquire`)
``.figure``        the matplotlib figure (save it with :meth:`deimos_utils.figures.common.Output.savefig`)
``.draw()``        draw the state (every update does, unless built with ``render=False``)

The computation lives in :class:`TeachingSession` (no widgets): the data of
:mod:`deimos_utils.toy.synthetic_1d`, one trained MC-dropout MLP, and the acquisition at given controls.

Why a control other than dropout p updates in well under a second: the trained model is kept
and its predictions on the grid and the validation set are computed once, under
:data:`MAX_MASKS` fixed masks. The J masks of ``mc_predict(..., n_masks=J)`` are the first J of
those (each layer draws its masks row by row from one seeded generator; checked at run time,
with a direct ``mc_predict`` call as the fallback; the slice equals that call up to float32
rounding), so a new J is a slice, and a move of any
control only reruns ``deimos_scores`` / ``deimos_batch`` and the baselines on at most a
thousand points, then redraws. Dropout p changes the model: it retrains (a progress bar shows).

tau^-1 (Appendix E) is ``noise_fraction`` x the mean dropout variance, on the validation set, of
the *reference* model: the first one trained, or the one trained at the last change of p.
Labelling rounds keep the reference, so EI values stay comparable from round to round, and
keep the model before the round, whose EI the plot shows dashed. Every fit starts from the same
initial weights, so a round's changes come from its labels.

The representative sample is the grid or a random part of it; as in the paper, the candidates
are the sample's points, so EI is defined (and plotted) on the sample only (NaN elsewhere).

Clicks on the plot need the ipympl backend (``%matplotlib widget``); without it the plot is a
PNG image and the "add a point at x" box does the same.
"""
from __future__ import annotations

import contextlib
import io
import time
import warnings

import numpy as np
import torch

from . import synthetic_1d
from ..acquisition import ACQUISITIONS, AcquisitionContext, deimos_batch, deimos_scores
from ..uncertainty.calibration import DEFAULT_NOISE_FRACTION, mean_dropout_variance
from ..uncertainty.mc_dropout import FixedMaskDropout, dropout_layers
from ..experiment.models import MLP
from ..acquisition.labels import METHOD_COLORS, METHOD_LABELS
from ..runtime import default_device, derive_seed, make_rng, progress_bar
from ..experiment.training import train_model

__all__ = [
    "CONTROLS",
    "InteractiveDemo",
    "PRESETS",
    "TeachingSession",
    "draw_state",
    "ei_near",
    "fit_model",
    "interactive_demo",
    "ipympl_available",
]

#: quick: fewer training steps, for CI and a first look; cpu / paper: Fig 1's settings
PRESETS = {
    "quick": {"train_steps": 800, "n_grid": 401, "n_masks": 50},
    # Fig 1's settings on generated data (the demo draws its own data at every preset)
    "cpu": {k: synthetic_1d.PRESETS["quick"][k] for k in ("train_steps", "n_grid", "n_masks")},
    "paper": dict(synthetic_1d.PRESETS["paper"]["fallback"]),
}
FIG1_HIDDEN = (256, 256, 256)
FIG1_WEIGHT_DECAY = 5e-4
#: the largest J the controls offer; predictions are computed once under this many masks
MAX_MASKS = 200
MAX_BATCH = 10
#: CPU threads for training and the acquisition: a full batch of ~70 points, or 1,000
#: candidates x 200 masks, gains nothing from a second thread, and on a busy 2-core machine the
#: hand-offs cost several times the work (800 steps of the Fig 1 network: 6.6 s of CPU on one
#: thread, 57 s on two, with other jobs running). The predictions keep torch's setting.
SMALL_WORK_THREADS = 1


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``torch.set_num_threads(n)``; the previous count comes back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

#: control name -> (default, lowest, highest); show_baselines is a bool
CONTROLS = {
    "batch_size": (5, 1, MAX_BATCH),
    "noise_fraction": (DEFAULT_NOISE_FRACTION["regression"], 0.01, 10.0),
    "n_masks": (50, 2, MAX_MASKS),
    "sample_fraction": (1.0, 0.05, 1.0),
    "dropout": (0.2, 0.05, 0.5),
    "show_baselines": (False, False, True),
}


def check_controls(current: dict, changes: dict) -> dict:
    """``current`` updated with ``changes``, every value checked; ValueError names the bad one."""
    unknown = sorted(set(changes) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown control(s) {unknown}; valid names: {', '.join(CONTROLS)}")
    out = dict(current)
    for name, value in changes.items():
        _, lo, hi = CONTROLS[name]
        if name == "show_baselines":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"show_baselines must be True or False, got {value!r}")
            out[name] = bool(value)
            continue
        if name in ("batch_size", "n_masks"):
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{name} must be an integer, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not lo <= value <= hi:
            raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value}")
        out[name] = value
    return out


def fit_model(x, y, *, seed: int, steps: int, p: float = 0.2, hidden=FIG1_HIDDEN,
              lam: float = FIG1_WEIGHT_DECAY, device=None, on_step=None) -> torch.nn.Module:
    """:func:`deimos_utils.toy.synthetic_1d.fit_mlp` with the hidden sizes as a choice and a progress
    callback: ``on_step(done, steps)`` after every training step. With the Fig 1 sizes it trains
    the same network as ``fit_mlp`` (same seeds, same input scaling x / 10), on
    :data:`SMALL_WORK_THREADS` CPU threads."""
    device = device or default_device()
    torch.manual_seed(derive_seed(seed, "init-weights"))
    model = MLP(1, hidden=tuple(hidden), p=p).to(device)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1) / 10.0
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    done = [0]

    def count(module, args, out):
        if module.training:  # one training-mode forward pass per step
            done[0] += 1
            on_step(done[0], steps)

    handle = model.register_forward_hook(count) if on_step is not None else None
    try:
        with torch_threads(SMALL_WORK_THREADS):
            return train_model(model, xt, yt, task="regression", steps=steps,
                               batch_size=len(xt), lr=1e-3, weight_decay=lam, seed=seed)
    finally:
        if handle is not None:
            handle.remove()


def _masks_are_prefixes(model, n_masks: int, max_masks: int, seed: int) -> bool:
    """Whether every dropout layer's J masks are the first J of its ``max_masks`` masks."""
    widths = [m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear)][1:]
    layers = dropout_layers(model)
    if len(widths) != len(layers):
        return False
    for i, (layer, width) in enumerate(zip(layers, widths)):
        probe = FixedMaskDropout(layer.p)  # a fresh layer: the model's mask caches stay put
        few = probe.masks((width,), n_masks, seed, i).clone()
        if not torch.equal(few, probe.masks((width,), max_masks, seed, i)[:n_masks]):
            return False
    return True


class _Predictions:
    """One model's fixed-mask predictions at inputs ``x``, for any J up to ``max_masks``.

    Computed once under ``max_masks`` masks; J masks are the first J columns when the masks
    are nested (:func:`_masks_are_prefixes`), else a direct ``mc_predict`` call (cached)."""

    def __init__(self, model, x, max_masks: int, seed: int):
        self.model, self.x, self.max_masks, self.seed = model, x, max_masks, seed
        self.full = self._mc(max_masks)
        self.cache: dict = {}

    def _mc(self, n_masks):
        return synthetic_1d.mc_grid(self.model, self.x, n_masks, self.seed).astype(np.float64)

    def __call__(self, n_masks: int) -> np.ndarray:
        if n_masks not in self.cache:
            nested = _masks_are_prefixes(self.model, n_masks, self.max_masks, self.seed)
            self.cache[n_masks] = self.full[:, :n_masks] if nested else self._mc(n_masks)
        return self.cache[n_masks]


class TeachingSession:
    """The data, the current model and its predictions, and the acquisition at given controls.

    Parameters: ``seed`` fixes training, masks, labels, the random sample and the random
    baseline; ``data_seed`` picks the random function and the training set (5: Fig 1's), or
    ``data`` gives them (a :class:`~deimos_utils.toy.synthetic_1d.SyntheticData`, e.g. from
    ``synthetic_1d.make_data(sparse=(-5, 5), n_sparse=0)`` for a wider gap); ``train_steps``,
    ``n_grid`` (grid of candidates on [-10, 10]), ``hidden``, ``lam`` and ``dropout`` set the
    model. ``max_masks`` caps J.

    Every fit starts from the same initial weights and minibatch order (those of Fig 1's first
    model), so what changes from one labelling round to the next comes from the data alone.
    """

    def __init__(self, seed: int = 0, *, data_seed: int = 5, data=None, train_steps: int = 800,
                 n_grid: int = 401, hidden=FIG1_HIDDEN, lam: float = FIG1_WEIGHT_DECAY,
                 dropout: float = 0.2, max_masks: int = MAX_MASKS, device=None):
        if isinstance(n_grid, bool) or int(n_grid) != n_grid or n_grid < MAX_BATCH:
            raise ValueError(f"n_grid must be an integer >= {MAX_BATCH}, got {n_grid!r}")
        if isinstance(max_masks, bool) or int(max_masks) != max_masks or max_masks < 2:
            raise ValueError(f"max_masks must be an integer >= 2, got {max_masks!r}")
        self.seed, self.train_steps, self.hidden = int(seed), int(train_steps), tuple(hidden)
        self.lam, self.device, self.max_masks = lam, device, int(max_masks)
        self.data = synthetic_1d.make_data(data_seed) if data is None else data
        self.grid = np.linspace(-10, 10, int(n_grid))
        self.f_grid = self.data.f(self.grid)
        self.x_train, self.y_train = self.data.x_train.copy(), self.data.y_train.copy()
        self.n_initial = len(self.x_train)
        self.dropout = float(dropout)
        self.n_fits = 0
        self._current = self._previous = self._reference = None
        self._pending: list = []  # labelled since the last fit
        self.last_labelled = np.empty(0)  # labelled between the previous fit and the current

    # ------------------------------------------------------------------ model and predictions
    @property
    def model(self):
        """The current model (None before the first :meth:`retrain`)."""
        return None if self._current is None else self._current.model

    @property
    def reference(self):
        """The model whose validation variance sets tau^-1."""
        return None if self._reference is None else self._reference.model

    def retrain(self, dropout: float | None = None, on_step=None) -> None:
        """Train a new model from scratch on the current training set. The old one is kept as
        the "before" of the points labelled since; a new ``dropout`` instead makes the new model
        the reference of tau^-1 (and leaves no comparable "before")."""
        new_p = dropout is not None and float(dropout) != self.dropout
        if dropout is not None:
            self.dropout = float(dropout)
        model = fit_model(self.x_train, self.y_train, seed=derive_seed(self.seed, "fit", 0),
                          steps=self.train_steps, p=self.dropout, hidden=self.hidden, lam=self.lam,
                          device=self.device, on_step=on_step)
        self.n_fits += 1
        current = _Predictions(model, self.grid, self.max_masks, self.seed)
        if self._reference is None or new_p:
            self._reference = _Predictions(model, self.data.x_val, self.max_masks, self.seed)
            self._previous, self.last_labelled = None, np.empty(0)
        else:
            self._previous, self.last_labelled = self._current, np.asarray(self._pending)
        self._current, self._pending = current, []

    def predictions(self, n_masks: int) -> tuple[np.ndarray, np.ndarray]:
        """``(n_grid, J)`` predictions of the current model on the grid and ``(n_val, J)`` of
        the reference model on the validation set, under the J fixed masks of ``mc_predict``."""
        if self._current is None:
            raise RuntimeError("no model yet: call retrain() first")
        n_masks = check_controls({}, {"n_masks": n_masks})["n_masks"]
        if n_masks > self.max_masks:
            raise ValueError(f"n_masks must be at most max_masks = {self.max_masks}, got {n_masks}")
        return self._current(n_masks), self._reference(n_masks)

    def sample_indices(self, fraction: float) -> np.ndarray:
        """Sorted grid indices of the representative sample: all of them at fraction 1, else a
        random ``round(fraction * n_grid)`` of them (at least :data:`MAX_BATCH`)."""
        n_grid = len(self.grid)
        size = max(int(round(float(fraction) * n_grid)), MAX_BATCH)
        if size >= n_grid:
            return np.arange(n_grid)
        rng = make_rng(self.seed, "representative-sample", size)
        return np.sort(rng.choice(n_grid, size, replace=False))

    # ------------------------------------------------------------------------- acquisition
    def acquire(self, controls: dict) -> dict:
        """Everything the picture shows at ``controls`` (see :data:`CONTROLS`).

        Keys: ``grid`` (G,), ``f`` the true function there, ``mean``, ``sd``, ``var`` (G,) over
        the J masks; ``ei`` (G,) DEIMOS EI, NaN off the sample; ``sample`` grid indices;
        ``picked`` (b,) batch inputs in pick order, ``picked_index`` their grid indices,
        ``gains`` (b,) trace reductions;
        ``max_variance`` and ``random`` (b,) inputs the baselines would pick; ``noise``
        (tau^-1), ``mean_dropout_variance``; ``preds`` (G, J); ``x_train``, ``y_train``,
        ``n_labelled`` (points added since the start); ``controls``; ``last_labelled``, the
        inputs labelled just before the current model was trained, and ``ei_previous``, the EI
        of the model before them at the same controls (None when there is no such model).
        """
        c = check_controls({k: v[0] for k, v in CONTROLS.items()}, controls)
        preds, val_preds = self.predictions(c["n_masks"])
        mean_var = mean_dropout_variance(val_preds, "regression")
        noise = c["noise_fraction"] * mean_var
        sample = self.sample_indices(c["sample_fraction"])
        sample_preds = preds[sample]
        ei, ei_previous = np.full(len(self.grid), np.nan), None
        with torch_threads(SMALL_WORK_THREADS):
            ei[sample] = deimos_scores(sample_preds, noise=noise)
            picked, gains = deimos_batch(sample_preds, c["batch_size"], noise=noise)
            if self._previous is not None:
                ei_previous = np.full(len(self.grid), np.nan)
                ei_previous[sample] = deimos_scores(self._previous(c["n_masks"])[sample],
                                                    noise=noise)
        ctx = AcquisitionContext(batch_size=c["batch_size"], task="regression",
                                 rng=make_rng(self.seed, "random-baseline", self.n_fits),
                                 cand_preds=sample_preds)
        baselines = {name: self.grid[sample[ACQUISITIONS[name](ctx)]]
                     for name in ("max_variance", "random")}
        return {
            "grid": self.grid, "f": self.f_grid, "mean": preds.mean(axis=1),
            "sd": preds.std(axis=1, ddof=1), "var": preds.var(axis=1, ddof=1), "ei": ei,
            "sample": sample,
            "picked": self.grid[sample[picked]], "picked_index": sample[picked], "gains": gains,
            **baselines, "noise": noise, "mean_dropout_variance": mean_var, "preds": preds,
            "x_train": self.x_train.copy(), "y_train": self.y_train.copy(),
            "n_labelled": len(self.x_train) - self.n_initial, "controls": c,
            "ei_previous": ei_previous, "last_labelled": self.last_labelled.copy(),
        }

    def label(self, x) -> np.ndarray:
        """Label inputs ``x`` (y = f(x) + Gaussian noise of the data's sd), add them to the
        training set and return their labels (the model is not retrained here)."""
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        if x.ndim != 1 or not np.all(np.isfinite(x)) or np.any(np.abs(x) > 10):
            raise ValueError(f"x must be finite inputs in [-10, 10], got {x}")
        rng = make_rng(self.seed, "labels", len(self.x_train))
        y = self.data.f(x) + rng.normal(0.0, self.data.noise_sd, len(x))
        self.x_train = np.concatenate([self.x_train, x])
        self.y_train = np.concatenate([self.y_train, y])
        self._pending.extend(x.tolist())
        return y


def ei_near(ei: np.ndarray, grid: np.ndarray, x, width: float = 0.5) -> tuple[float, float]:
    """Mean EI at the grid points within ``width`` of any of the inputs ``x`` (NaN entries, off
    the sample, skipped), and that mean divided by the mean EI over the whole sample."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if x.size == 0:
        raise ValueError("x holds no inputs")
    near = np.any(np.abs(grid[:, None] - x[None, :]) <= width, axis=1) & ~np.isnan(ei)
    if not near.any():
        raise ValueError(f"no sample point lies within {width} of x = {x}")
    mean_near = float(ei[near].mean())
    return mean_near, mean_near / float(np.nanmean(ei))


# ------------------------------------------------------------------------------------ figure

def draw_state(fig, state: dict, show_baselines: bool | None = None, clickable: bool = False):
    """Draw ``state`` (from :meth:`TeachingSession.acquire`) on ``fig``: the training data, the
    MC-dropout mean +-1 sd, the EI (right axis), the batch in pick order (darker first) and,
    when ``show_baselines`` (default: the state's control), the picks of max variance and
    random. ``clickable`` only changes the x-axis label. Returns ``(ax, ax_ei)``."""
    import matplotlib.pyplot as plt

    c = state["controls"]
    show = c["show_baselines"] if show_baselines is None else show_baselines
    grid, mean, sd = state["grid"], state["mean"], state["sd"]
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    ax.fill_between(grid, mean - sd, mean + sd, color="#9ecae1", alpha=0.6, lw=0,
                    label="prediction +-1 sd")
    ax.plot(grid, state["f"], "--", color="0.4", lw=1, label="true f(x)")
    ax.plot(grid, mean, color="#08519c", lw=1.5, label="MC-dropout mean")
    n_old = len(state["x_train"]) - state["n_labelled"]
    ax.scatter(state["x_train"][:n_old], state["y_train"][:n_old], s=12, color="k", zorder=3,
               label="training data")
    if state["n_labelled"]:
        ax.scatter(state["x_train"][n_old:], state["y_train"][n_old:], s=28, color="#fcbba1",
                   edgecolor="#a50f15", zorder=3, label="labelled here")
    ax.set_xlim(-10.3, 10.3)
    ax.set_xlabel("x (click to label a point there)" if clickable else "x")
    ax.set_ylabel("y")
    at_bottom = ax.get_xaxis_transform()  # x in data, y in axes fraction
    reds = plt.cm.Reds(np.linspace(0.95, 0.35, len(state["picked"])))
    for k, (x, colour) in enumerate(zip(state["picked"], reds)):
        ax.scatter([x], [0.04], transform=at_bottom, marker="^", s=90, color=colour,
                   edgecolor="k", zorder=5, label="DEIMOS batch (darker first)" if k == 0 else None)
        ax.annotate(str(k + 1), (x, 0.075 + 0.03 * (k % 2)), xycoords=at_bottom, ha="center",
                    fontsize=7)
    if show:
        for level, name, marker in ((0.14, "max_variance", "s"), (0.2, "random", "o")):
            ax.scatter(state[name], np.full(len(state[name]), level), transform=at_bottom,
                       marker=marker, s=40, color=METHOD_COLORS[name], edgecolor="k", zorder=5,
                       label=METHOD_LABELS[name])
    ax_ei = ax.twinx()
    sample = state["sample"]
    ax_ei.plot(grid[sample], state["ei"][sample], color="#d62728", lw=1.2, label="DEIMOS EI")
    if state.get("ei_previous") is not None and len(state["last_labelled"]):
        ax_ei.plot(grid[sample], state["ei_previous"][sample], "--", color="#d62728", lw=0.9,
                   alpha=0.45, label="EI before the last labels")
    if len(sample) < len(grid):
        ax_ei.plot(grid[sample], np.zeros(len(sample)), "|", color="#d62728", ms=5, alpha=0.5,
                   label="representative sample")
    ax_ei.set_ylim(0, None)
    ax_ei.set_ylabel("expected improvement", color="#d62728")
    ax_ei.tick_params(axis="y", colors="#d62728")
    ax.set_title(f"{len(state['x_train'])} training points ({state['n_labelled']} labelled "
                 f"here), J = {c['n_masks']}, p = {c['dropout']:g}, tau^-1 = "
                 f"{state['noise']:.2e} ({c['noise_fraction']:.3g} x mean dropout var.), "
                 f"sample {len(sample)}/{len(grid)}", fontsize=9)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax_ei.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.07, right=0.92, top=0.93, bottom=0.23)  # tight_layout: too slow
    return ax, ax_ei


def summary_html(state: dict) -> str:
    """The picks and gains as a short HTML table (what the widget shows under the plot)."""
    fmt = lambda v: ", ".join(f"{x:.2f}" for x in v)  # noqa: E731
    best = state["picked_index"][0]
    own = state["var"][best] + state["noise"]
    rows = [
        ("DEIMOS batch, x in pick order", fmt(state["picked"])),
        ("gains (trace reduction of V)", ", ".join(f"{g:.3g}" for g in state["gains"])
         + f"; sum {np.sum(state['gains']):.3g}"),
        ("EI of the first pick", f"{state['gains'][0]:.3g} = its own variance + tau^-1 "
         f"({own:.3g}) + what it tells about the other points ({state['gains'][0] - own:.3g})"),
        ("max variance would pick", fmt(state["max_variance"])),
        ("random would pick", fmt(state["random"])),
    ]
    if state.get("ei_previous") is not None and len(state["last_labelled"]):
        before = ei_near(state["ei_previous"], state["grid"], state["last_labelled"])
        now = ei_near(state["ei"], state["grid"], state["last_labelled"])
        rows.append((f"EI within 0.5 of the {len(state['last_labelled'])} points labelled last",
                     f"{before[0]:.3g} before, {now[0]:.3g} now; relative to the mean EI "
                     f"{before[1]:.2f} before, {now[1]:.2f} now"))
    seconds = state.get("seconds")
    if seconds:
        rows.append(("last update", f"{seconds['total']:.2f} s (acquisition "
                     f"{seconds['acquire']:.2f} s, drawing {seconds['draw']:.2f} s)"))
    body = "".join(f"<tr><td style='padding-right:1em'>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table style='font-size:90%'>{body}</table>"


def ipympl_available() -> bool:
    """Whether ipympl is installed (then ``%matplotlib widget`` makes the plot clickable)."""
    import importlib.util

    return importlib.util.find_spec("ipympl") is not None


def _ipympl_active() -> bool:
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend == "widget"


# ------------------------------------------------------------------------------------ widget

class InteractiveDemo:
    """The widget over a trained :class:`TeachingSession` (build it with :func:`interactive_demo`).

    ``controls``: starting values (see :data:`CONTROLS`); ``clicks``: None (default) uses
    clicks on the plot when the ipympl backend is active, True asks for them (a warning and
    the PNG view when ipympl is not active), False never. ``render=False`` leaves the plot
    alone on updates (to drive the demo from code without paying for drawing; :meth:`draw`
    draws on demand).
    """

    def __init__(self, session: TeachingSession, controls: dict | None = None,
                 clicks: bool | None = None, render: bool = True):
        import ipywidgets as widgets

        if session.model is None:
            raise ValueError("session has no trained model: call session.retrain() first")
        defaults = {k: v[0] for k, v in CONTROLS.items()}
        self.session = session
        self.controls = check_controls(defaults, {"dropout": session.dropout, **(controls or {})})
        if self.controls["dropout"] != session.dropout:
            raise ValueError("controls['dropout'] must equal the session's dropout; change it "
                             "with update(dropout=...)")
        self.state: dict = {}
        self.render = bool(render)
        self._syncing = False
        self.clickable = _ipympl_active() if clicks is None else bool(clicks)
        if self.clickable and not _ipympl_active():
            warnings.warn("clicks on the plot need the ipympl backend (pip install ipympl, then "
                          "%matplotlib widget); showing a static image instead", stacklevel=2)
            self.clickable = False
        self._axes = ()
        self.figure, plot_view = self._make_figure(widgets)
        self.inputs = self._make_inputs(widgets)
        self.widget = self._layout(widgets, plot_view)
        self._refresh()

    # ------------------------------------------------------------------------- public API
    def update(self, **controls) -> dict:
        """Set controls (the same as moving them) and redraw; returns :attr:`state`. A new
        ``dropout`` retrains the model from scratch (with a progress bar)."""
        old, new = self.controls, check_controls(self.controls, controls)
        if new["n_masks"] > self.session.max_masks:
            raise ValueError(f"n_masks must be at most {self.session.max_masks}, "
                             f"got {new['n_masks']}")
        try:
            self._set_inputs(new)
            self.controls = new
            if new["dropout"] != old["dropout"]:
                self._retrain(dropout=new["dropout"])
            self._refresh()
        except Exception:
            self.controls = old
            self._set_inputs(old)
            raise
        return self.state

    def label_batch(self) -> np.ndarray:
        """Label the current batch, add it to the training set, retrain from scratch and redraw.
        Returns the batch's inputs (in pick order)."""
        x_new = np.array(self.state["picked"])
        self.session.label(x_new)
        self._retrain()
        self._refresh()
        return x_new

    def add_point(self, x: float) -> float:
        """Label one point at ``x`` in [-10, 10], add it, retrain from scratch and redraw.
        Returns its label y."""
        y = self.session.label([float(x)])
        self._retrain()
        self._refresh()
        return float(y[0])

    # ---------------------------------------------------------------------------- building
    def _make_figure(self, widgets):
        if self.clickable:
            import matplotlib.pyplot as plt

            with plt.ioff():
                fig = plt.figure(figsize=(9, 4.6))
            fig.canvas.header_visible = False
            fig.canvas.mpl_connect("button_press_event", self._on_click)
            return fig, fig.canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 4.6))
        FigureCanvasAgg(fig)
        return fig, widgets.Image(format="png", layout=widgets.Layout(width="900px"))

    def _make_inputs(self, widgets) -> dict:
        c = self.controls
        common = dict(style={"description_width": "initial"}, layout=widgets.Layout(width="300px"),
                      continuous_update=False)
        inputs = {
            "batch_size": widgets.IntSlider(value=c["batch_size"], min=1, max=MAX_BATCH,
                                            description="batch size b", **common),
            "noise_fraction": widgets.FloatLogSlider(
                value=c["noise_fraction"], base=10, min=-2, max=1, step=0.05,
                readout_format=".3g", description="tau^-1 / mean dropout var", **common),
            "n_masks": widgets.IntSlider(value=c["n_masks"], min=2, max=self.session.max_masks,
                                         description="masks J", **common),
            "sample_fraction": widgets.FloatSlider(value=c["sample_fraction"], min=0.05, max=1.0,
                                                   step=0.05, description="sample (share of grid)",
                                                   **common),
            "dropout": widgets.FloatSlider(value=c["dropout"], min=0.05, max=0.5, step=0.05,
                                           description="dropout p (retrains)", **common),
            "show_baselines": widgets.Checkbox(value=c["show_baselines"],
                                               description="show max variance and random"),
        }
        for name, box in inputs.items():
            box.observe(lambda change, name=name: self._on_input(name, change["new"]),
                        names="value")
        return inputs

    def _layout(self, widgets, plot_view):
        i, width = self.inputs, lambda w: widgets.Layout(width=w)  # noqa: E731
        self._plot_view = plot_view
        self._label_button = widgets.Button(description="Label the batch and retrain",
                                            button_style="primary", layout=width("260px"))
        self._label_button.on_click(lambda _: self._guarded(self.label_batch))
        self._x_box = widgets.BoundedFloatText(value=0.0, min=-10, max=10, step=0.1,
                                               description="x", layout=width("140px"))
        self._add_button = widgets.Button(description="Add a labelled point at x")
        self._add_button.on_click(lambda _: self._guarded(self.add_point, self._x_box.value))
        self._progress = widgets.IntProgress(value=0, min=0, max=self.session.train_steps,
                                             description="training",
                                             layout=widgets.Layout(visibility="hidden"))
        self._status, self._summary = widgets.HTML(), widgets.HTML()
        rows = [widgets.HBox([i["batch_size"], i["noise_fraction"], i["n_masks"]]),
                widgets.HBox([i["sample_fraction"], i["dropout"], i["show_baselines"]]),
                widgets.HBox([self._label_button, self._x_box, self._add_button, self._progress]),
                self._status, plot_view, self._summary]
        return widgets.VBox(rows)

    # ------------------------------------------------------------------------- behaviour
    def _set_inputs(self, controls: dict) -> None:
        self._syncing = True
        try:
            for name, value in controls.items():
                if self.inputs[name].value != value:
                    self.inputs[name].value = value
        finally:
            self._syncing = False

    def _on_input(self, name, value) -> None:
        if not self._syncing:
            self._guarded(self.update, **{name: value})

    def _on_click(self, event) -> None:
        """A left click inside the plot adds a labelled point there (not in zoom / pan mode)."""
        toolbar = getattr(self.figure.canvas, "toolbar", None)
        if getattr(toolbar, "mode", "") or getattr(event, "button", 1) != 1:
            return
        if event.inaxes is None or event.inaxes not in self._axes or event.xdata is None:
            return
        x = float(np.clip(event.xdata, -10.0, 10.0))
        self._x_box.value = round(x, 2)
        self._guarded(self.add_point, x)

    def _guarded(self, fn, *args, **kwargs):
        """Run a callback; show a ValueError in the status line (a callback has no cell)."""
        try:
            fn(*args, **kwargs)
        except ValueError as err:
            self._status.value = f"<span style='color:#a50f15'>{err}</span>"
            self._set_inputs(self.controls)

    def _retrain(self, dropout: float | None = None) -> None:
        bar, buttons = self._progress, (self._label_button, self._add_button)
        steps = self.session.train_steps
        every = max(1, steps // 100)
        bar.max, bar.value, bar.layout.visibility = steps, 0, "visible"
        self._status.value = f"retraining from scratch on {len(self.session.x_train)} points ..."
        for b in buttons:
            b.disabled = True

        def on_step(done, total):
            if done % every == 0 or done == total:
                bar.value = done

        try:
            self.session.retrain(dropout=dropout, on_step=on_step)
        finally:
            bar.layout.visibility = "hidden"
            for b in buttons:
                b.disabled = False

    def _refresh(self) -> None:
        """Acquire at the current controls and redraw: the whole cost of moving a control."""
        t0 = time.perf_counter()
        state = self.session.acquire(self.controls)
        self.state = state
        t1 = time.perf_counter()
        if self.render:
            self.draw()
        t2 = time.perf_counter()
        state["seconds"] = {"acquire": t1 - t0, "draw": t2 - t1, "total": t2 - t0}
        self._summary.value = summary_html(state)
        self._status.value = ""

    def draw(self):
        """Draw :attr:`state` on :attr:`figure` and show it in the widget; returns the figure."""
        self._axes = draw_state(self.figure, self.state, clickable=self.clickable)
        if self.clickable:
            self.figure.canvas.draw_idle()
        else:
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi=100)
            self._plot_view.value = buf.getvalue()
        return self.figure


def interactive_demo(seed: int = 0, *, scale: str = "quick", data_seed: int = 5,
                     controls: dict | None = None, clicks: bool | None = None,
                     train_steps: int | None = None, n_grid: int | None = None,
                     hidden=FIG1_HIDDEN, device=None, progress: bool = True) -> InteractiveDemo:
    """Train the Fig 1 model on the 1D data and return the interactive view over it.

    ``scale``: a key of :data:`PRESETS` (``train_steps``, ``n_grid`` and the starting J; the
    ``train_steps`` / ``n_grid`` arguments override it). ``seed`` / ``data_seed``: see
    :class:`TeachingSession`. ``controls``: starting values, e.g. ``{"batch_size": 3}``.
    ``clicks``: see :class:`InteractiveDemo`. ``hidden``: the MLP's hidden sizes (tests train
    tiny ones). ``progress``: a progress bar over the first training.
    """
    if scale not in PRESETS:
        raise ValueError(f"scale must be one of {', '.join(PRESETS)}, got {scale!r}")
    preset = PRESETS[scale]
    start = {"n_masks": preset["n_masks"], **(controls or {})}
    start = check_controls({k: v[0] for k, v in CONTROLS.items()}, start)
    session = TeachingSession(seed, data_seed=data_seed, n_grid=n_grid or preset["n_grid"],
                              train_steps=train_steps or preset["train_steps"], hidden=hidden,
                              dropout=start["dropout"], device=device)
    bar = progress_bar(total=session.train_steps, desc="training", unit="step",
                       disable=not progress)
    try:
        session.retrain(on_step=lambda done, total: bar.update(1))
    finally:
        bar.close()
    return InteractiveDemo(session, start, clicks=clicks)
