"""genai-course serve, keys, verify and encrypt: the key shown once, bad input in one line and exit code 2.

``serve``'s refusals (it exits before listening) run as real processes; the rest in this process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genai_course import checkpoints
from genai_course.serve import keys as keylib
from genai_course.serve import sealed, signing

from serve_shared import tiny  # noqa: F401 (fixtures)
from test_cli import run_main

ROOT = Path(__file__).resolve().parents[1]


def one_error_line(code: int, out: str, err: str, command: str = "") -> str:
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
    assert err.startswith(f"genai-course {command}: error: " if command else "genai-course: error: ")
    return err.strip()


def serve(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`genai-course serve ARGS` as a process that must refuse before it listens (a bounded wait)."""
    return subprocess.run([sys.executable, "-m", "genai_course", "serve", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default", **(env or {})})


def refused(done: subprocess.CompletedProcess, says: str) -> None:
    assert done.returncode == 2 and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("genai-course serve: error: ") and says in done.stderr, done.stderr


# ------------------------------------------------------------------------------------------ keys


def test_keys_add_prints_the_key_alone_and_list_never_does(tmp_path, capsys):
    path = tmp_path / "keys.json"
    code, out, err = run_main(["keys", "add", "alice", "--scopes", "model:cvae-digits label:0-4 max:8", "--quota", "30/min",
                               "--keys", str(path)], capsys)
    assert code == 0 and out.count("\n") == 1 and re.fullmatch(r"gck_[A-Za-z0-9_-]{43}\n", out)
    key = out.strip()
    assert err.startswith(f"key alice added to {path} (scopes: model:cvae-digits label:0-4 max:8; quota 30/min)")
    assert key not in err and key not in path.read_text()
    assert keylib.find(path, key).name == "alice"
    run_main(["keys", "add", "bob", "--scopes", "model:*", "--keys", str(path)], capsys)
    assert run_main(["keys", "revoke", "bob", "--keys", str(path)], capsys) == (
        0, "key bob revoked: from the next request on, it lets no one in\n", "")
    code, out, err = run_main(["keys", "list", "--keys", str(path)], capsys)
    assert code == 0 and err == "" and key not in out and "gck_" not in out
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].split()[:3] == ["alice", "live", "30/min"] and lines[1].split()[:3] == ["bob", "revoked", "60/min"]
    assert lines[0].endswith("model:cvae-digits label:0-4 max:8")
    for record in keylib.list_keys(path):
        assert record.hash not in out and record.salt not in out
    code, out, _ = run_main(["keys", "list", "--keys", str(tmp_path / "none.json")], capsys)
    assert code == 0 and out.startswith("no keys in ")


def test_keys_refusals_are_one_line(tmp_path, capsys):
    path = tmp_path / "keys.json"
    run_main(["keys", "add", "alice", "--scopes", "model:*", "--keys", str(path)], capsys)
    before = path.read_bytes()
    assert one_error_line(*run_main(["keys", "revoke", "carol", "--keys", str(path)], capsys), "keys") == (
        f"genai-course keys: error: no live key called carol in {path} (live keys: alice)")
    for scopes, says in [("model", "scope 'model' is not one of"), ("max:0", "max takes a whole number"),
                         ("label:5-2", "a range runs from low to high"), ("foo:bar", "scope 'foo:bar' is not one of"), ("", "no scopes")]:
        line = one_error_line(*run_main(["keys", "add", "dave", "--scopes", scopes, "--keys", str(path)], capsys), "keys")
        assert says in line, line
    line = one_error_line(*run_main(["keys", "add", "dave", "--scopes", "model:*", "--quota", "10/hour", "--keys", str(path)], capsys), "keys")
    assert "quota '10/hour' should read N/min" in line
    line = one_error_line(*run_main(["keys", "add", "alice", "--scopes", "model:*", "--keys", str(path)], capsys), "keys")
    assert "there is already a key called alice" in line
    line = one_error_line(*run_main(["keys", "add", "a b", "--scopes", "model:*", "--keys", str(path)], capsys), "keys")
    assert "should be 1-40 letters" in line
    assert path.read_bytes() == before  # nothing written by a refused command
    one_error_line(*run_main(["keys", "add", "x"], capsys))  # --scopes is required: argparse's own line
    path.write_text("{damaged")
    line = one_error_line(*run_main(["keys", "list", "--keys", str(path)], capsys), "keys")
    assert line.endswith(f"key file {path} is damaged: not the JSON that 'genai-course keys' writes")


# ---------------------------------------------------------------------------------------- verify


def test_verify_exit_codes(tmp_path, capsys):
    key = signing.new_secret(tmp_path / "signing.key")
    secret = signing.read_secret(key)
    good = tmp_path / "x.png"
    good.write_bytes(signing.sign_png(signing.png_bytes(np.full((2, 1, 8, 8), 0.5)), secret))
    code, out, err = run_main(["verify", str(good), "--signing-key", str(key)], capsys)
    assert (code, err) == (0, "") and out == f"{good}: OK: signature valid (png, key id {signing.key_id(secret)}): made by the server and unchanged\n"
    bad = tmp_path / "y.png"
    data = bytearray(good.read_bytes())
    data[40] ^= 1
    bad.write_bytes(bytes(data))
    code, out, err = run_main(["verify", str(bad), "--signing-key", str(key)], capsys)
    assert (code, err) == (1, "") and out == f"{bad}: FAILED: the file was altered after it was signed: its bytes no longer match the signature\n"
    other = signing.new_secret(tmp_path / "other.key")
    code, out, _ = run_main(["verify", str(good), "--signing-key", str(other)], capsys)
    assert code == 1 and "signed with another secret" in out
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(64).replace(b"\x89", b"x"))
    code, out, _ = run_main(["verify", str(junk), "--signing-key", str(key)], capsys)
    assert code == 1 and out.strip().endswith("FAILED: neither a PNG, an .npz nor a JSON file from the server")
    line = one_error_line(*run_main(["verify", str(tmp_path / "none.png"), "--signing-key", str(key)], capsys), "verify")
    assert line.endswith(f"cannot read {tmp_path / 'none.png'} (No such file or directory)")
    line = one_error_line(*run_main(["verify", str(good), "--signing-key", str(tmp_path / "none.key")], capsys), "verify")
    assert "does not exist" in line
    line = one_error_line(*run_main(["verify", str(tmp_path), "--signing-key", str(key)], capsys), "verify")
    assert line.startswith(f"genai-course verify: error: cannot read {tmp_path}")


