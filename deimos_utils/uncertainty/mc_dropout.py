"""Fixed-mask MC dropout: the same J dropout masks for every point, run batched.

DEIMOS (section 3.2) needs predictions of many points under the *same* J dropout masks, so
that predictions of different points are correlated across masks (Gal & Ghahramani's MC
dropout with masks held fixed, the "consistent MC dropout" idea of batchbald_redux).

How it runs
-----------
Inside ``fixed_masks(model, J, seed)`` the first :class:`FixedMaskDropout` layer reached in a
forward pass receives ``B`` points, repeats them into ``J`` blocks, multiplies block ``j`` by
mask ``j`` and passes on a ``(J * B, ...)`` tensor (mask-major: rows ``j * B ... j * B + B - 1``
belong to mask ``j``). Every later dropout layer of that forward pass applies mask ``j`` to
block ``j``. The part of the network before the first dropout layer therefore runs once per
point, and only the rest runs ``J`` times, as one batch.

Requirement on the model: every layer after the first dropout layer must treat the batch axis
independently (no batch norm in training mode, no mixing of rows), and nothing computed
*before* the first dropout layer may be combined with what comes after it (no skip connection
around the first dropout layer; such a combination fails with a shape error for ``B > 1``).
Dropout written as ``F.dropout`` inside ``forward`` is invisible here: use modules.

Masks: layer ``i`` (its position among the model's FixedMaskDropout modules in
``model.modules()`` order) draws Bernoulli(1 - p) keep-masks over its feature shape (every
axis but the batch axis), scaled by 1 / (1 - p), from a CPU ``torch.Generator`` seeded with
``derive_seed(seed, "dropout-mask", i)``. The masks depend only on (seed, J, feature shape,
i), so CPU and CUDA runs, and repeated calls, see identical masks.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import TASKS, check_mask_count, warn_if_no_variance
from ..runtime import derive_seed, progress_bar

__all__ = [
    "FixedMaskDropout",
    "convert_dropout",
    "dropout_layers",
    "embed",
    "fixed_masks",
    "mc_predict",
    "mc_predict_reference",
]

_TASKS = ("auto", *TASKS)


class _MaskState:
    """State shared by every FixedMaskDropout layer of one model inside one context."""

    def __init__(self, n_masks: int, seed: int, mask_index: int | None):
        self.n_masks = n_masks
        self.seed = seed
        self.mask_index = mask_index  # None: batched over all J masks
        self.expanded = False  # has a dropout layer expanded B -> J * B in this forward?
        self.batch = None  # B, the number of points of this forward pass

    def reset(self) -> None:
        self.expanded = False
        self.batch = None


class FixedMaskDropout(nn.Module):
    """Dropout that, inside :func:`fixed_masks`, applies the same J masks to every point.

    Parameters
    ----------
    p : float
        Drop probability, ``0 <= p < 1``.

    Behaviour
    ---------
    - training mode: ordinary inverted dropout (``F.dropout``), a new random mask per call;
    - eval mode outside :func:`fixed_masks`: identity;
    - inside :func:`fixed_masks`: input ``(B, ...)`` (first dropout layer of the forward pass)
      or ``(J * B, ...)`` (later layers) -> output ``(J * B, ...)``, mask ``j`` on block ``j``.
      With ``mask_index=j`` every layer applies only its mask ``j`` and keeps the shape.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability p must satisfy 0 <= p < 1, got {p}")
        self.p = p
        self._state: _MaskState | None = None
        self._layer_index: int | None = None
        self._mask_key = None
        self._masks_cpu: torch.Tensor | None = None  # bool keep-masks (J, *feature_shape)
        self._masks_dev: dict = {}  # (device, dtype) -> scaled masks

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def masks(
        self,
        feature_shape,
        n_masks: int,
        seed: int,
        layer_index: int,
        device=None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """The J scaled keep-masks of this layer, shape ``(n_masks, *feature_shape)``.

        Entries are 0 or 1 / (1 - p). Drawn on the CPU from
        ``derive_seed(seed, "dropout-mask", layer_index)``, cached, then copied to
        ``device``/``dtype`` (that copy is cached too).
        """
        key = (int(seed), int(n_masks), tuple(int(s) for s in feature_shape), int(layer_index))
        if key != self._mask_key:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(derive_seed(key[0], "dropout-mask", key[3]))
            u = torch.rand((key[1], *key[2]), generator=gen, dtype=torch.float64)
            self._masks_cpu = u >= self.p  # P(keep) = 1 - p
            self._mask_key = key
            self._masks_dev = {}
        dev = torch.device("cpu") if device is None else torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        dkey = (dev, dtype)
        if dkey not in self._masks_dev:
            scaled = self._masks_cpu.to(torch.float64) / (1.0 - self.p)
            self._masks_dev[dkey] = scaled.to(device=dev, dtype=dtype)
        return self._masks_dev[dkey]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.dropout(x, self.p, training=True)
        state = self._state
        if state is None:
            return x
        if x.ndim < 1:
            raise ValueError("FixedMaskDropout needs an input with a batch axis")
        J = state.n_masks
        feat = tuple(x.shape[1:])
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        m = self.masks(feat, J, state.seed, self._layer_index, device=x.device, dtype=dtype)
        if state.mask_index is not None:
            return x * m[state.mask_index]
        if not state.expanded:
            B = x.shape[0]
            state.expanded = True
            state.batch = B
            return (x.unsqueeze(0) * m.unsqueeze(1)).reshape(J * B, *feat)
        B = state.batch
        if x.shape[0] != J * B:
            raise RuntimeError(
                f"FixedMaskDropout layer {self._layer_index} received {x.shape[0]} rows, but an "
                f"earlier dropout layer of this forward pass expanded {B} points to J * B = "
                f"{J * B} rows. Every dropout layer after the first must see the expanded "
                "(J * B, ...) tensor: no branch may bypass the first dropout layer."
            )
        return (x.reshape(J, B, *feat) * m.unsqueeze(1)).reshape(x.shape)


def dropout_layers(model: nn.Module) -> list[FixedMaskDropout]:
    """The FixedMaskDropout modules of ``model`` in ``model.modules()`` order (layer indices)."""
    return [m for m in model.modules() if isinstance(m, FixedMaskDropout)]


def convert_dropout(model: nn.Module) -> nn.Module:
    """Replace every ``nn.Dropout`` of ``model`` (recursively, in place) by a FixedMaskDropout.

    The new layers keep ``p`` and the training flag; a module shared at several places stays
    shared. Channel-wise dropout (``nn.Dropout2d`` ...) is left alone. Returns ``model`` (or
    the new layer when ``model`` itself is an ``nn.Dropout``).
    """
    if isinstance(model, nn.Dropout):
        new = FixedMaskDropout(model.p)
        new.train(model.training)
        return new
    replaced: dict[int, FixedMaskDropout] = {}

    def visit(module: nn.Module) -> None:
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                if id(child) not in replaced:
                    new = FixedMaskDropout(child.p)
                    new.train(child.training)
                    replaced[id(child)] = new
                setattr(module, name, replaced[id(child)])
            else:
                visit(child)

    visit(model)
    return model


@contextlib.contextmanager
def fixed_masks(
    model: nn.Module, n_masks: int = 50, seed: int = 0, *, mask_index: int | None = None
) -> Iterator[nn.Module]:
    """Context in which ``model`` runs in eval mode with J fixed dropout masks.

    Inside, ``model(x)`` with ``x`` of shape ``(B, ...)`` returns ``(J * B, ...)``, mask-major
    (reshape to ``(J, B, ...)``). With ``mask_index=j`` every dropout layer applies only its
    mask ``j`` and the output keeps shape ``(B, ...)`` (slow, for checks). On exit, also on
    an exception, every module's training flag and the layers' previous behaviour come back.

    Raises ValueError when the model has no FixedMaskDropout layer or ``n_masks < 1``.
    Yields ``model``.
    """
    layers = dropout_layers(model)
    if not layers:
        raise ValueError(
            "model has no FixedMaskDropout layer: call convert_dropout(model) to turn its "
            "nn.Dropout layers into FixedMaskDropout, or add FixedMaskDropout layers"
        )
    n_masks = check_mask_count(n_masks)
    if mask_index is not None and not (0 <= int(mask_index) < n_masks):
        raise ValueError(f"mask_index must lie in [0, {n_masks}), got {mask_index}")
    state = _MaskState(n_masks, int(seed), None if mask_index is None else int(mask_index))
    flags = [(m, m.training) for m in model.modules()]
    previous = [(layer, layer._state, layer._layer_index) for layer in layers]
    handle = model.register_forward_pre_hook(lambda module, args: state.reset())
    try:
        model.eval()
        for i, layer in enumerate(layers):
            layer._state = state
            layer._layer_index = i
        yield model
    finally:
        handle.remove()
        for layer, old_state, old_index in previous:
            layer._state = old_state
            layer._layer_index = old_index
        for m, flag in flags:
            m.training = flag


# ----------------------------------------------------------------------------- prediction

def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _as_input(X, name: str = "X") -> torch.Tensor:
    """``X`` as a tensor (no copy where possible); ValueError when empty or not finite."""
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(np.asarray(X))
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{name} must be a numeric array or tensor: {err}") from None
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}): need at least one point")
    if X.is_floating_point() or X.is_complex():
        n_bad = 0
        step = 4096
        for start in range(0, X.shape[0], step):
            n_bad += int((~torch.isfinite(X[start:start + step])).sum())
        if n_bad:
            raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    return X


