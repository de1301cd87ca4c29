"""The 1D synthetic regression of section 5.1 and Fig 1 (Appendix D).

Two sources of data. ``"generated"``: a random fully connected network [32, 32] with
zero-mean Gaussian weights and biases generates y = f(x) + Gaussian noise on x in [-10, 10],
with a training set deliberately sparse in part of the range. ``"authors"``: the authors' own
1D data (:func:`deimos_utils.data.authors.load_authors_1d`: 100 training points mostly outside
[-2, 2], a pool of 201 labelled candidates, a noiseless test grid), fit with their model
(:data:`AUTHORS_MODEL`). An MC-dropout MLP [256, 256, 256] (p = 0.2, lambda = 5e-4) is fit,
DEIMOS scores the candidates, picks a batch of 5, those are labelled, and the model is
retrained from scratch. :func:`run_preset` runs a preset (:data:`PRESETS`), falling back to
generated data, with a message, when the authors' arrays are absent; :func:`plot_fig1` and
:func:`plot_beside_authors` draw Fig 1 and our EI beside the authors' published one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..acquisition import deimos_batch, deimos_scores
from ..uncertainty.calibration import DEFAULT_NOISE_FRACTION, mean_dropout_variance, regression_noise
from ..uncertainty.mc_dropout import mc_predict
from ..experiment.models import MLP, keras_init_
from ..runtime import default_device, derive_seed, make_rng
from ..experiment.training import evaluate, train_model

#: the authors' 1D model (AUTHORS.md): 3 x (dense 256 ReLU, dropout 0.2), dense 1; L2
#: lambda = 5e-4 on every layer's weights; Adam, 300 epochs of batches of 32; Keras'
#: initialisation; raw inputs; tau^-1 = 0.15 x the mean MC-dropout variance on the pool
AUTHORS_MODEL = {"epochs": 300, "train_batch_size": 32, "p": 0.2, "lam": 5e-4, "noise_fraction": 0.15}

#: settings per scale preset. quick: generated data (the paper gives the architecture, p,
#: lambda and b = 5 only); cpu and paper: the authors' data and model (a few seconds on a
#: CPU, so cpu = paper), with ``fallback`` (generated data) when their arrays are absent
PRESETS = {
    "quick": {"data": "generated", "train_steps": 1500, "n_grid": 401, "n_masks": 50},
    "cpu": {"data": "authors", "n_masks": 50, **AUTHORS_MODEL,
            "fallback": {"train_steps": 4000, "n_grid": 1001, "n_masks": 50}},
    "paper": {"data": "authors", "n_masks": 50, **AUTHORS_MODEL,
              "fallback": {"train_steps": 4000, "n_grid": 1001, "n_masks": 50}},
}
#: where the training data are sparse: generated data, the authors' data
SPARSE = {"generated": (-2.5, 2.5), "authors": (-2.0, 2.0)}


@dataclass
class RandomNetwork:
    """y = f(x): a tanh network 1 -> 32 -> 32 -> 1 with N(0, sd^2) weights and biases."""

    weights: list = field(default_factory=list)
    biases: list = field(default_factory=list)

    @classmethod
    def draw(cls, rng: np.random.Generator, hidden=(32, 32), input_scale=0.6, bias_scale=3.0,
             gain=2.5):
        """Weights ~ N(0, input_scale^2) into the first layer with biases ~ N(0, bias_scale^2),
        so that the units switch at different places of [-10, 10]; later layers ~ N(0, gain^2 /
        fan_in) with N(0, 0.5^2) biases."""
        sizes = [1, *hidden, 1]
        weights, biases = [], []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            sd = input_scale if i == 0 else gain / np.sqrt(a)
            weights.append(rng.normal(0.0, sd, size=(a, b)))
            biases.append(rng.normal(0.0, bias_scale if i == 0 else 0.5, size=b))
        return cls(weights, biases)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float64).reshape(-1, 1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.tanh(h)
        return h[:, 0]


@dataclass
class SyntheticData:
    f: RandomNetwork
    noise_sd: float
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def make_data(seed: int = 5, n_dense: int = 60, n_sparse: int = 3, sparse=(-2.5, 2.5),
              noise_sd: float = 0.1, n_test: int = 1000) -> SyntheticData:
    """Training data dense outside ``sparse`` and with only ``n_sparse`` points inside it."""
    rng = make_rng(seed, "synthetic-1d")
    f = RandomNetwork.draw(rng)
    lo, hi = sparse
    outside = np.concatenate([rng.uniform(-10, lo, n_dense // 2), rng.uniform(hi, 10, n_dense // 2)])
    x_train = np.sort(np.concatenate([outside, rng.uniform(lo, hi, n_sparse)]))
    x_test = rng.uniform(-10, 10, n_test)
    x_val = rng.uniform(-10, 10, 50)
    noisy = lambda x: f(x) + rng.normal(0, noise_sd, len(x))  # noqa: E731
    return SyntheticData(f, noise_sd, x_train, noisy(x_train), x_test, noisy(x_test), x_val,
                         noisy(x_val))


def fit_mlp(x, y, *, seed: int, steps: int, p: float = 0.2, lam: float = 5e-4,
            device=None) -> torch.nn.Module:
    """The MC-dropout MLP [256, 256, 256] of Appendix D, trained from scratch on (x, y)."""
    device = device or default_device()
    torch.manual_seed(derive_seed(seed, "init-weights"))
    model = MLP(1, hidden=(256, 256, 256), p=p).to(device)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1) / 10.0
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    return train_model(model, xt, yt, task="regression", steps=steps, batch_size=len(xt),
                       lr=1e-3, weight_decay=lam, seed=seed)


def mc_grid(model, x, n_masks: int, seed: int) -> np.ndarray:
    """(len(x), J) fixed-mask predictions at inputs ``x``."""
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1) / 10.0
    return mc_predict(model, xt, n_masks=n_masks, seed=seed, task="regression").cpu().numpy()


def heldout_mse(model, data: SyntheticData) -> float:
    xt = torch.as_tensor(data.x_test, dtype=torch.float32).reshape(-1, 1) / 10.0
    return evaluate(model, xt, data.y_test, "regression")["test_mse"]


def run(seed: int = 5, batch_size: int = 5, train_steps: int = 1500, n_grid: int = 401,
        n_masks: int = 50, noise_fraction: float = DEFAULT_NOISE_FRACTION["regression"]) -> dict:
    """Generated data: fit, score the grid with DEIMOS, pick a batch, label it, refit.

    Returns every quantity the figure and the printed summary need (numpy arrays and
    floats): the keys of :func:`run_authors` plus ``data`` (:class:`SyntheticData`).
    """
    data = make_data(seed)
    grid = np.linspace(-10, 10, n_grid)
    before = fit_mlp(data.x_train, data.y_train, seed=derive_seed(seed, "fit", 0),
                     steps=train_steps)
    noise = regression_noise(mc_grid(before, data.x_val, n_masks, seed), noise_fraction)
    preds = mc_grid(before, grid, n_masks, seed)
    ei = deimos_scores(preds, noise=noise)
    picked, gains = deimos_batch(preds, batch_size, noise=noise)
    x_new = grid[picked]
    y_new = data.f(x_new) + make_rng(seed, "labels").normal(0, data.noise_sd, batch_size)
    x_after = np.concatenate([data.x_train, x_new])
    y_after = np.concatenate([data.y_train, y_new])
    after = fit_mlp(x_after, y_after, seed=derive_seed(seed, "fit", 1), steps=train_steps)
    preds_after = mc_grid(after, grid, n_masks, seed)
    return {
        "data": data, "source": f"generated (seed {seed})", "sparse": SPARSE["generated"],
        "x_train": data.x_train, "y_train": data.y_train, "truth_x": grid, "truth_y": data.f(grid),
        "grid": grid, "noise": noise, "ei": ei, "picked": picked, "gains": gains,
        "x_new": x_new, "y_new": y_new, "preds_before": preds, "preds_after": preds_after,
        "mse_before": heldout_mse(before, data), "mse_after": heldout_mse(after, data), "message": "",
    }


def fit_authors_mlp(x, y, *, seed: int, epochs: int = 300, train_batch_size: int = 32,
                    p: float = 0.2, lam: float = 5e-4, device=None) -> torch.nn.Module:
    """The authors' 1D model (:data:`AUTHORS_MODEL`) trained from scratch on raw (x, y)."""
    device = device or default_device()
    torch.manual_seed(derive_seed(seed, "init-weights"))
    model = keras_init_(MLP(1, hidden=(256, 256, 256), p=p)).to(device)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    return train_model(model, xt, yt, task="regression", epochs=epochs, batch_size=train_batch_size,
                       lr=1e-3, weight_decay=lam, seed=seed, optimizer="adam")


