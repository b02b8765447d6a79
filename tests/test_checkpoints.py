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
    assert sorted(os.listdir(tmp_path)) == ["a.pt", "a.pt.sha256"]  # the checkpoint and its hash, no temporary files
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
    assert checkpoints.load(path)["step"] == 1  # the old file still matches its old hash
    assert sorted(os.listdir(tmp_path)) == ["a.pt", "a.pt.sha256"]


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


# --------------------------------------------------------------------------- hashes, sidecars and manifests

import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

from genai_course import cli, models  # noqa: E402


@pytest.mark.parametrize("size", [0, 1, checkpoints.CHUNK - 1, checkpoints.CHUNK, 2 * checkpoints.CHUNK + 17])
def test_sha256_reads_in_chunks_and_matches_hashlib(tmp_path, size):
    path = tmp_path / "f.bin"
    content = random.Random(size).randbytes(size)
    path.write_bytes(content)
    assert checkpoints.sha256(path) == hashlib.sha256(content).hexdigest()


def test_save_writes_a_sidecar_in_sha256sum_format(tmp_path):
    path = checkpoints.save(tmp_path / "a.pt", {"step": 1})
    side = checkpoints.sidecar_path(path)
    assert side == tmp_path / "a.pt.sha256"
    assert side.read_text() == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  a.pt\n"
    assert checkpoints.verify_sidecar(path) == checkpoints.sha256(path)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum on this machine")
