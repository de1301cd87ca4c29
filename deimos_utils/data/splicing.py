"""5' alternative splicing regression data: the A5SS library, or a simulated stand-in.

Real data: the alternative 5' splice site (A5SS) library of Rosenberg et al., "Learning the
sequence determinants of alternative splicing from millions of random sequences", Cell 163
(2015); files ``data_gz/A5SS_Seqs.csv.gz`` and ``data_gz/Reads.mat.gz`` of the GitHub repository
Alex-Rosenberg/cell-2015 (also GEO GSE74070). ``A5SS_Seqs.csv`` has an index column and a ``Seq``
column (one 101-nt sequence per plasmid); ``Reads.mat`` (MATLAB v5) holds the sparse read matrix
``A5SS`` (plasmids x splice positions, rows aligned with the csv rows; column 0 = SD1, column 44
= SD2). The label is the usage of the first donor, ``A5SS[:, 0] / A5SS.sum(1)``, over the 265,137
plasmids with at least one read.

Sequence layout (0-based positions of the 101-nt sequence). The plasmid template
``TGCTTGG N25 GGTCGACCCAGGTTCGTG N25 GAGGTATTCTTATCACCTTCGTGGCT`` and the random regions
``Seq[7:32]`` and ``Seq[50:75]`` are those of the cell-2015 repository (notebook
``Cell2015_N0B_A5SS_Fastq_to_Spliced_Reads`` and its ``bin/`` scripts); the junction positions
below are inferred from them and from SD2 being read column 44:

* position 0 is intron nucleotide +2 of SD1 (the SD1 junction lies just before the sequence,
  read-matrix column 0); a junction at read column c lies just before position c - 1;
* random region R1 = positions 7..31 (25 nt, in the intron of SD1 and the exon of SD2);
* SD2 = ``CAG|GTTCGT`` at positions 40..48, junction between 42 and 43 (read column 44);
* random region R2 = positions 50..74 (25 nt, in the intron of SD2);
* the rest is fixed backbone.

The real files cannot always be had (no network, no GEO access), so
:func:`simulate_splicing_library` builds a clearly labelled simulated library with the same
layout and a splicing-like label; :func:`load_splicing` uses the real files when present and
falls back to it with a warning. Every result carries ``source`` (``"simulated"`` or
``"A5SS (Rosenberg et al. 2015)"``) for notebook output and figure titles.
"""
from __future__ import annotations

import gzip
import io
import logging
import os
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..runtime import make_rng
from .paths import MissingDataError, missing_files_message, resolve_data_dir

__all__ = [
    "A5SS_FILES",
    "A5SS_SOURCE",
    "A5SS_URLS",
    "ALPHABET",
    "DONOR_LOG_ODDS",
    "DONOR_PWM",
    "N_A5SS_WITH_READS",
    "RANDOM_REGIONS",
    "SEQ_LEN",
    "SIMULATED_SOURCE",
    "SplicingData",
    "TEMPLATE",
    "encode_dna",
    "load_a5ss",
    "load_splicing",
    "one_hot_dna",
    "simulate_splicing_library",
]

logger = logging.getLogger(__name__)

A5SS_SOURCE = "A5SS (Rosenberg et al. 2015)"
SIMULATED_SOURCE = "simulated"
A5SS_FILES = ("A5SS_Seqs.csv.gz", "Reads.mat.gz")
A5SS_URLS = {
    name: f"https://github.com/Alex-Rosenberg/cell-2015/raw/master/data_gz/{name}" for name in A5SS_FILES
}
GEO_URL = "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE74070"
N_A5SS_WITH_READS = 265_137
"""Plasmids of the A5SS library with at least one read (the paper's dataset size)."""
SD1_COLUMN = 0
SD2_COLUMN = 44

ALPHABET = "ACGT"
SEQ_LEN = 101
R1 = (7, 32)
R2 = (50, 75)
RANDOM_REGIONS = (R1, R2)
"""Half-open [start, stop) positions of the two 25-nt random regions."""
TEMPLATE = "TGCTTGG" + "N" * 25 + "GGTCGACCCAGGTTCGTG" + "N" * 25 + "GAGGTATTCTTATCACCTTCGTGGCT"
"""The 101-nt A5SS layout; ``N`` marks the random positions."""
SD2_JUNCTION = 43
"""Position of intron nucleotide +1 (the G of GT) of SD2."""