def _raw_mc(model, x, n_masks: int, seed: int) -> np.ndarray:
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1)
    return mc_predict(model, xt, n_masks=n_masks, seed=seed, task="regression").cpu().numpy()


def _raw_mse(model, x, y) -> float:
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1)
    return evaluate(model, xt, np.asarray(y), "regression")["test_mse"]


def run_authors(d: dict, seed: int = 5, batch_size: int = 5, *, n_masks: int = 50, epochs: int = 300,
                train_batch_size: int = 32, p: float = 0.2, lam: float = 5e-4,
                noise_fraction: float = DEFAULT_NOISE_FRACTION["regression"]) -> dict:
    """The authors' 1D data ``d`` (:func:`~deimos_utils.data.authors.load_authors_1d`) with their
    model: fit on their 100 training points, tau^-1 = ``noise_fraction`` x the mean MC-dropout
    variance on the pool, DEIMOS over the pool (X_samp = candidates = the 201 pool points),
    label the batch with the pool's y, refit; test MSE on their test grid.

    Returns ``source``, ``sparse``, ``x_train``, ``y_train``, ``truth_x``, ``truth_y`` (their
    noiseless test grid), ``grid`` (the candidates' x), ``noise``, ``ei`` (over ``grid``),
    ``picked``, ``gains``, ``x_new``, ``y_new``, ``preds_before``, ``preds_after`` (over
    ``grid``), ``mse_before``, ``mse_after``, ``message``.
    """
    grid, y_pool = d["x_pool"], d["y_pool"]
    settings = dict(epochs=epochs, train_batch_size=train_batch_size, p=p, lam=lam)
    before = fit_authors_mlp(d["x_train"], d["y_train"], seed=derive_seed(seed, "fit", 0), **settings)
    preds = _raw_mc(before, grid, n_masks, seed)
    noise = noise_fraction * mean_dropout_variance(preds, "regression")
    ei = deimos_scores(preds, noise=noise)
    picked, gains = deimos_batch(preds, batch_size, noise=noise)
    x_new, y_new = grid[picked], y_pool[picked]
    after = fit_authors_mlp(np.concatenate([d["x_train"], x_new]), np.concatenate([d["y_train"], y_new]),
                            seed=derive_seed(seed, "fit", 1), **settings)
    return {
        "source": "the authors' 1D data", "sparse": SPARSE["authors"],
        "x_train": d["x_train"], "y_train": d["y_train"], "truth_x": d["x_test"], "truth_y": d["y_test"],
        "grid": grid, "noise": float(noise), "ei": ei, "picked": picked, "gains": gains,
        "x_new": x_new, "y_new": y_new, "preds_before": preds,
        "preds_after": _raw_mc(after, grid, n_masks, seed),
        "mse_before": _raw_mse(before, d["x_test"], d["y_test"]),
        "mse_after": _raw_mse(after, d["x_test"], d["y_test"]), "message": "",
    }