def test_sha256sum_accepts_the_sidecar_and_the_manifest(tmp_path):
    a, b = checkpoints.save(tmp_path / "a.pt", {"step": 1}), checkpoints.save(tmp_path / "b.pt", {"step": 2})
    checkpoints.write_manifest([a, b], tmp_path / checkpoints.MANIFEST)
    for listing in ("a.pt.sha256", checkpoints.MANIFEST):
        done = subprocess.run(["sha256sum", "-c", listing], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.count(": OK") >= 1, done.stdout + done.stderr
    b.write_bytes(a.read_bytes())
    assert subprocess.run(["sha256sum", "-c", checkpoints.MANIFEST], cwd=tmp_path, capture_output=True).returncode == 1


def test_checkpoints_record_their_provenance(tmp_path):
    torch_version = str(torch.__version__)
    path = checkpoints.save(tmp_path / "a.pt", {"model": "gan-ring8", "step": 30, "extra": {"seed": 4}})
    record = checkpoints.load(path)["provenance"]
    assert record["made_by"].startswith("genai-course ") and record["torch"] == torch_version
    assert (record["model"], record["seed"], record["steps"]) == ("gan-ring8", 4, 30)
    trained = models.build("gan-ring8", seed=3)  # what `train` writes: through the same save
    trained.save(str(tmp_path / "m.pt"))
    assert {k: checkpoints.load(tmp_path / "m.pt")["provenance"][k] for k in ("model", "seed", "steps")} == {"model": "gan-ring8", "seed": 3, "steps": 0}


def test_provenance_names_model_checkpoint_hash_seed_and_options(tmp_path):
    path = checkpoints.save(tmp_path / "a.pt", {"step": 1})
    record = checkpoints.provenance(path, model="dcgan-digits", seed=5, command="sample", n=3, label=None)
    assert record == {
        "made_by": f"genai-course {__import__('genai_course').__version__}", "torch": str(torch.__version__), "command": "sample",
        "model": "dcgan-digits", "checkpoint": str(path), "checkpoint_sha256": checkpoints.sha256(path), "seed": 5,
        "options": {"n": 3, "label": None},
    }
    json.dumps(record)  # plain JSON


def test_interrupted_save_gives_a_stale_sidecar_and_the_advice_works(tmp_path, monkeypatch):
    """Killed between the two renames: the new checkpoint is whole, its old hash file stale."""
    path = checkpoints.save(tmp_path / "a.pt", {"step": 1})
    real_replace, calls = os.replace, []

    def dies_before_the_sidecar(src, dst):
        calls.append(dst)
        if str(dst).endswith(".sha256"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dies_before_the_sidecar)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save(path, {"step": 2})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["a.pt", "a.pt.sha256"]  # no temporary files left
    with pytest.raises(CheckpointError, match=re.escape(f"{path} does not match its hash file a.pt.sha256")) as info:
        checkpoints.load(path)
    assert f"If a save was interrupted (a training run killed while writing), the checkpoint itself is whole" in str(info.value)
    assert f"delete {path}.sha256 to load it unchecked" in str(info.value)
    checkpoints.sidecar_path(path).unlink()  # the advice, for a file you made yourself
    assert checkpoints.load(path)["step"] == 2


def test_a_flipped_weight_byte_loads_silently_without_the_sidecar_and_is_refused_with_it(tmp_path):
    """Why the hash: torch.load does not notice a changed weight (zip records are not checked)."""
    model = models.build("gan-ring8")
    path = tmp_path / "g.pt"
    model.save(str(path))
    weight = next(iter(model.G.state_dict().values())).numpy().tobytes()
    content = bytearray(path.read_bytes())
    at = content.find(weight)
    assert at > 0
    content[at + 2] ^= 0x40
    path.write_bytes(bytes(content))
    with pytest.raises(CheckpointError, match="does not match its hash file"):
        checkpoints.load(path)
    checkpoints.sidecar_path(path).unlink()
    changed = models.load_model(str(path))  # loads: one weight is different, and nothing says so
    assert not torch.equal(next(iter(changed.G.state_dict().values())), next(iter(model.G.state_dict().values())))


def test_manifest_round_trip_and_every_failure_named(tmp_path):
    (tmp_path / "sub").mkdir()
    paths = [checkpoints.save(tmp_path / "a.pt", {"step": 1}), checkpoints.save(tmp_path / "sub" / "b.pt", {"step": 2})]
    manifest = checkpoints.write_manifest(paths, tmp_path / checkpoints.MANIFEST)
    assert manifest.read_text().splitlines()[1].endswith("  sub/b.pt")
    assert checkpoints.verify_manifest(manifest) == paths
    paths[0].write_bytes(paths[0].read_bytes()[:-10])
    paths[1].unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"manifest {manifest}: 2 of 2 files fail: a.pt changed (expected sha256 ")) as info:
        checkpoints.verify_manifest(manifest)
    assert str(info.value).endswith("; sub/b.pt is missing")
    with pytest.raises(CheckpointError, match="is not in the manifest's folder"):
        checkpoints.write_manifest([paths[0]], tmp_path / "sub" / "M")
    with pytest.raises(CheckpointError, match=re.escape(f"cannot list {paths[1]} in manifest")):
        checkpoints.write_manifest([paths[1]], tmp_path / "M")
    (tmp_path / "escape").write_text(f"{'0' * 64}  ../outside.pt\n")
    with pytest.raises(CheckpointError, match=re.escape("1 of 1 files fail: ../outside.pt is outside the manifest's folder")):
        checkpoints.verify_manifest(tmp_path / "escape")
    (tmp_path / "bad").write_text("not a hash line\n")
    with pytest.raises(CheckpointError, match=re.escape("is not in sha256sum format (line 1 should read '<64 hex digits>  <file name>')")):
        checkpoints.verify_manifest(tmp_path / "bad")
    with pytest.raises(CheckpointError, match=re.escape(f"manifest {tmp_path / 'none'} does not exist")):
        checkpoints.verify_manifest(tmp_path / "none")


# --------------------------------------------------------------------------- tampered and foreign files: every one refused


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))  # harmless: the point is that eval was asked for


def _course_checkpoint(path, name="gan-ring8", seed=0):
    models.build(name, seed=seed).save(str(path))
    return path


