"""The networks of the experiments, all with fixed-mask MC dropout before every dense layer.

Every model here

* puts a :class:`~deimos_utils.uncertainty.mc_dropout.FixedMaskDropout` before each fully connected layer
  that follows the feature extractor (the MC-dropout recipe of section 3.2), so that
  :func:`~deimos_utils.uncertainty.mc_dropout.mc_predict` can run it under J fixed masks;
* exposes ``model.embedding_layer`` (the output ``nn.Linear``): its input is the penultimate
  representation, what :func:`~deimos_utils.uncertainty.mc_dropout.embed` returns for k-center;
* exposes ``model.dense_layers`` (the fully connected ``nn.Linear`` layers), the layers the
  weight decay lambda = C / N applies to (Appendix E);
* returns logits ``(B, C)`` for classification (``n_outputs = C >= 2``) and a vector ``(B,)``
  for regression (``n_outputs = 1``).

The authors' networks (``../shared/AUTHORS.md``), one per experiment, are
:class:`AuthorsImageCNN` (MNIST 7 vs 9: 35 filters, MNIST 0-9: 40), :class:`AuthorsFaceCNN`
(UTKFace) and :class:`AuthorsSpliceCNN` (5' splicing). They initialise their weights as Keras
does by default (Glorot-uniform kernels, zero biases), as the authors' Keras code did. The
older :class:`MnistCNN` (Gal et al. 2017), :class:`SpliceCNN` and :class:`FaceCNN` remain
available by name.

:func:`build_model` makes the model an experiment configuration names.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..uncertainty.mc_dropout import FixedMaskDropout

__all__ = ["MnistCNN", "MLP", "SpliceCNN", "FaceCNN", "AuthorsImageCNN", "AuthorsFaceCNN",
           "AuthorsSpliceCNN", "MODELS", "build_model"]


def _check_p(p: float, name: str) -> float:
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must satisfy 0 <= p < 1, got {p}")
    return p


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _Head(nn.Module):
    """Dropout -> Linear(in, units) -> ReLU -> Dropout -> Linear(units, n_outputs)."""

    def __init__(self, in_features: int, units: int, n_outputs: int, p_in: float, p_out: float):
        super().__init__()
        self.drop1 = FixedMaskDropout(p_in)
        self.fc = nn.Linear(in_features, units)
        self.drop2 = FixedMaskDropout(p_out)
        self.out = nn.Linear(units, n_outputs)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.drop1(h)
        h = torch.relu(self.fc(h))
        return self.out(self.drop2(h))


class _DropoutModel(nn.Module):
    """Common plumbing: ``n_outputs``, output squeezing, the layers named in the module doc."""

    n_outputs: int
    head: _Head

    @property
    def embedding_layer(self) -> nn.Linear:
        """The output layer; its input is the penultimate representation."""
        return self.head.out

    @property
    def dense_layers(self) -> list[nn.Linear]:
        """The fully connected layers (weight decay applies to their weights)."""
        return [m for m in self.modules() if isinstance(m, nn.Linear)]

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        return out.squeeze(-1) if self.n_outputs == 1 else out


class MnistCNN(_DropoutModel):
    """The MC-dropout CNN of Gal, Islam & Ghahramani (2017) for 28 x 28 images.

    conv 4x4 (32) -> ReLU -> conv 4x4 (32) -> ReLU -> max-pool 2x2 -> dropout(``conv_dropout``)
    -> dense 128 -> ReLU -> dropout(``dropout``) -> dense ``n_classes``.

    Input ``(B, in_channels, H, W)`` (28 x 28 for MNIST); output logits ``(B, n_classes)``.
    Gal et al. use ``conv_dropout=0.25``, ``dropout=0.5``.
    """

    def __init__(self, n_classes: int = 10, conv_dropout: float = 0.25, dropout: float = 0.5,
                 in_channels: int = 1, image_size: int = 28, filters: int = 32,
                 kernel_size: int = 4, dense_units: int = 128):
        super().__init__()
        n_classes = _check_positive_int(n_classes, "n_classes")
        image_size = _check_positive_int(image_size, "image_size")
        side = (image_size - 2 * (kernel_size - 1)) // 2
        if side < 1:
            raise ValueError(f"image_size = {image_size} is too small for two {kernel_size}x{kernel_size} convolutions")
        self.n_outputs = n_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, filters, kernel_size),
            nn.ReLU(),
            nn.Conv2d(filters, filters, kernel_size),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = _Head(filters * side * side, dense_units, n_classes,
                          _check_p(conv_dropout, "conv_dropout"), _check_p(dropout, "dropout"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.head(self.features(x)))


class MLP(_DropoutModel):
    """Fully connected ReLU network with dropout before every dense layer after the first.

    ``Linear(in, h1) -> ReLU -> [Dropout(p) -> Linear(h_k, h_k+1) -> ReLU]* -> Dropout(p) ->
    Linear(h_last, n_outputs)``. Inputs of any shape ``(B, ...)`` are flattened to
    ``(B, in_features)``. The 1D synthetic experiment uses ``hidden=(256, 256, 256)``, p = 0.2.
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (256, 256, 256), p: float = 0.2,
                 n_outputs: int = 1):
        super().__init__()
        in_features = _check_positive_int(in_features, "in_features")
        hidden = [_check_positive_int(h, "hidden sizes") for h in hidden]
        if not hidden:
            raise ValueError("hidden must name at least one hidden layer")
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        p = _check_p(p, "p")
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(in_features, hidden[0]), nn.ReLU()]
        for a, b in zip(hidden[:-1], hidden[1:]):
            layers += [FixedMaskDropout(p), nn.Linear(a, b), nn.ReLU()]
        layers.append(FixedMaskDropout(p))
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(hidden[-1], self.n_outputs)

    @property
    def embedding_layer(self) -> nn.Linear:
        return self.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.out(self.body(x)))