def run_preset(scale: str, seed: int = 5, batch_size: int = 5, data_dir=None) -> tuple[dict, dict | None]:
    """Run preset ``scale`` (:data:`PRESETS`): ``(result, theirs)``.

    ``theirs`` is the authors' 1D arrays (None when absent). A preset on the authors' data
    falls back to generated data when their arrays are absent; ``result["message"]`` then
    says so and what to do.
    """
    from ..data.authors import load_authors_1d
    from ..analysis.authors_comparison import not_found_message
    from ..data.paths import MissingDataError

    if scale not in PRESETS:
        raise ValueError(f"unknown scale {scale!r}; presets: {', '.join(PRESETS)}")
    settings = dict(PRESETS[scale])
    source, fallback = settings.pop("data"), settings.pop("fallback", None)
    try:
        theirs = load_authors_1d(data_dir, download=False)
    except MissingDataError:
        theirs = None
    if source == "authors" and theirs is not None:
        return run_authors(theirs, seed, batch_size, **settings), theirs
    if source == "authors":
        result = run(seed=seed, batch_size=batch_size, **fallback)
        result["message"] = (not_found_message(data_dir) + f"; the {scale} preset ran on generated "
                             "data instead")
        return result, None
    result = run(seed=seed, batch_size=batch_size, **settings)
    if theirs is None:
        result["message"] = not_found_message(data_dir)
    return result, theirs


