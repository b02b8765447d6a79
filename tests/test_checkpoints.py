"""genai_course.checkpoints: atomic writes, safe reads, clear errors."""

from __future__ import annotations

import os
import pickle
import random
import re

import pytest
import torch

from genai_course import checkpoints
from genai_course.checkpoints import FORMAT, VERSION, CheckpointError

PAYLOAD = {"weights": {"w": torch.arange(6.0).reshape(2, 3)}, "step": 7, "name": "x", "sizes": [1, 2], "nested": {"a": 0.5}}


def test_round_trip(tmp_path):
    path = tmp_path / "a.pt"
    assert checkpoints.save(path, PAYLOAD) == path
    loaded = checkpoints.load(path)
    assert (loaded["format"], loaded["version"]) == (FORMAT, VERSION)
    assert torch.equal(loaded["weights"]["w"], PAYLOAD["weights"]["w"])
    assert {k: loaded[k] for k in ("step", "name", "sizes", "nested")} == {k: PAYLOAD[k] for k in ("step", "name", "sizes", "nested")}
    assert checkpoints.load(str(path))["step"] == 7  # str paths too


def test_save_leaves_no_temporary_files_and_replaces(tmp_path):
    path = tmp_path / "a.pt"
    checkpoints.save(path, {"step": 1})
    checkpoints.save(path, {"step": 2})
    assert sorted(os.listdir(tmp_path)) == ["a.pt"]
    assert checkpoints.load(path)["step"] == 2


def test_save_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoints.save("here.pt", {"step": 3})
    assert checkpoints.load("here.pt")["step"] == 3


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_mid_save_keeps_the_old_file(tmp_path, monkeypatch, error):
    path = tmp_path / "a.pt"
    checkpoints.save(path, {"step": 1})
    original = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")  # some bytes reach the disk, then the write dies
        raise error

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(type(error)):
        checkpoints.save(path, {"step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert checkpoints.load(path)["step"] == 1
    assert sorted(os.listdir(tmp_path)) == ["a.pt"]


def test_save_into_a_missing_folder_message(tmp_path):
    path = tmp_path / "nope" / "a.pt"
    with pytest.raises(CheckpointError, match=re.escape(f"cannot write checkpoint {path}: folder {path.parent} does not exist")):
        checkpoints.save(path, {"step": 1})


class _RunsCode:
    """Unpickling this would call os.mkdir(marker): harmless, and visible if it happened."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_load_refuses_code_in_a_pickle(tmp_path, writer):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    payload = {"format": FORMAT, "version": VERSION, "x": _RunsCode(str(marker))}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is not a readable course checkpoint (refused by the safe loader")) as info:
        checkpoints.load(path)
    assert not marker.exists(), "loading ran code from the file"
    message = str(info.value)
    assert "\n" not in message and "weights_only` set to `False`" not in message  # never advise the unsafe load
    if writer == "torch.save":
        assert "mkdir" in message  # names what was refused


@pytest.mark.parametrize("content", [random.Random(0).randbytes(4096), b"", b"PK\x03\x04 not really a zip"], ids=["random", "empty", "bad-zip"])
def test_corrupt_file_message(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is not a readable course checkpoint (")) as info:
        checkpoints.load(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("foreign", [{"step": 1}, [1, 2], torch.zeros(3), {"format": "someone-else"}], ids=["dict", "list", "tensor", "other-format"])
def test_foreign_torch_file_message(tmp_path, foreign):
    path = tmp_path / "foreign.pt"
    torch.save(foreign, path)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)")):
        checkpoints.load(path)


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_wrong_version_message(tmp_path, version):
    path = tmp_path / "v.pt"
    torch.save({"format": FORMAT, "version": version}, path)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} has checkpoint version {version!r}; this course reads version 1")):
        checkpoints.load(path)


def test_missing_file_message(tmp_path):
    path = tmp_path / "missing.pt"
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {path} does not exist")):
        checkpoints.load(path)


def test_folder_message(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {tmp_path} is a folder, not a file")):
        checkpoints.load(tmp_path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)