def _tamper(tmp):
    """(case id, the file, the message it must get) for each tampered or foreign file."""
    cases = {}
    good = _course_checkpoint(tmp / "good.pt")

    p = checkpoints.write_crafted_checkpoint(tmp / "crafted.pt", tmp / "code-ran")
    cases["crafted pickle"] = (p, f"{p} is not a readable course checkpoint (refused by the safe loader: the file asks to call "
                                  "genai_course.checkpoints.leave_marker, which is no tensor, number, string or container)")
    p = checkpoints.write_crafted_checkpoint(tmp / "crafted-hashed.pt", tmp / "code-ran")
    checkpoints.sidecar_path(p).write_text(f"{checkpoints.sha256(p)}  {p.name}\n")  # an attacker can write the hash too
    cases["crafted pickle with a matching sidecar"] = (p, "refused by the safe loader: the file asks to call genai_course.checkpoints.leave_marker")
    p = tmp / "eval.pt"
    torch.save({"format": FORMAT, "version": VERSION, "x": _Eval()}, p)
    cases["pickle asking for eval"] = (p, "refused by the safe loader: the file asks to call builtins.eval")
    p = tmp / "legacy.pt"
    torch.save({"format": FORMAT, "version": VERSION, "x": _RunsCode(str(tmp / "code-ran"))}, p, _use_new_zipfile_serialization=False)
    cases["crafted pickle, legacy format"] = (p, "refused by the safe loader: the file asks to call posix.mkdir")
    p = tmp / "raw.pkl"
    p.write_bytes(pickle.dumps({"format": FORMAT, "version": VERSION, "x": _RunsCode(str(tmp / "code-ran"))}, protocol=2))
    cases["pickle.dump with code"] = (p, "refused by the safe loader: the file asks to call posix.mkdir")
    p = tmp / "state_dict.pt"
    torch.save(models.build("gan-ring8").G.state_dict(), p)
    cases["plain state_dict"] = (p, f"{p} is not a genai-course checkpoint (no 'genai-course-checkpoint' marker)")

    p = _course_checkpoint(tmp / "truncated.pt")
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    cases["truncated, with sidecar"] = (p, f"{p} does not match its hash file truncated.pt.sha256: expected sha256 ")
    p = tmp / "truncated-alone.pt"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated, no sidecar"] = (p, f"{p} is not a readable course checkpoint (a damaged or cut-short zip archive")
    p = _course_checkpoint(tmp / "flipped.pt")
    content = bytearray(p.read_bytes())
    content[len(content) // 2] ^= 0x01
    p.write_bytes(bytes(content))
    cases["one flipped byte"] = (p, f"{p} does not match its hash file flipped.pt.sha256")
    p, other = _course_checkpoint(tmp / "swapped.pt"), _course_checkpoint(tmp / "other.pt", "gan-grid25", seed=1)
    p.write_bytes(other.read_bytes())  # another model's checkpoint under the first's name and sidecar
    cases["another model's checkpoint under this sidecar"] = (p, f"{p} does not match its hash file swapped.pt.sha256")
    p = _course_checkpoint(tmp / "bad-sidecar.pt")
    checkpoints.sidecar_path(p).write_text("deadbeef  bad-sidecar.pt\n")
    cases["malformed sidecar"] = (p, f"hash file {p}.sha256 is not in sha256sum format")

    p = tmp / "empty.pt"
    p.write_bytes(b"")
    cases["empty file"] = (p, f"{p} is not a readable course checkpoint (the file is empty)")
    p = tmp / "notes.pt"
    p.write_text("these are not weights\n")
    cases["text file"] = (p, f"{p} is not a readable course checkpoint (a text file, not a torch.save file: it starts 'these are not weight')")
    p = tmp / "arrays.npz"
    np.savez(p, x=np.zeros(3))
    cases["numpy .npz"] = (p, f"{p} is not a readable course checkpoint (a zip archive of NumPy arrays (an .npz file?), not one torch.save wrote: it holds x.npy)")
    p = tmp / "other.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
        z.writestr("weights.bin", b"\0" * 16)
    cases["zip of other files"] = (p, f"{p} is not a readable course checkpoint (a zip archive of other files, not one torch.save wrote: it holds readme.txt, weights.bin)")
    p = tmp / "random.pt"
    p.write_bytes(random.Random(1).randbytes(1000))
    cases["random bytes"] = (p, f"{p} is not a readable course checkpoint (neither a zip archive nor a pickle: it starts with the bytes ")
    p = tmp / "v2.pt"
    torch.save({"format": FORMAT, "version": 2}, p)
    cases["wrong version"] = (p, f"{p} has checkpoint version 2; this course reads version 1")
    p = tmp / "folder.pt"
    p.mkdir()
    cases["a folder"] = (p, f"checkpoint {p} is a folder, not a file")
    p = tmp / "missing.pt"
    cases["missing file"] = (p, f"checkpoint {p} does not exist")

    p = tmp / "wrong-shapes.pt"
    ckpt = checkpoints.load(good)
    ckpt["weights"]["G"] = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) for k, v in ckpt["weights"]["G"].items()}
    checkpoints.save(p, {k: v for k, v in ckpt.items() if k not in ("format", "version")})  # a valid file with its own hash
    cases["wrong-shaped weights"] = (p, f"{p} does not hold a usable course model (RuntimeError: Error(s) in loading state_dict for Generator")
    return cases