def sparse_means(result: dict) -> tuple[float, float]:
    """Mean EI of the candidates inside and outside the sparse region of the training data."""
    lo, hi = result["sparse"]
    inside = (result["grid"] > lo) & (result["grid"] < hi)
    return float(result["ei"][inside].mean()), float(result["ei"][~inside].mean())


def checks(result: dict) -> list[str]:
    """The facts Fig 1 shows, as lines of text with booleans (stable across machines)."""
    grid, ei, x_new = result["grid"], result["ei"], result["x_new"]
    lo, hi = result["sparse"]
    inside = (grid > lo) & (grid < hi)
    ei_in, ei_out = sparse_means(result)
    x_train = result["x_train"]
    n_in = int(np.sum((x_train > lo) & (x_train < hi)))
    where = f"[{lo:g}, {hi:g}]"
    return [
        f"training points: {len(x_train)} ({n_in} in {where})",
        f"EI peak inside the sparse region {where}: {bool(inside[np.argmax(ei)])}",
        f"mean EI inside / outside the sparse region > 2: {bool(ei_in / ei_out > 2)}",
        f"batch of {len(x_new)}, every two picks at least 1.0 apart: "
        f"{bool(np.min(np.diff(np.sort(x_new))) >= 1.0)}",
        f"gains decrease along the batch: {bool(np.all(np.diff(result['gains']) < 0))}",
        f"test MSE lower after retraining: {bool(result['mse_after'] < result['mse_before'])}",
    ]


def normalised_ei(ei) -> np.ndarray:
    """EI divided by its maximum (the authors' published EI is normalised so)."""
    ei = np.asarray(ei, dtype=np.float64)
    top = float(ei.max())
    if not top > 0:
        raise ValueError("EI has no positive value to normalise by")
    return ei / top


def compare_with_authors(result: dict, theirs: dict) -> dict:
    """Our batch and EI against the authors' published ones (``theirs`` from
    :func:`~deimos_utils.data.authors.load_authors_1d`).

    ``ours_sorted`` / ``theirs_sorted``: the two batches' inputs in increasing order;
    ``same_candidates``: whether our EI is over their pool (then ``ei_correlation``, the
    Pearson correlation of the two normalised EI curves, and ``common_picks``, the inputs in
    both batches, are given; else None); ``argmax_ours`` / ``argmax_theirs``: where each EI
    peaks.
    """
    same = result["grid"].shape == theirs["x_pool"].shape and bool(
        np.allclose(result["grid"], theirs["x_pool"]))
    ours_ei = normalised_ei(result["ei"])
    out = {
        "ours_sorted": np.sort(result["x_new"]), "theirs_sorted": np.sort(theirs["queried"]),
        "same_candidates": same,
        "argmax_ours": float(result["grid"][np.argmax(ours_ei)]),
        "argmax_theirs": float(theirs["x_pool"][np.argmax(theirs["ei"])]),
        "ei_correlation": None, "common_picks": None,
    }
    if same:
        out["ei_correlation"] = float(np.corrcoef(ours_ei, theirs["ei"])[0, 1])
        out["common_picks"] = np.intersect1d(np.round(result["x_new"], 6), np.round(theirs["queried"], 6))
    return out