# Approximate human 5' splice-site position frequencies, consensus MAG|GURAGU, positions
# -3 -2 -1 | +1 +2 +3 +4 +5 +6, rows A C G U(T). Rounded values in the spirit of the published
# compilations (Shapiro & Senapathy 1987, Nucleic Acids Res 15:7155; Burge, Tuschl & Sharp
# 1999, The RNA World 2nd ed.); used only to simulate, not as a reference.
DONOR_PWM = np.array(
    [
        # -3    -2    -1    +1     +2     +3    +4    +5    +6
        [0.33, 0.60, 0.09, 0.001, 0.002, 0.60, 0.70, 0.08, 0.16],  # A
        [0.36, 0.13, 0.03, 0.001, 0.010, 0.03, 0.08, 0.05, 0.15],  # C
        [0.19, 0.14, 0.80, 0.997, 0.002, 0.34, 0.12, 0.79, 0.20],  # G
        [0.12, 0.13, 0.08, 0.001, 0.986, 0.03, 0.10, 0.08, 0.49],  # U/T
    ]
)
DONOR_PWM = DONOR_PWM / DONOR_PWM.sum(axis=0, keepdims=True)
DONOR_LOG_ODDS = np.log(DONOR_PWM / 0.25)  # (4, 9) natural-log odds against a uniform background

# Simulation constants (natural-log strength units). Chosen so that the mean SD1 usage is
# near 0.5 with a wide, partly bimodal spread (variance of y about 0.12, so the test-MSE
# range 0.09-0.11 of the paper's Table 1 lies between "predict the mean" and the read-noise
# floor of about 0.015); not fitted to the real library.
_SD1_STRENGTH = 3.0
_SD2_OFFSET = 0.0
_CRYPTIC_OFFSET = -3.0
_DONOR_SCALE = 0.8
_COMPOSITION_SD = 0.16
_HEXAMER_NOISE_SD = 0.10
_N_MOTIFS = 24
_MOTIF_SD = 1.5


# --------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True, eq=False)
class SplicingData:
    """One-hot sequences and SD1 usage.

    Attributes
    ----------
    x : torch.Tensor
        (N, 4, L) float32 one-hot, channels A, C, G, T (for ``Conv1d``); L = 101.
    y : torch.Tensor
        (N,) float32 observed SD1 usage in [0, 1] (SD1 reads / all reads).
    ids : torch.Tensor
        (N,) int64 row of each example in the source (csv / read-matrix row; for a simulated
        library 0..N-1).
    sequences : tuple of str
        (N,) the sequences.
    total_reads : torch.Tensor
        (N,) int64 reads per example (>= 1).
    source : str
        ``"A5SS (Rosenberg et al. 2015)"`` or ``"simulated"``.
    usage_true : torch.Tensor or None
        (N,) float32 noise-free SD1 usage of a simulated library; None for real data.
    seed : int or None
        Seed of a simulated library; None for real data.
    path : str or None
        Folder the real files were read from; None for a simulated library.
    """

    x: torch.Tensor
    y: torch.Tensor
    ids: torch.Tensor
    sequences: tuple[str, ...]
    total_reads: torch.Tensor
    source: str
    usage_true: torch.Tensor | None = None
    seed: int | None = None
    path: str | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def is_simulated(self) -> bool:
        return self.source == SIMULATED_SOURCE

    def __repr__(self) -> str:
        extra = f", seed={self.seed}" if self.seed is not None else f", path={self.path!r}"
        return f"SplicingData(source={self.source!r}, n={len(self)}, x={tuple(self.x.shape)}{extra})"


# --------------------------------------------------------------------------------------------
# One-hot encoding

_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_LUT[ord("U")] = _LUT[ord("u")] = 3