CASES = [
    "crafted pickle", "crafted pickle with a matching sidecar", "pickle asking for eval", "crafted pickle, legacy format",
    "pickle.dump with code", "plain state_dict", "truncated, with sidecar", "truncated, no sidecar", "one flipped byte",
    "another model's checkpoint under this sidecar", "malformed sidecar", "empty file", "text file", "numpy .npz",
    "zip of other files", "random bytes", "wrong version", "a folder", "missing file", "wrong-shaped weights",
]


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tampered")
    cases = _tamper(tmp)
    assert sorted(cases) == sorted(CASES)
    return tmp, cases


@pytest.mark.parametrize("loader", ["checkpoints.load", "models.load_model", "genai-course sample"])
@pytest.mark.parametrize("case", CASES)
def test_every_tampered_or_foreign_file_is_refused(case, loader, tampered, capsys):
    tmp, cases = tampered
    path, message = cases[case]
    if loader == "checkpoints.load" and case == "wrong-shaped weights":
        assert checkpoints.load(path)["model"] == "gan-ring8"  # a well-formed file: only rebuilding the model fails
        return
    if loader == "genai-course sample":
        out = tmp / f"{CASES.index(case)}.npz"
        code = cli.main(["sample", str(path), "-n", "2", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("genai-course sample: error: ") and message in err, err
        assert not out.exists()
    else:
        load = checkpoints.load if loader == "checkpoints.load" else lambda p: models.load_model(str(p))
        with pytest.raises(CheckpointError) as info:
            load(path)
        assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
        assert "weights_only` set to `False`" not in str(info.value)  # never advise the unsafe load
    assert not (tmp / "code-ran").exists(), "loading ran code from the file"


def test_the_crafted_file_runs_its_code_with_weights_only_false(tmp_path):
    """The danger, shown harmlessly: the plain unpickler calls leave_marker while loading."""
    marker = tmp_path / "code-ran"
    path = checkpoints.write_crafted_checkpoint(tmp_path / "crafted.pt", marker)
    with pytest.raises(CheckpointError):
        checkpoints.load(path)
    assert not marker.exists()
    loaded = torch.load(path, weights_only=False)
    assert marker.read_text() == "code hidden in a checkpoint ran when the file was unpickled\n"
    assert loaded["note"] == "code ran here" and loaded["format"] == FORMAT  # it looks like a course checkpoint


def test_a_foreign_file_with_its_own_sidecar_needs_a_trusted_hash(tmp_path):
    """A sidecar travels with its file: a wrong file with a right sidecar passes it, not a hash you trust."""
    mine = _course_checkpoint(tmp_path / "mine.pt")
    trusted = checkpoints.sha256(mine)
    theirs = _course_checkpoint(tmp_path / "theirs.pt", "gan-grid25")
    assert checkpoints.load(theirs)["model"] == "gan-grid25"
    with pytest.raises(CheckpointError, match=re.escape(f"{theirs} does not match the sha256 you gave: expected sha256 {trusted[:12]}..., got ")):
        checkpoints.load(theirs, expected_sha256=trusted)
    assert checkpoints.load(mine, expected_sha256=trusted.upper())["model"] == "gan-ring8"
    with pytest.raises(CheckpointError, match="should be 64 hex digits"):
        checkpoints.load(mine, expected_sha256="abc")
