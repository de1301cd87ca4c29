"""Training from scratch and test evaluation, seeded and fast on a CPU.

Training (Appendix E): Adam (or RMSprop) with Keras' default settings, as the authors' Keras
code used, a fixed number of gradient steps, cross-entropy (classification) or
mean squared error (regression), plus an L2 penalty ``lambda * sum(W ** 2)`` on the weights of
the fully connected layers (``model.dense_layers``), with ``lambda = C / N``
(:func:`~deimos_utils.uncertainty.calibration.weight_decay`). The penalty is added to the mean loss of the
minibatch, as Keras' ``l2(lambda)`` regulariser used by Gal et al. (2017) does; biases and
convolutions are not penalised.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..runtime import derive_seed

__all__ = ["n_train_steps", "train_model", "predict", "evaluate", "evaluate_mc", "make_optimizer",
           "OPTIMIZERS"]

OPTIMIZERS = ("adam", "rmsprop")


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """Adam or RMSprop with Keras' defaults (epsilon 1e-7; RMSprop's rho 0.9), learning rate ``lr``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-7)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def n_train_steps(n_points: int, steps: int = 0, epochs: int = 0, batch_size: int = 64) -> int:
    """Gradient steps for ``n_points`` training points: ``max(steps, epochs * ceil(N / batch))``.

    ``steps`` gives a floor that keeps tiny training sets from being under-fitted; ``epochs``
    makes large ones see every point ``epochs`` times.
    """
    if n_points < 1:
        raise ValueError(f"need at least one training point, got {n_points}")
    for name, v in (("steps", steps), ("epochs", epochs)):
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    total = max(int(steps), int(epochs) * math.ceil(n_points / int(batch_size)))
    if total < 1:
        raise ValueError("training needs steps > 0 or epochs > 0")
    return total


