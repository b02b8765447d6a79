"""genai_course.serve.sealed: checkpoints encrypted at rest, decrypted in memory, served like plain ones."""

from __future__ import annotations

import numpy as np
import pytest

from genai_course import checkpoints
from genai_course.serve import sealed
from genai_course.serve.engine import Job, load_servable
from genai_course.serve.sealed import KEY_ENV, SealError, decrypt, encrypt, is_encrypted, new_key

from serve_shared import tiny  # noqa: F401 (fixtures)


@pytest.fixture
def key(monkeypatch):
    k = new_key()
    monkeypatch.setenv(KEY_ENV, k)
    return k


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text and text
    return text


def test_an_encrypted_checkpoint_serves_the_same_samples(tiny, tmp_path, key):
    plain = tiny["cvae-digits"]
    enc = encrypt(plain, tmp_path / "cvae.pt.enc")
    assert is_encrypted(enc) and not is_encrypted(plain) and not is_encrypted(tmp_path / "none")
    assert checkpoints.verify_sidecar(enc) is not None  # the encrypted file has its own sidecar
    served = load_servable(enc, seed=5)
    assert served.encrypted and served.name == "cvae-digits"
    assert served.sha256 == checkpoints.sha256(plain)  # the plain checkpoint's hash, as the audit and the samples name it
    jobs = [Job(3, "2"), Job(2, None)]
    for (a, ya), (b, yb) in zip(served.run(jobs), load_servable(plain, seed=5).run(jobs)):
        assert np.array_equal(a, b) and np.array_equal(ya, yb)
    data, digest = decrypt(enc)
    assert data == plain.read_bytes() and digest == checkpoints.sha256(plain)


def test_the_encrypted_file_reveals_nothing_of_the_plain_one(tiny, tmp_path, key):
    plain = tiny["cvae-digits"].read_bytes()
    enc = encrypt(tiny["cvae-digits"], tmp_path / "x.enc").read_bytes()
    assert enc.startswith(b"genai-course-encrypted-v1 ")
    assert plain not in enc
    for marker in (b"cvae-digits", b"data.pkl", b"weights", plain[:64], plain[len(plain) // 2 : len(plain) // 2 + 32], plain[-32:]):
        assert marker not in enc, marker
    again = encrypt(tiny["cvae-digits"], tmp_path / "y.enc").read_bytes()
    assert again != enc  # a fresh IV every time


def test_default_output_sits_beside_the_checkpoint(tiny, tmp_path, key):
    copy = tmp_path / "m.pt"
    copy.write_bytes(tiny["gan-grid25"].read_bytes())
    checkpoints.sidecar_path(copy).write_text(f"{checkpoints.sha256(copy)}  m.pt\n")
    assert encrypt(copy) == tmp_path / "m.pt.enc"
    assert load_servable(tmp_path / "m.pt.enc").kind == "points"


def test_wrong_missing_or_malformed_keys_are_one_line(tiny, tmp_path, key, monkeypatch):
    enc = encrypt(tiny["gan-grid25"], tmp_path / "g.enc")
    monkeypatch.setenv(KEY_ENV, new_key())
    with pytest.raises(SealError) as e:
        load_servable(enc)
    assert one_line(e) == f"cannot decrypt {enc}: {KEY_ENV} is not the key it was encrypted with, or the file was altered"
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(SealError) as e:
        load_servable(enc)
    assert one_line(e).startswith(f"no key: set {KEY_ENV} to the key the checkpoint was encrypted with")
    with pytest.raises(SealError, match=f"no key: set {KEY_ENV}"):
        encrypt(tiny["gan-grid25"], tmp_path / "h.enc")
    assert not (tmp_path / "h.enc").exists()
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(SealError) as e:
        load_servable(enc)
    assert one_line(e).startswith(f"{KEY_ENV} is not a Fernet key")
    assert decrypt(enc, key=key)[0] == tiny["gan-grid25"].read_bytes()  # the right key, given directly


def test_an_altered_encrypted_file_is_refused(tiny, tmp_path, key):
    enc = encrypt(tiny["gan-grid25"], tmp_path / "g.enc")
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 0x01
    enc.write_bytes(bytes(data))
    with pytest.raises(SealError) as e:  # the sidecar notices first
        load_servable(enc)
    assert "does not match its hash file g.enc.sha256" in one_line(e)
    checkpoints.sidecar_path(enc).write_text(f"{checkpoints.sha256(enc)}  g.enc\n")  # an attacker who also rewrites the sidecar
    with pytest.raises(SealError) as e:
        load_servable(enc)
    assert one_line(e) == f"cannot decrypt {enc}: {KEY_ENV} is not the key it was encrypted with, or the file was altered"
    header = enc.read_bytes().replace(b"encrypted-v1", b"encrypted-v9", 1)
    enc.write_bytes(header)
    checkpoints.sidecar_path(enc).write_text(f"{checkpoints.sha256(enc)}  g.enc\n")
    with pytest.raises(SealError, match="is not an encrypted course checkpoint"):
        decrypt(enc)


def test_the_recorded_hash_is_checked_after_decryption(tiny, tmp_path, key):
    enc = encrypt(tiny["gan-grid25"], tmp_path / "g.enc")
    head, _, token = enc.read_bytes().partition(b"\n")
    enc.write_bytes(b"genai-course-encrypted-v1 " + b"0" * 64 + b"\n" + token)  # a header that lies about the contents
    checkpoints.sidecar_path(enc).write_text(f"{checkpoints.sha256(enc)}  g.enc\n")
    with pytest.raises(checkpoints.CheckpointError):
        load_servable(enc)


def test_only_course_checkpoints_are_sealed(tmp_path, key):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoints.CheckpointError):
        encrypt(junk)
    marker = tmp_path / "marker"
    crafted = checkpoints.write_crafted_checkpoint(tmp_path / "crafted.pt", marker)
    with pytest.raises(checkpoints.CheckpointError, match="refused by the safe loader"):
        encrypt(crafted)
    assert not marker.exists() and not (tmp_path / "crafted.pt.enc").exists()
    assert len(sealed.new_key()) == 44
