"""Lesson 15's pictures and widget: the door, a signed PNG's chunks, the batching timeline and
``request_panel``. The panel is tested with a stand-in for the HTTP call (no server runs here:
tests/test_serve_process.py starts real ones); it must show what each answer holds."""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genai_course import serve, widgets  # noqa: E402
from genai_course.widgets import serving  # noqa: E402

PNG = b"\x89PNG"
SECRET = bytes(range(32))


def signed_png(n: int = 3) -> bytes:
    return serve.sign_png(serve.png_bytes(np.linspace(0, 1, n * 64, dtype=np.float32).reshape(n, 1, 8, 8)), SECRET)


def test_the_door_lists_the_servers_checks_in_order_and_draws():
    assert [code for _, code in serving.DOORS] == [401, 429, 400, 403, 404, 413, 503]
    ax = widgets.draw_door()
    texts = [t.get_text() for t in ax.texts]
    for name, code in serving.DOORS:
        assert name in texts and str(code) in texts
    assert "200" in texts and any(t.startswith("audit log") for t in texts)
    plt.close("all")


def test_png_chunks_of_a_signed_png_and_what_the_signature_covers():
    png = signed_png()
    chunks = serving.png_chunks(png)
    assert [kind for kind, _, _ in chunks] == ["IHDR", "IDAT", "tEXt", "IEND"]
    assert chunks[0][1] == 8 and sum(size for _, _, size in chunks) == len(png) - 8  # every byte after the magic
    _, at, size = chunks[2]
    assert png[at + 8 : at + 8 + len(b"genai-course-hmac")] == b"genai-course-hmac"
    unsigned = png[:at] + png[at + size :]
    assert serve.sign_png(unsigned, SECRET) == png  # the signature covers the file without its tEXt chunk
    ax = widgets.draw_png_chunks(png)
    labels = " ".join(t.get_text() for t in ax.texts)
    assert f"{size} bytes" in labels and "genai-course-hmac" in labels
    plt.close("all")
    with pytest.raises(ValueError, match=re.escape("png must be the bytes of a PNG file")):
        serving.png_chunks(b"GIF89a")


def test_batching_timeline_gathers_up_to_max_batch_or_max_wait():
    arrivals = [0, 2, 3, 5, 12, 14, 30, 31, 33, 34, 36, 40]
    off = serving.batching_timeline(arrivals, max_batch=1, max_wait_ms=10, pass_ms=8)
    assert [members for _, _, members in off] == [[i] for i in range(12)]
    assert [start for start, _, _ in off] == [8.0 * i for i in range(12)]  # each waits for the one before it
    on = serving.batching_timeline(arrivals, max_batch=4, max_wait_ms=10, pass_ms=8)
    assert [members for _, _, members in on] == [[0, 1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11]]
    assert [start for start, _, _ in on] == [5.0, 23.0, 34.0, 52.0]  # full at 5 ms; 12 + 10 waited, after the pass
    lone = serving.batching_timeline([0], max_batch=64, max_wait_ms=10, pass_ms=8)
    assert lone == [(10.0, 18.0, [0])]  # a lone request waits max_wait for company that never comes
    ax = widgets.draw_batching_timeline(arrivals, max_batch=4, max_wait_ms=10, pass_ms=8)
    assert "4 forward passes" in ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match="arrivals_ms must be sorted"):
        serving.batching_timeline([3, 1], max_batch=2, max_wait_ms=1, pass_ms=1)


MODELS = [
    {"name": "cvae-digits", "kind": "digits", "labels": [str(k) for k in range(10)]},
    {"name": "charlm-names", "kind": "names", "labels": ["en_US", "de_DE"]},
    {"name": "ddpm-grid25", "kind": "points", "labels": []},
]


def fake_server(sent: list):
    """A stand-in for the HTTP call: 401 for the key 'revoked', else a signed answer of the model's kind."""

    def send(url, key, body):
        sent.append((url, key, body))
        if key == "revoked":
            return 401, {}, json.dumps({"error": "this key is not valid (unknown or revoked)", "status": 401}).encode()
        if body["model"] == "cvae-digits":
            return 200, {"x-batch-samples": "5"}, signed_png(body["n"])
        if body["model"] == "charlm-names":
            return 200, {}, serve.sign_json({"names": ["Anna", "Jan"], "languages": ["de_DE", "de_DE"]}, SECRET)
        return 200, {}, serve.sign_json({"points": [[0.0, 1.0], [2.0, -1.0]]}, SECRET)

    return send


def test_request_panel_sends_the_chosen_request_and_shows_each_answer():
    sent: list = []
    box = widgets.request_panel("http://127.0.0.1:1", {"alice": "gck_a", "bob": "revoked"}, MODELS, send=fake_server(sent))
    assert list(box.key.options) == ["alice", "bob"] and list(box.model.options) == ["cvae-digits", "charlm-names", "ddpm-grid25"]
    assert list(box.label.options) == ["any", *[str(k) for k in range(10)]]
    box.label.value, box.n.value = "3", 4
    assert box.send() == 200
    assert sent[-1] == ("http://127.0.0.1:1", "gck_a", {"model": "cvae-digits", "n": 4, "label": "3"})
    assert bytes(box.image.value).startswith(PNG) and box.status.value.startswith("200") and "5 samples" in box.status.value
    box.key.value = "bob"
    assert box.send() == 401 and box.status.value == "401: this key is not valid (unknown or revoked)"
    assert box.image.layout.display == "none"
    box.key.value, box.model.value = "alice", "charlm-names"
    assert list(box.label.options) == ["any", "en_US", "de_DE"] and box.label.value == "any"  # the labels follow the model
    box.button.click()
    assert sent[-1][2] == {"model": "charlm-names", "n": 4} and box.names.value == "Anna (de_DE), Jan (de_DE)"
    box.model.value = "ddpm-grid25"
    assert list(box.label.options) == ["any"]
    assert box.send() == 200 and sent[-1][2]["format"] == "json" and bytes(box.image.value).startswith(PNG)
    assert box.names.value == ""


def test_request_panel_explains_bad_input():
    with pytest.raises(TypeError, match=re.escape("keys must be a non-empty dict {name: key}, both strings")):
        widgets.request_panel("http://127.0.0.1:1", {}, MODELS)
    with pytest.raises(TypeError, match=re.escape("models must be a non-empty list of dicts with a 'name'")):
        widgets.request_panel("http://127.0.0.1:1", {"alice": "gck_a"}, [])