def _chunk(X: torch.Tensor, start: int, size: int, device, dtype) -> torch.Tensor:
    xb = X[start:start + size]
    if xb.is_floating_point():
        return xb.to(device=device, dtype=dtype)
    return xb.to(device=device)


def _check_task(task: str) -> str:
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    return task


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or int(batch_size) < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _resolve_task(task: str, out_rest: tuple) -> str:
    """Task from the model's per-point output shape ``out_rest`` (shape without batch axis)."""
    if len(out_rest) > 1:
        raise ValueError(
            f"model output per point must be a scalar, (1,) or (C,) logits, got {out_rest}"
        )
    width = out_rest[0] if out_rest else 1
    if task == "auto":
        task = "regression" if width == 1 else "classification"
    if task == "regression" and width != 1:
        raise ValueError(f"task='regression' needs model output (B,) or (B, 1), got (B, {width})")
    if task == "classification" and (not out_rest or width < 2):
        raise ValueError(
            f"task='classification' needs model logits (B, C) with C >= 2, got (B, *{out_rest})"
        )
    return task


def mc_predict(
    model: nn.Module,
    X,
    n_masks: int = 50,
    seed: int = 0,
    batch_size: int = 256,
    task: str = "auto",
    progress: bool = False,
) -> torch.Tensor:
    """Predictions of every point of ``X`` under J fixed dropout masks, batched.

    Parameters
    ----------
    model : nn.Module with at least one FixedMaskDropout layer (see :func:`convert_dropout`);
        outputs ``(B,)`` or ``(B, 1)`` for regression, logits ``(B, C)`` for classification.
    X : tensor or array ``(N, ...)``, finite; floating inputs are cast to the model's dtype
        and moved, ``batch_size`` points at a time, to the model's device.
    n_masks : J, the number of fixed masks.
    seed : selects the masks; the same seed gives the same masks on every device.
    batch_size : points per forward pass (the layers after the first dropout see J times more).
    task : "auto" (output width 1 -> regression, else classification), "regression" or
        "classification".
    progress : show a tqdm bar over the chunks.

    Returns
    -------
    torch.Tensor on the model's device, the model's output dtype:
    ``(N, J)`` regression predictions, or ``(N, C, J)`` softmax class probabilities.
    A :class:`~deimos_utils._checks.NoVarianceWarning` says when they are the same under every
    mask (dropout p = 0, say): every uncertainty-based acquisition then scores 0.
    """
    task = _check_task(task)
    batch_size = _check_batch_size(batch_size)
    n_masks = check_mask_count(n_masks)
    X = _as_input(X)
    device, dtype = _model_device_dtype(model)
    N = X.shape[0]
    pieces = []
    with torch.no_grad(), fixed_masks(model, n_masks, seed):
        state = dropout_layers(model)[0]._state
        starts = range(0, N, batch_size)
        for start in progress_bar(starts, disable=not progress, desc="MC dropout", unit="chunk"):
            xb = _chunk(X, start, batch_size, device, dtype)
            B = xb.shape[0]
            state.reset()
            out = model(xb)
            if not state.expanded:
                raise RuntimeError(
                    "no FixedMaskDropout layer ran in the model's forward pass, so no masks "
                    "were applied"
                )
            if out.ndim < 1 or out.shape[0] != n_masks * B:
                raise RuntimeError(
                    f"model output has shape {tuple(out.shape)}; expected {n_masks * B} rows "
                    f"(J * B = {n_masks} * {B}), mask-major"
                )
            out = out.reshape(n_masks, B, *out.shape[1:])
            task = _resolve_task(task, tuple(out.shape[2:]))
            if task == "regression":
                pieces.append(out.reshape(n_masks, B).transpose(0, 1))
            else:
                pieces.append(torch.softmax(out, dim=-1).permute(1, 2, 0))
    preds = torch.cat(pieces, dim=0).contiguous()
    all_zero = all(layer.p == 0.0 for layer in dropout_layers(model))
    warn_if_no_variance(preds, "mc_predict", "every dropout layer of the model has p = 0" if all_zero else "")
    return preds