# --------------------------------------------------------------------------------------- encrypt


def test_encrypt(tiny, tmp_path, capsys, monkeypatch):
    code, out, err = run_main(["encrypt", "--new-key"], capsys)
    assert code == 0 and err == "" and re.fullmatch(r"[A-Za-z0-9_-]{43}=\n", out)
    key = out.strip()
    monkeypatch.delenv(sealed.KEY_ENV, raising=False)
    line = one_error_line(*run_main(["encrypt", str(tiny["gan-grid25"]), "--out", str(tmp_path / "g.enc")], capsys), "encrypt")
    assert f"no key: set {sealed.KEY_ENV}" in line and not (tmp_path / "g.enc").exists()
    monkeypatch.setenv(sealed.KEY_ENV, key)
    code, out, err = run_main(["encrypt", str(tiny["gan-grid25"]), "--out", str(tmp_path / "g.enc")], capsys)
    assert code == 0 and err == "" and out.startswith(f"wrote {tmp_path / 'g.enc'} (encrypted with ${sealed.KEY_ENV}")
    assert sealed.decrypt(tmp_path / "g.enc")[0] == tiny["gan-grid25"].read_bytes()
    one_error_line(*run_main(["encrypt", "--new-key", str(tiny["gan-grid25"])], capsys), "encrypt")
    one_error_line(*run_main(["encrypt"], capsys), "encrypt")
    line = one_error_line(*run_main(["encrypt", str(tmp_path / "none.pt")], capsys), "encrypt")
    assert "none.pt" in line


# ----------------------------------------------------------------------------------------- serve


@pytest.mark.parametrize("option, value, says", [
    ("--port", "0", "must be a TCP port from 1 to 65535 (got 0)"),
    ("--port", "65536", "must be a TCP port from 1 to 65535"),
    ("--port", "http", "--port"),
    ("--max-batch", "0", "--max-batch"),
    ("--max-batch", "1025", "must be at most 1,024"),
    ("--max-wait-ms", "-1", "must be from 0 to 1000 milliseconds (got -1)"),
    ("--max-wait-ms", "nan", "--max-wait-ms"),
    ("--max-wait-ms", "5000", "must be from 0 to 1000 milliseconds"),
    ("--max-queue", "0", "--max-queue"),
])
def test_serve_options_are_checked_by_argparse(tmp_path, capsys, option, value, says):
    line = one_error_line(*run_main(["serve", str(tmp_path / "x.pt"), option, value], capsys))
    assert says in line, line


def test_serve_refuses_a_malicious_pickle_without_running_it(tmp_path):
    marker = tmp_path / "marker.txt"
    checkpoints.write_crafted_checkpoint(tmp_path / "crafted.pt", marker)
    done = serve(["crafted.pt", "--keys", "k.json", "--port", "1"], tmp_path)
    refused(done, "crafted.pt is not a readable course checkpoint (refused by the safe loader")
    assert not marker.exists()
    assert not (tmp_path / "audit.jsonl").exists()  # it stopped before opening its doors


def test_serve_refuses_unusable_files(tiny, tmp_path):
    copy = tmp_path / "copy.pt"
    shutil.copy(tiny["gan-grid25"], copy)
    checkpoints.sidecar_path(copy).write_text(f"{'0' * 64}  copy.pt\n")
    refused(serve(["copy.pt", "--keys", "k.json", "--port", "1"], tmp_path), "copy.pt does not match its hash file copy.pt.sha256")
    refused(serve(["none.pt", "--keys", "k.json", "--port", "1"], tmp_path), "checkpoint none.pt does not exist")
    (tmp_path / "folder").mkdir()
    refused(serve(["folder", "--keys", "k.json", "--port", "1"], tmp_path), "checkpoint folder is a folder, not a file")
    (tmp_path / "bad.json").write_text('{"version": 1, "keys": [{"nope": 1}]}')
    refused(serve([str(tiny["gan-grid25"]), "--keys", "bad.json", "--port", "1"], tmp_path),
            "key file bad.json is damaged: not the JSON that 'genai-course keys' writes")
    enc = sealed.encrypt(tiny["gan-grid25"], tmp_path / "g.enc", key=sealed.new_key())
    done = serve([enc.name, "--keys", "k.json", "--port", "1"], tmp_path, env={sealed.KEY_ENV: sealed.new_key()})
    refused(done, f"cannot decrypt g.enc: {sealed.KEY_ENV} is not the key it was encrypted with, or the file was altered")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.json", "copy.pt", "copy.pt.sha256", "folder", "g.enc", "g.enc.sha256"]  # no key file, audit log or secret made