class SpliceCNN(_DropoutModel):
    """1D CNN for one-hot sequences ``(B, 4, L)`` (L = 101 for the A5SS library).

    conv1d k (``filters``) -> ReLU -> conv1d k (``filters``) -> ReLU -> max-pool 2 ->
    dropout(``conv_dropout``) -> dense ``dense_units`` -> ReLU -> dropout(``dropout``) -> dense 1.
    Inputs given as ``(B, L, 4)`` are transposed.
    """

    def __init__(self, seq_len: int = 101, n_channels: int = 4, filters: int = 32,
                 kernel_size: int = 8, dense_units: int = 128, conv_dropout: float = 0.1,
                 dropout: float = 0.2, n_outputs: int = 1):
        super().__init__()
        seq_len = _check_positive_int(seq_len, "seq_len")
        self.n_channels = _check_positive_int(n_channels, "n_channels")
        side = (seq_len - 2 * (kernel_size - 1)) // 2
        if side < 1:
            raise ValueError(f"seq_len = {seq_len} is too short for two convolutions of width {kernel_size}")
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        self.features = nn.Sequential(
            nn.Conv1d(n_channels, filters, kernel_size),
            nn.ReLU(),
            nn.Conv1d(filters, filters, kernel_size),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Flatten(),
        )
        self.head = _Head(filters * side, dense_units, self.n_outputs,
                          _check_p(conv_dropout, "conv_dropout"), _check_p(dropout, "dropout"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3 and x.shape[1] != self.n_channels and x.shape[2] == self.n_channels:
            x = x.transpose(1, 2)
        return self._finish(self.head(self.features(x)))


class FaceCNN(_DropoutModel):
    """Small 2D CNN for square RGB images at any resolution >= 8 (UTKFace age regression).

    Per entry of ``channels``: conv 3x3 (padding 1) -> ReLU -> max-pool 2; then adaptive
    average pooling to 4 x 4 -> dropout(``conv_dropout``) -> dense ``dense_units`` -> ReLU ->
    dropout(``dropout``) -> dense 1. Input ``(B, 3, R, R)``.
    """

    def __init__(self, resolution: int = 64, in_channels: int = 3,
                 channels: Sequence[int] = (32, 64, 128), dense_units: int = 128,
                 conv_dropout: float = 0.1, dropout: float = 0.2, n_outputs: int = 1):
        super().__init__()
        resolution = _check_positive_int(resolution, "resolution")
        if resolution < 8:
            raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        layers += [nn.AdaptiveAvgPool2d(4), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = _Head(c_in * 16, dense_units, self.n_outputs,
                          _check_p(conv_dropout, "conv_dropout"), _check_p(dropout, "dropout"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.head(self.features(x)))


def keras_init_(model: nn.Module) -> nn.Module:
    """Initialise like Keras' defaults, in place: Glorot-uniform kernels, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def _trunk_features(trunk: nn.Module, shape: Sequence[int], what: str) -> int:
    """Number of features ``trunk`` outputs for one input of ``shape`` (ValueError if none)."""
    try:
        with torch.no_grad():
            out = trunk(torch.zeros(1, *shape))
    except RuntimeError as exc:
        raise ValueError(f"{what}: input shape {tuple(shape)} is too small for its layers ({exc})") from None
    return int(out.shape[1])


class AuthorsImageCNN(_DropoutModel):
    """The authors' MNIST CNN: conv ``filters``@4x4 stride 1 -> ReLU -> conv ``filters``@4x4
    stride 2 -> ReLU -> max-pool 3 -> dropout(p) -> dense ``dense_units`` -> ReLU -> dropout(p)
    -> dense ``n_classes``. 28 x 28 inputs give 3 x 3 x ``filters`` features.

    7 vs 9: ``filters=35``, p = 0.3; 0-9: ``filters=40``, p = 0.25 (the same p at both dropout
    layers). Input ``(B, C, H, W)``; output logits ``(B, n_classes)``.
    """

    def __init__(self, n_classes: int, filters: int, p: float, in_channels: int = 1,
                 image_size: int = 28, dense_units: int = 128, p_out: float | None = None):
        super().__init__()
        self.n_outputs = _check_positive_int(n_classes, "n_classes")
        f = _check_positive_int(filters, "filters")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, f, 4), nn.ReLU(),
            nn.Conv2d(f, f, 4, stride=2), nn.ReLU(),
            nn.MaxPool2d(3), nn.Flatten(),
        )
        n_feat = _trunk_features(self.features, (in_channels, image_size, image_size), "AuthorsImageCNN")
        p = _check_p(p, "dropout")
        self.head = _Head(n_feat, dense_units, self.n_outputs, p, _check_p(p if p_out is None else p_out, "dropout"))
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.head(self.features(x)))


class AuthorsFaceCNN(_DropoutModel):
    """The authors' UTKFace CNN: conv 50@4x4 stride 2 -> conv 50@3x3 stride 2 -> max-pool 2 ->
    conv 100@3x3 -> conv 100@3x3 -> max-pool 3 (ReLU after every convolution) -> dropout(p) ->
    dense ``dense_units`` (150) -> ReLU -> dropout(p) -> dense 1.

    200 px inputs give 6 x 6 x 100 features, 64 px give 1 x 1 x 100; below about 60 px the
    trunk has nothing left (ValueError). Input ``(B, 3, R, R)``; output ``(B,)``.
    """

    def __init__(self, resolution: int = 200, in_channels: int = 3, p: float = 0.5,
                 dense_units: int = 150, p_out: float | None = None, n_outputs: int = 1):
        super().__init__()
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 50, 4, stride=2), nn.ReLU(),
            nn.Conv2d(50, 50, 3, stride=2), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(50, 100, 3), nn.ReLU(),
            nn.Conv2d(100, 100, 3), nn.ReLU(),
            nn.MaxPool2d(3), nn.Flatten(),
        )
        r = _check_positive_int(resolution, "resolution")
        n_feat = _trunk_features(self.features, (in_channels, r, r), "AuthorsFaceCNN")
        p = _check_p(p, "dropout")
        self.head = _Head(n_feat, dense_units, self.n_outputs, p, _check_p(p if p_out is None else p_out, "dropout"))
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.head(self.features(x)))


class AuthorsSpliceCNN(_DropoutModel):
    """The authors' splicing CNN on one-hot ``(B, 4, L)``: conv1d 101@4 -> ReLU -> max-pool 3 ->
    conv1d 50@4 -> ReLU -> max-pool 3 (L = 101 gives 9 x 50) -> dropout(p) -> dense
    ``dense_units`` (50) -> ReLU -> dropout(p) -> dense 1 (linear). ``(B, L, 4)`` is transposed.
    """

    def __init__(self, seq_len: int = 101, n_channels: int = 4, p: float = 0.15,
                 dense_units: int = 50, p_out: float | None = None, n_outputs: int = 1):
        super().__init__()
        self.n_channels = _check_positive_int(n_channels, "n_channels")
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        self.features = nn.Sequential(
            nn.Conv1d(n_channels, 101, 4), nn.ReLU(), nn.MaxPool1d(3),
            nn.Conv1d(101, 50, 4), nn.ReLU(), nn.MaxPool1d(3), nn.Flatten(),
        )
        n_feat = _trunk_features(self.features, (n_channels, _check_positive_int(seq_len, "seq_len")),
                                 "AuthorsSpliceCNN")
        p = _check_p(p, "dropout")
        self.head = _Head(n_feat, dense_units, self.n_outputs, p, _check_p(p if p_out is None else p_out, "dropout"))
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3 and x.shape[1] != self.n_channels and x.shape[2] == self.n_channels:
            x = x.transpose(1, 2)
        return self._finish(self.head(self.features(x)))


#: the authors' model of each experiment (AUTHORS.md), by the name a configuration gives
AUTHORS_MODELS = ("mnist_7v9_cnn", "mnist_0to9_cnn", "utkface_cnn", "splicing_cnn")
MODELS = AUTHORS_MODELS + ("mnist_cnn", "mlp", "splice_cnn", "face_cnn")


def build_model(config, input_shape: Sequence[int], n_outputs: int) -> nn.Module:
    """The network ``config.model`` for inputs of per-point shape ``input_shape``.

    Parameters
    ----------
    config : ExperimentConfig (reads ``model``, ``dropout``, ``conv_dropout``, ``hidden``,
        ``dense_units``).
    input_shape : shape of one input, e.g. ``(1, 28, 28)``.
    n_outputs : number of classes (classification) or 1 (regression).
    """
    shape = tuple(int(s) for s in input_shape)
    name = config.model
    if name in ("mnist_7v9_cnn", "mnist_0to9_cnn"):
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"model {name!r} needs square images (C, H, H), got input shape {shape}")
        return AuthorsImageCNN(n_outputs, 35 if name == "mnist_7v9_cnn" else 40, config.conv_dropout,
                               in_channels=shape[0], image_size=shape[1],
                               dense_units=config.dense_units, p_out=config.dropout)
    if name == "utkface_cnn":
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"model 'utkface_cnn' needs square images (C, R, R), got input shape {shape}")
        return AuthorsFaceCNN(shape[1], shape[0], config.conv_dropout, config.dense_units,
                              p_out=config.dropout, n_outputs=n_outputs)
    if name == "splicing_cnn":
        if len(shape) != 2:
            raise ValueError(f"model 'splicing_cnn' needs one-hot sequences (4, L), got input shape {shape}")
        channels, length = (shape[0], shape[1]) if shape[0] <= shape[1] else (shape[1], shape[0])
        return AuthorsSpliceCNN(length, channels, config.conv_dropout, config.dense_units,
                                p_out=config.dropout, n_outputs=n_outputs)
    if name == "mnist_cnn":
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"model 'mnist_cnn' needs square images (C, H, H), got input shape {shape}")
        return MnistCNN(n_outputs, conv_dropout=config.conv_dropout, dropout=config.dropout,
                        in_channels=shape[0], image_size=shape[1], dense_units=config.dense_units)
    if name == "mlp":
        n_in = 1
        for s in shape:
            n_in *= s
        return MLP(n_in, hidden=config.hidden, p=config.dropout, n_outputs=n_outputs)
    if name == "splice_cnn":
        if len(shape) != 2:
            raise ValueError(f"model 'splice_cnn' needs one-hot sequences (4, L), got input shape {shape}")
        channels, length = (shape[0], shape[1]) if shape[0] <= shape[1] else (shape[1], shape[0])
        return SpliceCNN(seq_len=length, n_channels=channels, dense_units=config.dense_units,
                         conv_dropout=config.conv_dropout, dropout=config.dropout, n_outputs=n_outputs)
    if name == "face_cnn":
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"model 'face_cnn' needs square images (C, R, R), got input shape {shape}")
        return FaceCNN(resolution=shape[1], in_channels=shape[0], dense_units=config.dense_units,
                       conv_dropout=config.conv_dropout, dropout=config.dropout, n_outputs=n_outputs)
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
