"""Provenance in every sidecar: recorded, kept as a history, and a table written by other code
is continued with a warning naming the difference (the configuration alone can refuse it)."""
import json
import warnings

import pytest

from deimos_utils.experiment import store
from deimos_utils.experiment.provenance import provenance_differences, run_provenance


def _sidecar(prov, n_acquired=4):
    return {"config": {"n_acquired": n_acquired}, "provenance": [prov], "method": "random", "seed": 0}


def test_record_has_versions_commit_device_and_flags():
    p = run_provenance("cpu")
    assert p["packages"]["torch"] and p["packages"]["deimos_utils"]
    assert p["device"] == "cpu" and p["deterministic"]["cudnn_deterministic"] is True
    assert isinstance(p["git_commit"], str) and p["git_dirty"] in (True, False, None)
    other = dict(p, git_commit="0" * 40, packages=dict(p["packages"], torch="1.0"))
    diffs = provenance_differences(p, other)
    assert any(d.startswith("git_commit") for d in diffs) and any("packages.torch" in d for d in diffs)
    assert provenance_differences(p, dict(p, host="elsewhere")) == []
    assert provenance_differences(None, p)[0].startswith("the table records no provenance")


def test_other_code_warns_and_the_history_grows(tmp_path):
    path = tmp_path / "random__seed0.csv"
    mine = run_provenance("cpu")
    t = store.RunTable(path)
    t.open(_sidecar(mine))
    t.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same code: no warning
        with store.RunTable(path) as again:
            again.open(_sidecar(mine))
    other = dict(mine, git_commit="f" * 40)
    with pytest.warns(UserWarning, match=r"written by other code.*git_commit"), store.RunTable(path) as t:
        t.open(_sidecar(other))
        t.truncate_rows(0)  # the history grows when the other code writes
    history = json.loads(path.with_suffix(".json").read_text())["provenance"]
    assert [h["git_commit"] for h in history] == [mine["git_commit"], "f" * 40]
    with pytest.raises(ValueError, match="n_acquired: recorded 4, now 8"):
        store.RunTable(path).open(_sidecar(mine, n_acquired=8))


def test_reading_back_leaves_the_sidecar_and_writing_grows_it_first(tmp_path):
    path = tmp_path / "random__seed0.csv"
    mine = run_provenance("cpu")
    with store.RunTable(path) as t:
        t.open(_sidecar(mine))
        t.append({"method": "random", "seed": 0, "iteration": 0})
    before = path.with_suffix(".json").read_bytes()
    other = dict(mine, git_commit="e" * 40)
    with pytest.warns(UserWarning, match="written by other code"), store.RunTable(path) as t:
        rows = t.open(_sidecar(other))  # a read-back: nothing written
    assert len(rows) == 1 and path.with_suffix(".json").read_bytes() == before
    with pytest.warns(UserWarning, match="written by other code"), store.RunTable(path) as t:
        t.open(_sidecar(other))
        assert path.with_suffix(".json").read_bytes() == before
        t.truncate_rows(1)  # the first write records the code that writes
    history = json.loads(path.with_suffix(".json").read_text())["provenance"]
    assert [h["git_commit"] for h in history] == [mine["git_commit"], "e" * 40]
