"""Run (or resume) an experiment from the command line, for long runs outside a notebook.

    python -m deimos_utils.experiment.cli mnist_7v9_b1 --preset cpu
    python -m deimos_utils.experiment.cli mnist_7v9_b1 --preset paper --seeds 0 1 2 --workers 4
    python -m deimos_utils.experiment.cli splicing --preset cpu --set n_acquired=50 --set tag=short
    python -m deimos_utils.experiment.cli utkface_b100 --preset paper --cluster slurm
    python -m deimos_utils.experiment.cli mnist_0to9_b25 --preset paper --scheduler tcp://head:8786

Every (method, seed) run is one task of a dask grid (:mod:`deimos_utils.experiment.grid`): by default on a
local cluster of ``--workers`` single-threaded processes (default: the number of cores;
``--workers 1`` runs in this process; ``--jobs`` is the same option), or on an existing dask
cluster (``--scheduler``), or on Slurm (``--cluster slurm``, configured by dask's
``jobqueue.yaml``; see ``docs/jobqueue.yaml``). Every run writes its own table under
``--results-dir``; a run that stops (Ctrl-C, a killed job or worker) continues from its last
complete row when the same command is given again. The notebooks read these tables: a finished
run is not trained again. One process at a time writes a table (a second one stops with an
error naming the holder); local worker processes end with the command that started them.

``--set FIELD=VALUE`` values are read by the type of the config field: integers, floats,
booleans (true/false/1/0, any case), strings, ``none`` where a field may be None, and lists
(``--set hidden=256,256`` or ``--set "classes=(7, 9)"``). Every error is one line on stderr with
exit status 2 (``--debug`` shows the traceback instead).
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading

from .config import ExperimentConfig, get_config, list_experiments

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
_TRUE, _FALSE = ("true", "1"), ("false", "0")


# ------------------------------------------------------------------------------------ --set

def _field_kinds() -> dict[str, set[str]]:
    """Config field -> the type names of its annotation, e.g. ``{"int", "None"}``."""
    out = {}
    for f in dataclasses.fields(ExperimentConfig):
        text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out[f.name] = {t.strip() for t in str(text).split("|")}
    return out


def _list_item(text: str):
    text = text.strip().strip("'\"")
    try:
        return int(text)
    except ValueError:
        return text


def parse_field_value(field: str, text: str):
    """The value of config field ``field`` written as ``text`` on the command line.

    Booleans: true/false/1/0 in any case; ``none`` (any case) for fields that may be None;
    tuples: items separated by commas or spaces, optionally in () or [] (integer items become
    int). Raises ValueError naming the field, what it got and what it expects.
    """
    kinds = _field_kinds()
    if field not in kinds:
        raise ValueError(f"unknown config field {field!r}; valid fields: {', '.join(kinds)}")
    text = text.strip()
    types = kinds[field] - {"None"}
    if "None" in kinds[field] and text.lower() == "none":
        return None
    kind = next(iter(types)) if len(types) == 1 else "str"
    expect = {"bool": "true, false, 1 or 0", "int": "an integer", "float": "a number",
              "tuple": "a list such as a,b or (a, b)"}
    try:
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "tuple":
            inner = text[1:-1] if text[:1] + text[-1:] in ("()", "[]") else text
            return tuple(_list_item(t) for t in inner.replace(",", " ").split())
    except ValueError:
        none = " or none" if "None" in kinds[field] else ""
        raise ValueError(f"--set {field}={text!r}: config field {field!r} takes {expect[kind]}{none}") from None
    return text


def parse_overrides(pairs) -> dict:
    """``["n_acquired=50", "tag=short"]`` -> ``{"n_acquired": 50, "tag": "short"}`` (typed)."""
    overrides = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}")
        key, text = pair.split("=", 1)
        key = key.strip()
        if key in overrides:
            raise ValueError(f"--set {key}=... is given twice")
        overrides[key] = parse_field_value(key, text)
    return overrides


# ------------------------------------------------------------------------------------ the command

class _UsageError(Exception):
    pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated("SIGTERM")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise _UsageError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m deimos_utils.experiment.cli", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=list_experiments())
    parser.add_argument("--preset", default="quick", help="quick, cpu or paper")
    parser.add_argument("--methods", nargs="+", help="default: the experiment's methods")
    parser.add_argument("--seeds", nargs="+", type=int, help="default: 0 .. n_repeats-1")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--data-dir", default=None, help="default: $DEIMOS_DATA_DIR or ./data")
    parser.add_argument("--workers", "--jobs", type=int, default=None, dest="workers",
                        help="worker processes of the local cluster (default: the number of "
                             "cores, at most one per run; 1: in this process), or Slurm jobs "
                             "with --cluster slurm (default: one per run)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="use an existing dask cluster")
    parser.add_argument("--cluster", choices=("local", "slurm"), default=None,
                        help="start a local (default) or Slurm dask cluster")
    parser.add_argument("--no-dashboard", action="store_true", help="do not serve dask's dashboard")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE",
                        help="override a config field (repeatable)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def _check_lists(methods, seeds, workers) -> None:
    for what, values in (("--methods", methods), ("--seeds", seeds)):
        repeated = sorted({v for v in values if list(values).count(v) > 1})
        if repeated:
            raise ValueError(f"{what} names {', '.join(map(str, repeated))} more than once")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise ValueError(f"--seeds must be integers >= 0, got {negative[0]}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers (--jobs) must be at least 1, got {workers}")


def _run(args) -> int:
    from .grid import run_grid

    config = get_config(args.experiment, preset=args.preset, **parse_overrides(args.set))
    methods = args.methods or list(config.methods)
    seeds = args.seeds if args.seeds is not None else list(config.seeds)
    _check_lists(methods, seeds, args.workers)
    config.replace(methods=tuple(methods))  # names and tasks checked before any data is read
    run_grid(config, methods, seeds, results_dir=args.results_dir, data_dir=args.data_dir,
             workers=args.workers, scheduler=args.scheduler, cluster=args.cluster,
             dashboard=not args.no_dashboard)
    return 0


def _one_line(err: BaseException) -> str:
    text = ""
    for line in (ln.strip() for ln in str(err).splitlines()):
        if line:
            text += ("" if not text else " " if text[-1] in ".:;,(" else "; ") + line
    from .grid import GridError
    from .store import RunLockedError

    expected = (ValueError, FileNotFoundError, OSError, _UsageError, RunLockedError, GridError)
    if isinstance(err, expected):
        return text or type(err).__name__
    return f"{type(err).__name__}: {text} (--debug shows the traceback)"


def main(argv=None) -> int:
    """The command line; returns the exit status (0; 2 on an error; 130 on Ctrl-C, 143 on SIGTERM)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    prog = "python -m deimos_utils.experiment.cli"
    previous = signal.getsignal(signal.SIGTERM)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # SIGTERM unwinds like Ctrl-C: worker pools are shut down on the way out
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(_parser().parse_args(argv))
    except KeyboardInterrupt as err:
        if debug:
            raise
        what = "terminated" if isinstance(err, _Terminated) else "interrupted"
        print(f"{prog}: {what}; give the same command again to continue", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(err, _Terminated) else EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - every error becomes one line
        if debug:
            raise
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
