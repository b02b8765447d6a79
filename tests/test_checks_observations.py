"""genai_course.checks.observations: records of a learner's values, and the files that carry them from the
learner's process to the grader's (plain data only: a forged file can be wrong, never run code)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from genai_course.checks.observations import MAX_ITEMS, MalformedObservations, load, observe, save


def test_a_record_keeps_the_value_not_the_object():
    t = torch.arange(6.0).reshape(2, 3).requires_grad_(True) * 2
    rec = observe(t)
    assert {k: v for k, v in rec.items() if k != "value"} == {"type": "Tensor", "shape": [2, 3], "dtype": "torch.float32", "requires_grad": True}
    assert torch.equal(rec["value"], t.detach()) and not rec["value"].requires_grad
    assert observe(torch.ones(2, dtype=torch.bfloat16))["dtype"] == "torch.bfloat16"  # stored as float32, the dtype kept
    assert observe(0.5) == {"type": "float", "value": 0.5} and observe(3) == {"type": "int", "value": 3}
    assert observe(True) == {"type": "bool", "value": True} and observe(None) == {"type": "NoneType"}
    assert observe(np.float64(0.25)) == {"type": "float64", "value": 0.25}
    assert observe([1, (2.0, "x")]) == {"type": "list", "length": 2, "items": [
        {"type": "int", "value": 1}, {"type": "tuple", "length": 2, "items": [{"type": "float", "value": 2.0}, {"type": "str", "value": "x"}]}]}
    assert observe(list(range(MAX_ITEMS + 5)))["length"] == MAX_ITEMS + 5
    assert len(observe(list(range(MAX_ITEMS + 5)))["items"]) == MAX_ITEMS


def test_objects_that_pretend_are_only_their_type():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class Float(float):
        def __float__(self):
            return 4.0

    class Sneaky(torch.Tensor):
        pass

    assert observe(AlwaysEqual()) == {"type": "AlwaysEqual"}
    assert observe(Float(1.0)) == {"type": "Float"}
    assert observe(torch.zeros(2).as_subclass(Sneaky)) == {"type": "Sneaky"}
    assert observe(torch.nn.Linear(2, 2)) == {"type": "Linear"}


def test_save_and_load_round_trip(tmp_path):
    seen = {"out": observe(torch.randn(3, 2)), "n": observe(7), "nan": float("nan"), "state": {"w": torch.ones(2, dtype=torch.int64)},
            "flags": [True, False], "zero_dim": observe(torch.tensor(2.5))}
    save(seen, tmp_path, "abc")
    back = load(tmp_path, "abc")
    assert torch.equal(back["out"]["value"], seen["out"]["value"]) and back["out"]["shape"] == [3, 2]
    assert back["zero_dim"]["value"].shape == () and back["state"]["w"].dtype == torch.int64
    assert back["n"] == seen["n"] and back["flags"] == [True, False] and back["nan"] != back["nan"]
    assert load(tmp_path, "other") is None


@pytest.mark.parametrize("forge, says", [
    (lambda d: (d / "x.json").write_text("{not json", encoding="ascii"), "not JSON"),
    (lambda d: (d / "x.json").write_text("[1, 2]", encoding="ascii"), "not a JSON object"),
    (lambda d: (d / "x.json").write_text(json.dumps({"a": {"$array": 0}}), encoding="ascii"), "array 0 is missing"),
    (lambda d: (d / "x.json").write_text(json.dumps({"a": {"$array": "../../etc/passwd"}}), encoding="ascii"), "a bad array reference"),
    (lambda d: (d / "x.json").write_text(json.dumps({"a": {"$float": "1e999"}}), encoding="ascii"), "a bad float"),
])
def test_a_forged_file_is_refused_with_a_reason(tmp_path, forge, says):
    forge(tmp_path)
    with pytest.raises(MalformedObservations, match=says):
        load(tmp_path, "x")


def test_a_pickled_array_never_runs(tmp_path):
    """An .npy holding Python objects (which np.load would unpickle) is refused, and its code does not run."""
    class Boom:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('RAN').write_text('x')",))

    np.save(tmp_path / "x.0.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    (tmp_path / "x.json").write_text(json.dumps({"a": {"$array": 0}}), encoding="ascii")
    with pytest.raises(MalformedObservations, match="unreadable"):
        load(tmp_path, "x")
    assert not (tmp_path / "RAN").exists()
    (tmp_path / "y.json").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(MalformedObservations):
        load(tmp_path, "y")