def _dense_layers(model: nn.Module) -> list[nn.Linear]:
    layers = getattr(model, "dense_layers", None)
    if layers is None:
        layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return list(layers)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def train_model(
    model: nn.Module,
    x,
    y,
    *,
    task: str,
    steps: int = 0,
    epochs: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    optimizer: str = "adam",
    callback=None,
) -> nn.Module:
    """Train ``model`` in place on ``(x, y)`` and return it in eval mode.

    Parameters
    ----------
    model : network on its target device (CPU or CUDA), freshly initialised by the caller.
    x : (N, ...) float inputs; y : (N,) int64 class labels or (N,) float targets.
    task : "classification" or "regression".
    steps, epochs, batch_size : see :func:`n_train_steps`. Minibatches walk through a new
        random permutation of the N points each epoch (a batch never exceeds N).
    lr : learning rate.
    optimizer : "adam" or "rmsprop" (:func:`make_optimizer`).
    callback : optional ``callback(step, model)``, called after each step (1-based); the
        model is left in training mode around it (a callback that evaluates restores it).
    weight_decay : lambda of the L2 penalty on the dense layers' weights (see module doc).
    seed : fixes the minibatch order and the training-time dropout draws.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if weight_decay < 0 or not np.isfinite(weight_decay):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay}")
    device = _model_device(model)
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise ValueError(f"x has {n} points but y has {int(y.shape[0])}")
    x = x.to(device=device, dtype=torch.float32)
    y = y.to(device=device, dtype=torch.int64 if task == "classification" else torch.float32)
    bs = min(int(batch_size), n)
    total = n_train_steps(n, steps, epochs, bs)
    dense = [layer.weight for layer in _dense_layers(model)]

    gen = torch.Generator(device="cpu")
    gen.manual_seed(derive_seed(seed, "minibatches"))
    torch.manual_seed(derive_seed(seed, "train-dropout"))  # F.dropout draws (CPU and CUDA)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    # cuDNN's default convolution algorithms may differ from run to run on a GPU; the
    # deterministic ones keep a seed's runs (and resumed runs) alike there too.
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    model.train()
    order = torch.empty(0, dtype=torch.int64)
    pos = 0
    try:
        for step in range(total):
            if pos + bs > order.numel():
                order = torch.randperm(n, generator=gen)
                pos = 0
            idx = order[pos:pos + bs].to(device)
            pos += bs
            out = model(x[idx])
            if task == "classification":
                loss = F.cross_entropy(out, y[idx])
            else:
                loss = F.mse_loss(out.reshape(-1), y[idx])
            if weight_decay > 0 and dense:
                loss = loss + weight_decay * sum((w * w).sum() for w in dense)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if callback is not None:
                callback(step + 1, model)
                model.train()
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags
        model.eval()
    return model


def predict(model: nn.Module, x, batch_size: int = 512) -> torch.Tensor:
    """Deterministic outputs (dropout off) for every point, on the CPU, float32.

    Logits ``(N, C)`` (classification) or predictions ``(N,)`` (regression).
    """
    device = _model_device(model)
    x = torch.as_tensor(x)
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for start in range(0, int(x.shape[0]), batch_size):
                xb = x[start:start + batch_size].to(device=device, dtype=torch.float32)
                outs.append(model(xb).detach().float().cpu())
    finally:
        for m, flag in flags:
            m.training = flag
    return torch.cat(outs, dim=0)


def evaluate(model: nn.Module, x, y, task: str, *, y_mean: float = 0.0, y_std: float = 1.0,
             batch_size: int = 512) -> dict[str, float]:
    """Test metrics of the deterministic (dropout off) predictions.

    Classification: ``{"test_accuracy", "test_nll"}`` (mean negative log-likelihood, nats).
    Regression: ``{"test_mse", "test_rmse"}`` in the units of ``y``; the model predicts
    standardised targets, mapped back as ``pred * y_std + y_mean``.
    """
    out = predict(model, x, batch_size)
    y = torch.as_tensor(y).cpu()
    if task == "classification":
        y = y.to(torch.int64)
        logp = torch.log_softmax(out.double(), dim=1)
        acc = float((out.argmax(dim=1) == y).double().mean())
        nll = float(-logp[torch.arange(len(y)), y].mean())
        return {"test_accuracy": acc, "test_nll": nll}
    if task == "regression":
        pred = out.double().reshape(-1) * float(y_std) + float(y_mean)
        mse = float(((pred - y.double().reshape(-1)) ** 2).mean())
        return {"test_mse": mse, "test_rmse": math.sqrt(mse)}
    raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")


def evaluate_mc(model: nn.Module, x, y, task: str, *, n_passes: int, seed: int,
                y_mean: float = 0.0, y_std: float = 1.0, batch_size: int = 256) -> dict[str, float]:
    """Test metrics of the mean of ``n_passes`` MC-dropout passes with dropout on.

    The authors' test metric: classification accuracy is the argmax of the mean class
    probabilities, ``test_nll`` the mean of -log(mean probability of the true class);
    regression ``test_mse``/``test_rmse`` of the mean prediction, in the units of ``y``
    (``pred * y_std + y_mean``). Passes use fixed masks drawn from ``seed``
    (:func:`~deimos_utils.uncertainty.mc_dropout.mc_predict`); the mean over passes is what counts.
    """
    from ..uncertainty.mc_dropout import mc_predict

    if isinstance(n_passes, bool) or int(n_passes) != n_passes or n_passes < 2:
        raise ValueError(f"n_passes must be an integer >= 2, got {n_passes!r}")
    preds = mc_predict(model, x, n_masks=int(n_passes), seed=seed, batch_size=batch_size, task=task)
    mean = preds.double().mean(dim=-1).cpu()
    y = torch.as_tensor(y).cpu()
    if task == "classification":
        y = y.to(torch.int64)
        acc = float((mean.argmax(dim=1) == y).double().mean())
        p_true = mean[torch.arange(len(y)), y].clamp_min(1e-300)
        return {"test_accuracy": acc, "test_nll": float(-p_true.log().mean())}
    if task == "regression":
        pred = mean.reshape(-1) * float(y_std) + float(y_mean)
        mse = float(((pred - y.double().reshape(-1)) ** 2).mean())
        return {"test_mse": mse, "test_rmse": math.sqrt(mse)}
    raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
