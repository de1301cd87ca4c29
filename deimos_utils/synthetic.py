"""The 1D synthetic regression of section 5.1 and Fig 1 (Appendix D).

A random fully connected network [32, 32] with zero-mean Gaussian weights and biases generates
y = f(x) + Gaussian noise on x in [-10, 10]. The training set is deliberately sparse in part of
the range. An MC-dropout MLP [256, 256, 256] (p = 0.2, lambda = 5e-4) is fit, DEIMOS scores a
grid of candidates across the range and picks a batch of 5, those are labelled, and the model is
retrained from scratch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .acquisition import deimos_batch, deimos_scores
from .calibration import regression_noise
from .mc_dropout import mc_predict
from .models import MLP
from .runtime import default_device, derive_seed, make_rng
from .training import evaluate, train_model

#: settings per scale preset (the paper gives the architecture, p, lambda and b = 5 only)
PRESETS = {
    "quick": {"train_steps": 1500, "n_grid": 401, "n_masks": 50},
    "paper": {"train_steps": 4000, "n_grid": 1001, "n_masks": 50},
}


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


def test_mse(model, data: SyntheticData) -> float:
    xt = torch.as_tensor(data.x_test, dtype=torch.float32).reshape(-1, 1) / 10.0
    return evaluate(model, xt, data.y_test, "regression")["test_mse"]


def run(seed: int = 5, batch_size: int = 5, train_steps: int = 1500, n_grid: int = 401,
        n_masks: int = 50, noise_fraction: float = 0.15) -> dict:
    """Fit, score the grid with DEIMOS, pick a batch, label it, refit. Returns every quantity
    the figure and the printed summary need (numpy arrays and floats)."""
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
        "data": data, "grid": grid, "noise": noise, "ei": ei, "picked": picked, "gains": gains,
        "x_new": x_new, "y_new": y_new, "preds_before": preds, "preds_after": preds_after,
        "mse_before": test_mse(before, data), "mse_after": test_mse(after, data),
    }


def plot_fig1(result: dict, title_suffix: str = ""):
    """Fig 1: left, predictions +-1 sd, training data, EI and the batch (darker first); right,
    the model retrained from scratch after the batch is labelled."""
    import matplotlib.pyplot as plt

    data, grid = result["data"], result["grid"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    panels = [(axes[0], result["preds_before"], data.x_train, data.y_train, "Before: DEIMOS EI and batch"),
              (axes[1], result["preds_after"], np.concatenate([data.x_train, result["x_new"]]),
               np.concatenate([data.y_train, result["y_new"]]), "After: retrained with the batch")]
    for ax, preds, xs, ys, title in panels:
        mean, sd = preds.mean(axis=1), preds.std(axis=1, ddof=1)
        ax.fill_between(grid, mean - sd, mean + sd, color="#9ecae1", alpha=0.6, lw=0,
                        label="prediction +-1 sd")
        ax.plot(grid, data.f(grid), "--", color="0.4", lw=1, label="true f(x)")
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