def encode_dna(sequences: Sequence[str], length: int | None = None) -> np.ndarray:
    """(N, L) uint8 codes: A 0, C 1, G 2, T/U 3 (either case), anything else 4.

    Sequences shorter than ``length`` (default: the longest) are padded with code 4.

    Raises
    ------
    ValueError
        A sequence longer than ``length``, or a non-string entry.
    """
    seqs = list(sequences)
    for s in seqs:
        if not isinstance(s, str):
            raise ValueError(f"sequences must be strings, got {type(s).__name__}: {s!r}")
    longest = max((len(s) for s in seqs), default=0)
    if length is None:
        length = longest
    elif longest > length:
        raise ValueError(f"a sequence has {longest} letters, more than length={length}")
    if not seqs:
        return np.zeros((0, length), dtype=np.uint8)
    text = "".join(s.ljust(length, "N") for s in seqs).encode("ascii", "replace")
    return _LUT[np.frombuffer(text, dtype=np.uint8)].reshape(len(seqs), length)


def one_hot_dna(sequences: Sequence[str] | np.ndarray, length: int | None = None) -> np.ndarray:
    """(N, 4, L) float32 one-hot, channels A, C, G, T; N or any other letter -> all-zero column.

    ``sequences`` is a list of strings or an (N, L) code array from :func:`encode_dna`.
    """
    codes = sequences if isinstance(sequences, np.ndarray) else encode_dna(sequences, length)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, L), got shape {codes.shape}")
    out = np.zeros((codes.shape[0], 4, codes.shape[1]), dtype=np.float32)
    for c in range(4):
        out[:, c, :] = codes == c
    return out


def _decode_codes(codes: np.ndarray) -> tuple[str, ...]:
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[codes]
    return tuple(row.tobytes().decode("ascii") for row in letters)


# --------------------------------------------------------------------------------------------
# Real A5SS files


def _expected_locations(root: Path) -> list[Path]:
    return [root / "splicing", root]


def _find_file(root: Path, name: str) -> Path | None:
    """``name`` or its uncompressed form in ``<root>/splicing/`` or ``root``."""
    for folder in _expected_locations(root):
        for candidate in (name, name[: -len(".gz")]):
            p = folder / candidate
            if p.is_file():
                return p
    return None