def plot_fig1(result: dict, title_suffix: str = ""):
    """Fig 1: left, predictions +-1 sd, training data, EI and the batch (darker first); right,
    the model retrained from scratch after the batch is labelled."""
    import matplotlib.pyplot as plt

    grid = result["grid"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    x_train, y_train = result["x_train"], result["y_train"]
    panels = [(axes[0], result["preds_before"], x_train, y_train, "Before: DEIMOS EI and batch"),
              (axes[1], result["preds_after"], np.concatenate([x_train, result["x_new"]]),
               np.concatenate([y_train, result["y_new"]]), "After: retrained with the batch")]
    for ax, preds, xs, ys, title in panels:
        mean, sd = preds.mean(axis=1), preds.std(axis=1, ddof=1)
        ax.fill_between(grid, mean - sd, mean + sd, color="#9ecae1", alpha=0.6, lw=0,
                        label="prediction +-1 sd")
        ax.plot(result["truth_x"], result["truth_y"], "--", color="0.4", lw=1, label="true f(x)")
        ax.plot(grid, mean, color="#08519c", lw=1.5, label="MC-dropout mean")
        ax.scatter(xs, ys, s=12, color="k", zorder=3, label="training data")
        ax.set_xlabel("x")
        ax.set_title(title + title_suffix, fontsize=10)
    ax = axes[0]
    reds = plt.cm.Reds(np.linspace(0.95, 0.35, len(result["x_new"])))
    ymin = ax.get_ylim()[0]
    for k, (x, c) in enumerate(zip(result["x_new"], reds)):
        ax.scatter([x], [ymin], marker="^", s=90, color=c, edgecolor="k", zorder=4, clip_on=False,
                   label="batch (darker first)" if k == 0 else None)
    twin = ax.twinx()
    twin.plot(grid, result["ei"], color="#d62728", lw=1.2, label="DEIMOS EI")
    twin.set_ylabel("expected improvement", color="#d62728")
    twin.tick_params(axis="y", colors="#d62728")
    twin.set_ylim(0, None)
    axes[1].scatter(result["x_new"], result["y_new"], s=50, marker="^", color="#d62728",
                    edgecolor="k", zorder=4, label="queried batch")
    axes[0].set_ylabel("y")
    h1, l1 = axes[0].get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    h3, l3 = axes[1].get_legend_handles_labels()
    fig.legend(h1 + h2 + h3[-1:], l1 + l2 + l3[-1:], loc="lower center", ncol=7, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_beside_authors(result: dict, theirs: dict | None):
    """Our normalised EI and batch beside the authors' published ones (their 1D arrays), on
    one x axis; None when their arrays are absent. Ours is solid red, theirs dashed black
    ("authors (their arrays)"); triangles mark each batch (ours up, theirs down)."""
    import matplotlib.pyplot as plt

    if theirs is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(result["grid"], normalised_ei(result["ei"]), color="#d62728", lw=1.4,
            label=f"ours: DEIMOS EI / max ({result['source']})")
    ax.plot(theirs["x_pool"], theirs["ei"], "--", color="k", lw=1.2,
            label="authors (their arrays): normalised EI on their pool")
    ax.scatter(result["x_new"], np.full(len(result["x_new"]), -0.04), marker="^", s=70,
               color="#d62728", edgecolor="k", zorder=4, clip_on=False, label="our batch")
    ax.scatter(theirs["queried"], np.full(len(theirs["queried"]), -0.1), marker="v", s=70,
               color="k", zorder=4, clip_on=False, label="their batch (QueriedInputs)")
    lo, hi = result["sparse"]
    ax.axvspan(lo, hi, color="0.9", zorder=0, label=f"sparse region of our data [{lo:g}, {hi:g}]")
    ax.set_ylim(-0.14, 1.08)
    ax.set_xlabel("x")
    ax.set_ylabel("EI / max EI")
    ax.set_title("Fig 1: our expected improvement and batch beside the authors'", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