def mc_predict_reference(
    model: nn.Module, X, n_masks: int = 50, seed: int = 0, task: str = "auto"
) -> torch.Tensor:
    """Literal version of :func:`mc_predict`: for each mask j, run the whole model on all of X
    with every dropout layer applying only its mask j; stack along the last axis.

    Same shapes, masks and device as :func:`mc_predict`; slow (the trunk runs J times).
    """
    task = _check_task(task)
    X = _as_input(X)
    device, dtype = _model_device_dtype(model)
    xs = _chunk(X, 0, X.shape[0], device, dtype)
    N = X.shape[0]
    outs = []
    with torch.no_grad():
        for j in range(check_mask_count(n_masks)):
            with fixed_masks(model, n_masks, seed, mask_index=j):
                outs.append(model(xs))
    task = _resolve_task(task, tuple(outs[0].shape[1:]))
    if task == "regression":
        return torch.stack([o.reshape(N) for o in outs], dim=-1)
    return torch.stack([torch.softmax(o, dim=-1) for o in outs], dim=-1)


def embed(model: nn.Module, X, layer: nn.Module, batch_size: int = 256) -> torch.Tensor:
    """Inputs of module ``layer`` (e.g. the last linear layer) for every point, ``(N, D)``.

    Runs ``model`` in eval mode (dropout off; call it outside :func:`fixed_masks`) under
    ``torch.no_grad()``; training flags are restored afterwards. Returns a tensor on the
    model's device. Used for k-center embeddings.
    """
    if not any(m is layer for m in model.modules()):
        raise ValueError("layer must be a submodule of model")
    batch_size = _check_batch_size(batch_size)
    X = _as_input(X)
    device, dtype = _model_device_dtype(model)
    seen: list[torch.Tensor] = []

    def grab(module, args):
        seen.append(args[0].detach().reshape(args[0].shape[0], -1))

    flags = [(m, m.training) for m in model.modules()]
    handle = layer.register_forward_pre_hook(grab)
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                before = len(seen)
                model(_chunk(X, start, batch_size, device, dtype))
                if len(seen) != before + 1:
                    raise RuntimeError(
                        f"layer ran {len(seen) - before} times in one forward pass; expected once"
                    )
    finally:
        handle.remove()
        for m, flag in flags:
            m.training = flag
    return torch.cat(seen, dim=0)