def _download(url: str, dest: Path, timeout: float = 60.0) -> str | None:
    """Download ``url`` to ``dest``; None on success, else the reason it failed."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        logger.info("downloading %s -> %s", url, dest)
        with urllib.request.urlopen(url, timeout=timeout) as response:
            dest.parent.mkdir(parents=True, exist_ok=True)  # only once the server answered
            with open(tmp, "wb") as f:
                while True:
                    block = response.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
        os.replace(tmp, dest)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not downloaded"
        try:
            tmp.unlink()
        except OSError:
            pass
        return f"{type(exc).__name__}: {exc}"


def _a5ss_missing_message(root: Path, missing: list[str], reasons: dict[str, str]) -> str:
    how_lines = [f"Get {n} from {A5SS_URLS[n]}" for n in A5SS_FILES]
    how = (
        "\n".join(how_lines)
        + f"\n(repository Alex-Rosenberg/cell-2015, folder data_gz/; or GEO GSE74070: {GEO_URL})"
        + f"\nand put them, gzip-compressed as downloaded, in {root / 'splicing'}/."
        + f"\nMissing: {', '.join(missing)}."
    )
    if reasons:
        how += "\nDownload failed: " + "; ".join(f"{n}: {r}" for n, r in reasons.items())
    return missing_files_message("A5SS splicing", root / "splicing", list(A5SS_FILES), how)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _read_sequences(path: Path) -> list[str]:
    import pandas as pd

    table = pd.read_csv(path, index_col=0, compression="gzip" if path.name.endswith(".gz") else None)
    if "Seq" not in table.columns:
        raise ValueError(f"{path} has no 'Seq' column (columns: {list(table.columns)})")
    return [str(s) for s in table["Seq"].tolist()]


def _read_reads(path: Path):
    import scipy.io
    import scipy.sparse

    raw = io.BytesIO(_read_bytes(path))
    mat = scipy.io.loadmat(raw, variable_names=["A5SS"])  # skip the A3SS matrix
    if "A5SS" not in mat:
        keys = sorted(name for name, _, _ in scipy.io.whosmat(io.BytesIO(raw.getvalue())))
        raise ValueError(f"{path} holds no matrix named 'A5SS' (variables: {keys})")
    return scipy.sparse.csr_matrix(mat["A5SS"])


def load_a5ss(data_dir: str | os.PathLike | None = None, download: bool = True) -> SplicingData:
    """Load the real A5SS library (Rosenberg et al. 2015), downloading it when possible.

    Files: ``A5SS_Seqs.csv.gz`` and ``Reads.mat.gz`` in ``<data_dir>/splicing/`` (or in
    ``data_dir``; uncompressed ``A5SS_Seqs.csv`` / ``Reads.mat`` are accepted too).

    Returns
    -------
    SplicingData
        ``x`` (N, 4, 101) one-hot, ``y`` (N,) SD1 usage = ``A5SS[:, 0] / A5SS.sum(1)``, ``ids``
        the kept rows (those with at least one read; N = 265,137 for the published files).

    Raises
    ------
    MissingDataError
        A file is absent and could not be downloaded; the message names the files, where to
        put them and where to get them.
    ValueError
        The files disagree (row counts) or lack the ``Seq`` column / ``A5SS`` matrix.
    """
    root = resolve_data_dir(data_dir)
    found = {name: _find_file(root, name) for name in A5SS_FILES}
    reasons: dict[str, str] = {}
    if download:
        for name, path in found.items():
            if path is not None:
                continue
            if reasons:  # one failure is enough: do not wait for a second time-out
                reasons[name] = "not tried after the first download failed"
                continue
            reason = _download(A5SS_URLS[name], root / "splicing" / name)
            if reason is None:
                found[name] = root / "splicing" / name
            else:
                reasons[name] = reason
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MissingDataError(_a5ss_missing_message(root, missing, reasons))

    seq_path, reads_path = found["A5SS_Seqs.csv.gz"], found["Reads.mat.gz"]
    sequences = _read_sequences(seq_path)
    reads = _read_reads(reads_path)
    if reads.shape[0] != len(sequences):
        raise ValueError(
            f"{reads_path} has {reads.shape[0]} rows but {seq_path} has {len(sequences)} sequences"
        )
    total = np.asarray(reads.sum(axis=1)).ravel()
    keep = np.flatnonzero(total > 0)
    sd1 = np.asarray(reads[:, SD1_COLUMN].todense()).ravel()
    y = sd1[keep] / total[keep]
    kept = [sequences[i] for i in keep]
    lengths = {len(s) for s in kept}
    if lengths != {SEQ_LEN}:
        warnings.warn(
            f"A5SS sequences have lengths {sorted(lengths)[:5]}..., expected {SEQ_LEN}; shorter ones "
            "are padded with all-zero columns"
        )
    if len(keep) != N_A5SS_WITH_READS:
        logger.info(
            "A5SS: %d plasmids with reads (the published files give %d)", len(keep), N_A5SS_WITH_READS
        )
    x = one_hot_dna(kept, length=max(SEQ_LEN, max(lengths, default=0)))
    return SplicingData(
        x=torch.from_numpy(x),
        y=torch.from_numpy(y.astype(np.float32)),
        ids=torch.from_numpy(keep.astype(np.int64)),
        sequences=tuple(kept),
        total_reads=torch.from_numpy(np.rint(total[keep]).astype(np.int64)),
        source=A5SS_SOURCE,
        path=str(seq_path.parent),
    )


# --------------------------------------------------------------------------------------------
# Simulated library


def _hexamer_codes(codes: np.ndarray, region: tuple[int, int]) -> np.ndarray:
    """(N, W) hexamer indices (base 4, first letter most significant) of the windows that
    overlap ``region`` by at least one nucleotide."""
    start, stop = region
    first, last = max(start - 5, 0), min(stop - 1, codes.shape[1] - 6)
    idx = np.zeros((codes.shape[0], last - first + 1), dtype=np.int64)
    for k in range(6):
        idx = idx * 4 + codes[:, first + k : last + k + 1]
    return idx


def _hexamer_table(rng: np.random.Generator) -> np.ndarray:
    """(4096,) hexamer weights: composition (additive per letter and place) + a few strong
    motifs + small independent noise."""
    comp = rng.normal(0.0, _COMPOSITION_SD, size=(6, 4))
    comp -= comp.mean(axis=1, keepdims=True)
    letters = (np.arange(4096)[:, None] // 4 ** np.arange(5, -1, -1)[None, :]) % 4  # (4096, 6)
    table = comp[np.arange(6)[None, :], letters].sum(axis=1)
    motifs = rng.choice(4096, size=_N_MOTIFS, replace=False)
    table[motifs] += rng.normal(0.0, _MOTIF_SD, size=_N_MOTIFS)
    table += rng.normal(0.0, _HEXAMER_NOISE_SD, size=4096)
    return table


def _expected_window_sum(table: np.ndarray, region: tuple[int, int]) -> float:
    """Expected sum of ``table`` over the windows overlapping ``region`` when the random
    positions of :data:`TEMPLATE` are uniform (exact: averages over every completion)."""
    template = encode_dna([TEMPLATE])[0]
    start, stop = region
    first, last = max(start - 5, 0), min(stop - 1, SEQ_LEN - 6)
    total = 0.0
    for s in range(first, last + 1):
        idx = np.zeros(1, dtype=np.int64)
        for k in range(6):
            letter = template[s + k]
            options = np.arange(4) if letter == 4 else np.array([letter])
            idx = (idx[:, None] * 4 + options[None, :]).ravel()
        total += float(table[idx].mean())
    return total


def _donor_log_odds(codes: np.ndarray, junction: int) -> np.ndarray:
    """(N,) PWM log-odds of the 9-nt donor window -3..+6 around a junction (first intron nt)."""
    window = codes[:, junction - 3 : junction + 6]
    return DONOR_LOG_ODDS[window, np.arange(9)[None, :]].sum(axis=1)


def _cryptic_junctions() -> list[int]:
    """Junctions whose donor window (-3..+6) overlaps a random region, SD2 excluded."""
    out = []
    for j in range(3, SEQ_LEN - 6 + 1):
        if j == SD2_JUNCTION:
            continue
        if any(j - 3 < stop and j + 6 > start for start, stop in RANDOM_REGIONS):
            out.append(j)
    return out


def _sd1_usage(codes: np.ndarray, seed: int) -> np.ndarray:
    """(N,) noise-free SD1 usage of the simulated splicing function."""
    rng = make_rng(seed, "splicing", "landscape")
    h1, h2 = _hexamer_table(rng), _hexamer_table(rng)
    # Hexamer sums are centred on their expectation over random sequences, so that the
    # constants alone set the typical balance of the donors, whatever the seed.
    hex1 = h1[_hexamer_codes(codes, R1)].sum(axis=1) - _expected_window_sum(h1, R1)
    hex2 = h2[_hexamer_codes(codes, R2)].sum(axis=1) - _expected_window_sum(h2, R2)
    a_sd1 = _SD1_STRENGTH + hex1
    a_sd2 = _DONOR_SCALE * _donor_log_odds(codes, SD2_JUNCTION) + _SD2_OFFSET + hex2
    strengths = [a_sd1, a_sd2]
    for j in _cryptic_junctions():
        is_gt = (codes[:, j] == 2) & (codes[:, j + 1] == 3)
        if not is_gt.any():
            continue
        a = _DONOR_SCALE * _donor_log_odds(codes, j) + _CRYPTIC_OFFSET
        strengths.append(np.where(is_gt, a, -np.inf))
    a = np.stack(strengths, axis=1)
    a_max = a.max(axis=1, keepdims=True)
    w = np.exp(a - a_max)
    return w[:, 0] / w.sum(axis=1)


def simulate_splicing_library(
    n: int,
    seed: int = 0,
    *,
    reads_median: float = 20.0,
    reads_sigma: float = 1.3,
) -> SplicingData:
    """A simulated A5SS-like library (``source="simulated"``), deterministic per seed.

    Sequences follow :data:`TEMPLATE`: fixed backbone, two 25-nt uniformly random regions
    (positions 7..31 and 50..74). SD1 usage is a splicing-like function of the sequence, with
    competing donors scored in natural-log strength units:

    * SD1 (its site is fixed backbone): strength 3.0 (about that of SD2) plus the hexamer
      effect of R1, which lies in SD1's intron: the sum of ``h1[hexamer]`` over the 30
      hexamer windows overlapping R1, minus its expectation over random sequences;
    * SD2 (``CAG|GTTCGT``, junction at position 43): ``0.8 * PWM log-odds`` plus the same
      centred hexamer effect of R2 with ``h2``;
    * cryptic donors: every GT whose -3..+6 window overlaps a random region, strength
      ``0.8 * PWM log-odds - 3`` (only good sites compete);

    with :data:`DONOR_PWM` an approximate consensus MAG|GURAGU matrix. The hexamer tables
    ``h1, h2`` are fixed random draws from ``seed``: an additive per-(place, letter) part
    (nucleotide composition), 24 strong motif hexamers (sd 1.5) and small noise (sd 0.1).
    SD1 usage ``p = exp(a_SD1) / sum_d exp(a_d)``. Read totals are ``1 + Poisson(lambda)``,
    ``lambda ~ LogNormal(log(reads_median), reads_sigma)`` (heavy-tailed like sequencing
    depth; mean about 47 reads at the defaults); SD1 reads ~ Binomial(total, p); ``y`` =
    SD1 reads / total, as for the real library.

    Parameters
    ----------
    n : int
        Number of sequences (the real library has 265,137).
    seed : int
        Seeds sequences, the hexamer tables and the read noise (independent named streams).
    reads_median, reads_sigma : float
        Median (> 0) and log-sd (>= 0) of the read-depth distribution.

    Returns
    -------
    SplicingData
        ``x`` (n, 4, 101), ``y`` (n,), ``ids`` 0..n-1, ``usage_true`` (n,) noise-free usage.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (np.isfinite(reads_median) and reads_median > 0):
        raise ValueError(f"reads_median must be > 0, got {reads_median!r}")
    if not (np.isfinite(reads_sigma) and reads_sigma >= 0):
        raise ValueError(f"reads_sigma must be >= 0, got {reads_sigma!r}")
    n = int(n)
    codes = np.repeat(encode_dna([TEMPLATE]), n, axis=0)
    seq_rng = make_rng(seed, "splicing", "sequences")
    for start, stop in RANDOM_REGIONS:
        codes[:, start:stop] = seq_rng.integers(0, 4, size=(n, stop - start), dtype=np.uint8)
    usage = _sd1_usage(codes, seed)
    read_rng = make_rng(seed, "splicing", "reads")
    depth = np.exp(read_rng.normal(np.log(reads_median), reads_sigma, size=n))
    total = 1 + read_rng.poisson(depth)
    sd1_reads = read_rng.binomial(total, usage)
    y = sd1_reads / total
    return SplicingData(
        x=torch.from_numpy(one_hot_dna(codes)),
        y=torch.from_numpy(y.astype(np.float32)),
        ids=torch.arange(n, dtype=torch.int64),
        sequences=_decode_codes(codes),
        total_reads=torch.from_numpy(total.astype(np.int64)),
        source=SIMULATED_SOURCE,
        usage_true=torch.from_numpy(usage.astype(np.float32)),
        seed=int(seed),
    )


def load_splicing(
    data_dir: str | os.PathLike | None = None,
    n_simulated: int = N_A5SS_WITH_READS,
    seed: int = 0,
    download: bool = True,
) -> SplicingData:
    """The real A5SS library when its files are there (or download), else a simulated one.

    Falling back to :func:`simulate_splicing_library` (``n_simulated`` sequences, ``seed``)
    emits a ``UserWarning`` saying so; check ``result.source`` before reporting numbers.
    """
    try:
        return load_a5ss(data_dir, download=download)
    except MissingDataError as exc:
        first_line = str(exc).splitlines()[0]
        message = (
            f"{first_line} -> using a SIMULATED splicing library instead (n={n_simulated}, seed={seed}); "
            f"results are not those of the real A5SS data. Put {' and '.join(A5SS_FILES)} in "
            f"{resolve_data_dir(data_dir) / 'splicing'} to use the real library."
        )
        warnings.warn(message, stacklevel=2)
        return simulate_splicing_library(n_simulated, seed=seed)
