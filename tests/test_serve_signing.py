"""genai_course.serve.signing: every returned file carries an HMAC of its own bytes; one flipped byte fails."""

from __future__ import annotations

import io
import json
import stat
import struct
import zlib

import numpy as np
import pytest

from genai_course.serve import signing
from genai_course.serve.signing import SigningError, key_id, npz_bytes, png_bytes, sign_json, sign_npz, sign_png, verify

SECRET = bytes(range(32))
OTHER = bytes(range(1, 33))
ALTERED = "the file was altered after it was signed: its bytes no longer match the signature"


def small_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    images = rng.random((2, 1, 2, 2)).astype(np.float32)
    return {
        "png": sign_png(png_bytes(images, scale=1), SECRET),
        "npz": sign_npz(npz_bytes({"x": images[:, 0, 0], "y": np.array([3, 5]), "about": np.array('{"n": 2}')}), SECRET),
        "json": sign_json({"names": ["Ana", "Jo"], "n": 2, "label": "de_DE", "points": [[0.5, -1.25]]}, SECRET),
    }


def png_chunks(data: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kinds.append(data[at + 4 : at + 8])
        at += 12 + length
    return kinds


@pytest.mark.parametrize("fmt", ["png", "npz", "json"])
def test_a_signed_file_verifies(fmt):
    data = small_files()[fmt]
    verdict = verify(data, SECRET)
    assert verdict.ok and verdict.format == fmt
    assert verdict.message == f"signature valid ({fmt}, key id {key_id(SECRET)}): made by the server and unchanged"


def test_the_formats_still_open_as_usual():
    files = small_files()
    assert png_chunks(files["png"]) == [b"IHDR", b"IDAT", b"tEXt", b"IEND"]
    assert b"genai-course-hmac\x00genai-course-hmac-v1:" + key_id(SECRET).encode() in files["png"]
    arrays = np.load(io.BytesIO(files["npz"]))  # allow_pickle stays False
    rng = np.random.default_rng(0)
    images = rng.random((2, 1, 2, 2)).astype(np.float32)
    assert np.array_equal(arrays["x"], images[:, 0, 0]) and arrays["x"].dtype == np.float32
    assert arrays["y"].tolist() == [3, 5] and json.loads(str(arrays["about"])) == {"n": 2}
    whole = json.loads(files["json"])
    assert set(whole) == {"payload", "signature"} and whole["payload"]["names"] == ["Ana", "Jo"]


def test_png_pixels_are_the_images_dark_on_white():
    one = np.zeros((1, 1, 2, 2), dtype=np.float32)
    one[0, 0, 0, 0] = 1.0
    data = png_bytes(one, scale=1)
    assert struct.unpack(">II", data[16:24]) == (2, 2)
    (length,) = struct.unpack(">I", data[33:37])
    raw = zlib.decompress(data[41 : 41 + length])
    assert raw == b"\x00\x00\xff\x00\xff\xff"  # filter byte, then ink (1.0) black, paper white
    with pytest.raises(SigningError, match="images should be"):
        png_bytes(np.zeros((0, 1, 2, 2)))


@pytest.mark.parametrize("fmt", ["png", "npz", "json"])
@pytest.mark.parametrize("mask", [0x01, 0xFF])
def test_flipping_any_byte_fails(fmt, mask):
    data = small_files()[fmt]
    passed = []
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= mask
        if verify(bytes(flipped), SECRET).ok:
            passed.append(i)
    assert passed == [], f"{fmt}: {len(passed)} of {len(data)} flipped bytes still verify (first at {passed[:5]})"


@pytest.mark.parametrize("fmt", ["png", "npz", "json"])
def test_cut_or_lengthened_files_fail(fmt):
    data = small_files()[fmt]
    for changed in (data[:-1], data + b"\x00", data[1:], data + data[-12:]):
        assert not verify(changed, SECRET).ok


@pytest.mark.parametrize("fmt", ["png", "npz", "json"])
def test_another_secret_is_named_as_such(fmt):
    verdict = verify(small_files()[fmt], OTHER)
    assert not verdict.ok and verdict.format == fmt
    assert verdict.message == (f"signed with another secret (key id {key_id(SECRET)}, this one is {key_id(OTHER)}): "
                               "ask that server's owner")


def test_unsigned_and_foreign_files_fail_with_their_reason():
    unsigned = png_bytes(np.zeros((1, 1, 4, 4)), scale=2)
    for data, says in [
        (unsigned, "too short to be a signed PNG"),
        (png_bytes(np.random.default_rng(2).random((3, 1, 8, 8))), "a PNG without the server's signature (no genai-course-hmac chunk before IEND)"),
        (bytes(np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8)), "neither a PNG, an .npz nor a JSON file from the server"),
        (b"", "neither a PNG, an .npz nor a JSON file from the server"),
        (b'{"a": 1}', "JSON without the server's envelope"),
        (b"{nope", "a file that starts like JSON but is not valid JSON"),
    ]:
        verdict = verify(data, SECRET)
        assert not verdict.ok and verdict.message.startswith(says), verdict
    tampered = json.loads(small_files()["json"])
    tampered["payload"]["n"] = 3
    assert verify(json.dumps(tampered).encode(), SECRET).message == ALTERED
    tampered = json.loads(small_files()["json"])
    tampered["signature"] = "genai-course-hmac-v1:abc"
    assert verify(json.dumps(tampered).encode(), SECRET).message.startswith("the signature is damaged")


def test_what_cannot_be_signed_is_refused():
    with pytest.raises(SigningError, match="not a PNG that ends in its IEND chunk"):
        sign_png(b"GIF89a", SECRET)
    with pytest.raises(SigningError, match="not an archive from npz_bytes"):
        sign_npz(b"PK\x03\x04" + b"\x00" * 200, SECRET)
    with pytest.raises(SigningError, match="holds Python objects"):
        npz_bytes({"x": np.array([{}, 1], dtype=object)})


def test_secrets(tmp_path):
    path = signing.new_secret(tmp_path / "serve" / "signing.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = signing.read_secret(path)
    assert len(secret) == 32 and len(key_id(secret)) == 8 and key_id(secret) != key_id(OTHER)
    assert secret.hex() not in key_id(secret)
    with pytest.raises(FileExistsError):
        signing.new_secret(path)  # never overwrites a secret that signed files
    with pytest.raises(SigningError, match="does not exist"):
        signing.read_secret(tmp_path / "none.key")
    (tmp_path / "short.key").write_text("abcd\n")
    with pytest.raises(SigningError, match="should hold 64 hex digits"):
        signing.read_secret(tmp_path / "short.key")
