"""genai_course.serve.app: every door of the server, through starlette's TestClient (no port needed).

Each status code of POST /v1/generate happens here with its message; the admin routes; keys added
and revoked while the app runs; the audit log's one line per request; a queue really full."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from genai_course.serve import signing
from genai_course.serve.app import MAX_SAMPLES, ServeConfig, create_app
from genai_course.serve.audit import FIELDS, read_audit
from genai_course.serve.batching import Batcher, QueueFull
from genai_course.serve.engine import Servable
from genai_course.serve.keys import add_key, revoke_key
from genai_course.serve.page import PAGE

from serve_shared import tiny  # noqa: F401 (fixtures)

SERVED = "cvae-digits, charlm-names, gan-grid25"
NOT_VALID = "this key is not valid (unknown or revoked)"
SCOPES = {
    "admin": "model:* admin",
    "digits": "model:cvae-digits label:0-4 max:8",
    "names": "model:charlm-names label:de_DE",
    "prefix": "model:cvae model:cvae-digit",  # neither is cvae-digits
    "star": "model:*",
    "big": "model:* max:1000",
    "gone": "model:*",
}


@contextmanager
def running(tiny, root, **options):
    """The app over the three tiny checkpoints, its batchers started; keys made in ``root/keys.json``."""
    keys = root / "keys.json"
    made = {name: add_key(keys, name, scopes, "1000/min") for name, scopes in SCOPES.items()}
    revoke_key(keys, "gone")
    config = ServeConfig([str(p) for p in tiny.values()], keys, root / "audit.jsonl", root / "signing.key", **options)
    with TestClient(create_app(config)) as client:
        yield SimpleNamespace(client=client, keys=made, config=config, root=root)


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    with running(tiny, tmp_path_factory.mktemp("app"), max_wait_ms=0) as s:
        yield s


def auth(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def generate(server, who: str | None, body=None, raw: bytes | None = None, key: str | None = None):
    key = key if key is not None else (server.keys[who] if who else None)
    content = raw if raw is not None else json.dumps(body or {}).encode()
    return server.client.post("/v1/generate", content=content, headers=auth(key))


def refused(response, status: int, message: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message, "status": status}


# ----------------------------------------------------------------------------------------- 200


def test_200_png_is_signed_and_says_its_batch(server):
    r = generate(server, "digits", {"model": "cvae-digits", "n": 4, "label": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    secret = signing.read_secret(server.config.signing_key)
    assert r.headers["x-signature-key-id"] == signing.key_id(secret)
    assert int(r.headers["x-batch-samples"]) == 4  # alone in its pass (max_wait_ms=0)
    assert signing.verify(r.content, secret).ok


def test_200_npz_holds_the_samples_and_their_labels(server):
    r = generate(server, "digits", {"model": "cvae-digits", "n": 3, "label": "4", "format": "npz"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    arrays = np.load(io.BytesIO(r.content))
    assert arrays["x"].shape == (3, 1, 8, 8) and arrays["y"].tolist() == [4, 4, 4]
    assert json.loads(str(arrays["about"]))["model"] == "cvae-digits"
    assert signing.verify(r.content, signing.read_secret(server.config.signing_key)).ok


def test_200_names_and_points(server):
    r = generate(server, "names", {"model": "charlm-names", "n": 3, "label": "de_DE"})
    payload = json.loads(r.content)["payload"]
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert len(payload["names"]) == 3 and payload["languages"] == ["de_DE"] * 3
    r = generate(server, "star", {"model": "gan-grid25", "n": 2})  # the default format of points: npz
    assert r.status_code == 200 and np.load(io.BytesIO(r.content))["x"].shape == (2, 2)
    r = generate(server, "star", {"model": "gan-grid25", "n": 2, "format": "json"})
    assert np.asarray(json.loads(r.content)["payload"]["points"]).shape == (2, 2)


# ----------------------------------------------------------------------------------------- 400


@pytest.mark.parametrize("raw, message", [
    (b"not json", 'the request body is not JSON: send {"model": NAME, "n": N, "label": L, "format": F}'),
    (b"[1, 2]", 'the request body should be a JSON object: {"model": NAME, "n": N, "label": L, "format": F}'),
    (b'{"model": "cvae-digits", "colour": "red"}', "unknown field 'colour': a request has model, n, label and format"),
    (b'{"n": 2}', 'name the model: "model" should be one of the server\'s names (a string), got None'),
    (b'{"model": "cvae-digits", "n": 0}', '"n" should be a whole number of samples, at least 1 (got 0)'),
    (b'{"model": "cvae-digits", "n": -3}', '"n" should be a whole number of samples, at least 1 (got -3)'),
    (b'{"model": "cvae-digits", "n": "3"}', "\"n\" should be a whole number of samples, at least 1 (got '3')"),
    (b'{"model": "cvae-digits", "n": true}', '"n" should be a whole number of samples, at least 1 (got True)'),
    (b'{"model": "cvae-digits", "n": 1.5}', '"n" should be a whole number of samples, at least 1 (got 1.5)'),
    (b'{"model": "cvae-digits", "label": [3]}', '"label" should be a class number or a locale (got [3])'),
    (b'{"model": "cvae-digits", "format": 1}', '"format" should be png, npz or json (got 1)'),
])
def test_400_unreadable_requests(server, raw, message):
    refused(generate(server, "star", raw=raw), 400, message)


@pytest.mark.parametrize("body, message", [
    ({"model": "cvae-digits", "format": "json"}, "model cvae-digits (digits) answers in png or npz, not json"),
    ({"model": "cvae-digits", "format": "gif"}, "model cvae-digits (digits) answers in png or npz, not gif"),
    ({"model": "charlm-names", "format": "png"}, "model charlm-names (names) answers in json, not png"),
    ({"model": "gan-grid25", "format": "png"}, "model gan-grid25 (points) answers in npz or json, not png"),
    ({"model": "cvae-digits", "label": 10}, "model cvae-digits has no label '10' (its labels: 0..9)"),
    ({"model": "cvae-digits", "label": "de_DE"}, "model cvae-digits has no label 'de_DE' (its labels: 0..9)"),
    ({"model": "gan-grid25", "label": 0}, "model gan-grid25 is not conditional: it takes no label"),
])
def test_400_wrong_format_or_label(server, body, message):
    refused(generate(server, "star", body), 400, message)


def test_400_names_the_locales_a_names_model_has(server):
    r = generate(server, "star", {"model": "charlm-names", "label": "xx_XX"})
    assert r.status_code == 400 and r.json()["error"].startswith("model charlm-names has no label 'xx_XX' (its labels: en_US, ")


# ----------------------------------------------------------------------------------------- 401


def test_401_no_key_bad_key_revoked_key(server):
    body = {"model": "cvae-digits", "n": 1}
    r = generate(server, None, body)
    refused(r, 401, "no key: send the header 'Authorization: Bearer <key>'")
    assert r.headers["www-authenticate"] == "Bearer"
    refused(generate(server, None, body, key="gck_" + "A" * 43), 401, NOT_VALID)
    refused(generate(server, None, body, key=server.keys["star"] + "x"), 401, NOT_VALID)
    refused(generate(server, None, body, key=server.keys["star"][:-1]), 401, NOT_VALID)
    refused(generate(server, "gone", body), 401, NOT_VALID)
    r = server.client.post("/v1/generate", json=body, headers={"Authorization": server.keys["star"]})  # no "Bearer "
    refused(r, 401, NOT_VALID)
    r = server.client.post("/v1/generate", json=body, headers={"Authorization": "Basic " + server.keys["star"]})
    refused(r, 401, NOT_VALID)
    refused(generate(server, None, raw=b"not json"), 401, "no key: send the header 'Authorization: Bearer <key>'")  # 401 first


# ----------------------------------------------------------------------------------------- 403


def test_403_outside_the_keys_scopes(server):
    refused(generate(server, "digits", {"model": "charlm-names"}), 403,
            "this key may not use model charlm-names (its models: cvae-digits)")
    refused(generate(server, "digits", {"model": "cvae-digits", "label": 7}), 403,
            "this key may not ask for label 7 (its labels: 0-4)")
    refused(generate(server, "digits", {"model": "cvae-digits"}), 403,
            "this key may only ask for some labels (0-4): name one")
    refused(generate(server, "names", {"model": "charlm-names"}), 403,
            "this key may only ask for some labels (de_DE): name one")
    refused(generate(server, "names", {"model": "charlm-names", "label": "en_US"}), 403,
            "this key may not ask for label en_US (its labels: de_DE)")


def test_403_a_scope_is_never_a_prefix(server):
    refused(generate(server, "prefix", {"model": "cvae-digits", "n": 1}), 403,
            "this key may not use model cvae-digits (its models: cvae, cvae-digit)")


# ----------------------------------------------------------------------------------------- 404


def test_404_no_such_model(server):
    refused(generate(server, "star", {"model": "nope"}), 404, f"this server has no model nope (it serves: {SERVED})")
    refused(generate(server, "prefix", {"model": "cvae"}), 404, f"this server has no model cvae (it serves: {SERVED})")
    refused(generate(server, "digits", {"model": "nope"}), 403, "this key may not use model nope (its models: cvae-digits)")


# ----------------------------------------------------------------------------------------- 413


def test_413_too_many_samples(server):
    refused(generate(server, "digits", {"model": "cvae-digits", "n": 9, "label": 1}), 413,
            "9 samples is more than this key may ask for at once (at most 8)")
    assert generate(server, "digits", {"model": "cvae-digits", "n": 8, "label": 1}).status_code == 200
    refused(generate(server, "big", {"model": "gan-grid25", "n": MAX_SAMPLES + 1}), 413,
            f"{MAX_SAMPLES + 1} samples is more than this server draws for one request (at most {MAX_SAMPLES})")
    refused(generate(server, "star", {"model": "gan-grid25", "n": 17}), 413,
            "17 samples is more than this key may ask for at once (at most 16)")  # no max: scope: 16


# ----------------------------------------------------------------------------------------- 429


def test_429_over_quota_with_a_whole_retry_after(server):
    key = add_key(server.config.keys, "two-a-minute", "model:*", "2/min")
    body = {"model": "gan-grid25", "n": 1}
    assert [generate(server, None, body, key=key).status_code for _ in range(2)] == [200, 200]
    for _ in range(2):
        r = generate(server, None, body, key=key)
        assert r.status_code == 429
        wait = r.headers["retry-after"]
        assert wait.isdigit() and int(wait) >= 1 and int(wait) <= 30
        assert r.json() == {"error": f"over this key's quota of 2/min: try again in {wait} s", "status": 429}
    r = generate(server, None, raw=b"not json", key=key)  # the quota door comes before reading the request
    assert r.status_code == 429 and r.json()["error"].startswith("over this key's quota of 2/min: try again in ")
    assert generate(server, "star", body).status_code == 200  # other keys have their own buckets


# ----------------------------------------------------------------------------------------- 503


def test_503_maps_a_full_queue(server, monkeypatch):
    async def full(self, job):
        raise QueueFull("full")

    monkeypatch.setattr(Batcher, "submit", full)
    r = generate(server, "star", {"model": "gan-grid25", "n": 1})
    refused(r, 503, f"the server is busy ({server.config.max_queue} requests waiting): try again in 1 s")
    assert r.headers["retry-after"] == "1"


def test_503_when_the_queue_is_really_full(tiny, tmp_path, monkeypatch):
    started, release, batchers = threading.Event(), threading.Event(), []
    real_run, real_start = Servable.run, Batcher.start

    def blocked(self, jobs):
        started.set()
        release.wait(30)
        return real_run(self, jobs)

    def start(self):
        batchers.append(self)
        real_start(self)

    monkeypatch.setattr(Servable, "run", blocked)
    monkeypatch.setattr(Batcher, "start", start)
    answers: dict[int, object] = {}
    with running(tiny, tmp_path, max_batch=1, max_wait_ms=0, max_queue=1) as s:
        def ask(i: int) -> None:
            answers[i] = generate(s, "star", {"model": "gan-grid25", "n": 1})

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        try:
            threads[0].start()
            assert started.wait(30)  # the first request is in the model, which waits
            threads[1].start()
            for _ in range(3000):  # bounded: until the second one waits in the queue
                if any(b.queue for b in batchers):
                    break
                release.wait(0.01)
            assert sorted(len(b.queue) for b in batchers) == [0, 0, 1]
            refused(generate(s, "star", {"model": "gan-grid25", "n": 1}), 503,
                    "the server is busy (1 requests waiting): try again in 1 s")
        finally:
            release.set()
            for t in threads:
                t.join(30)
    assert [answers[i].status_code for i in range(2)] == [200, 200]
    assert [int(answers[i].headers["x-batch-samples"]) for i in range(2)] == [1, 1]


# --------------------------------------------------------------------------- the other routes


def test_models_lists_only_what_the_key_may_use(server):
    r = server.client.get("/v1/models", headers=auth(server.keys["digits"]))
    assert r.status_code == 200
    (model,) = r.json()["models"]
    assert (model["name"], model["kind"], model["labels"], model["formats"]) == ("cvae-digits", "digits", list("01234"), ["png", "npz"])
    assert r.json()["max_samples"] == 8 and r.json()["key"] == "digits"
    names = server.client.get("/v1/models", headers=auth(server.keys["names"])).json()["models"]
    assert [(m["name"], m["labels"]) for m in names] == [("charlm-names", ["de_DE"])]
    every = server.client.get("/v1/models", headers=auth(server.keys["big"])).json()
    assert [m["name"] for m in every["models"]] == SERVED.split(", ") and every["max_samples"] == MAX_SAMPLES
    assert server.client.get("/v1/models", headers=auth(server.keys["prefix"])).json()["models"] == []
    refused(server.client.get("/v1/models"), 401, "no key: send the header 'Authorization: Bearer <key>'")
    refused(server.client.get("/v1/models", headers=auth(server.keys["gone"])), 401, NOT_VALID)


def test_stats_and_reload_need_admin(server):
    for method, path in (("GET", "/v1/stats"), ("POST", "/v1/reload")):
        refused(server.client.request(method, path), 401, "no key: send the header 'Authorization: Bearer <key>'")
        refused(server.client.request(method, path, headers=auth(server.keys["gone"])), 401, NOT_VALID)
        for who in ("digits", "star", "big"):
            refused(server.client.request(method, path, headers=auth(server.keys[who])), 403, "this key has no admin scope")
    generate(server, "admin", {"model": "gan-grid25", "n": 3})
    stats = server.client.get("/v1/stats", headers=auth(server.keys["admin"])).json()
    assert set(stats["samples_per_pass"]) == set(SERVED.split(", ")) and stats["max_batch"] == 64
    assert stats["samples_per_pass"]["gan-grid25"].get("3", 0) >= 1 and stats["requests"] >= 1
    r = server.client.post("/v1/reload", headers=auth(server.keys["admin"]))
    assert r.status_code == 200 and [m["name"] for m in r.json()["reloaded"]] == SERVED.split(", ")
    assert generate(server, "admin", {"model": "gan-grid25", "n": 1}).status_code == 200  # still serving


def test_health_and_the_page_need_no_key(server):
    r = server.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = server.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == PAGE and "/v1/generate" in r.text and "/v1/models" in r.text
    assert server.client.get("/docs").status_code == 404 and server.client.get("/openapi.json").status_code == 404


# ------------------------------------------------------------------------------ while running


def test_keys_added_and_revoked_while_running_count_at_once(server):
    body = {"model": "gan-grid25", "n": 1}
    key = add_key(server.config.keys, "late", "model:gan-grid25")
    assert generate(server, None, body, key=key).status_code == 200
    revoke_key(server.config.keys, "late")
    refused(generate(server, None, body, key=key), 401, NOT_VALID)
    again = add_key(server.config.keys, "late2", "model:gan-grid25")
    assert generate(server, None, body, key=again).status_code == 200 and key != again


def test_the_audit_log_has_one_line_per_request(tiny, tmp_path):
    answers = []
    with running(tiny, tmp_path, max_wait_ms=0) as s:
        def ask(method, path, who=None, **kw):
            answers.append((method, path, who, kw.get("json"), s.client.request(method, path, headers=auth(s.keys.get(who)), **kw)))

        ask("GET", "/")
        ask("GET", "/health")
        ask("GET", "/v1/models", "digits")
        ask("POST", "/v1/generate", "digits", json={"model": "cvae-digits", "n": 2, "label": 1})
        ask("POST", "/v1/generate", "digits", json={"model": "cvae-digits", "n": 3, "label": 2, "format": "npz"})
        ask("POST", "/v1/generate", "names", json={"model": "charlm-names", "n": 2, "label": "de_DE"})
        ask("POST", "/v1/generate", "star", json={"model": "gan-grid25", "n": 1, "format": "json"})
        ask("POST", "/v1/generate", None, json={"model": "cvae-digits"})
        ask("POST", "/v1/generate", "gone", json={"model": "cvae-digits"})
        ask("POST", "/v1/generate", "digits", json={"model": "cvae-digits", "label": 9})
        ask("POST", "/v1/generate", "star", json={"model": "nope"})
        ask("POST", "/v1/generate", "digits", json={"model": "cvae-digits", "n": 99, "label": 0})
        ask("POST", "/v1/generate", "star", json={"model": "cvae-digits", "format": "gif"})
        ask("POST", "/v1/generate", "star", content=b"{")
        ask("GET", "/v1/stats", "digits")
        ask("GET", "/no/such/path")
    lines = read_audit(s.config.audit)
    assert len(lines) == len(answers)
    text = s.config.audit.read_text()
    for key in s.keys.values():
        assert key not in text and key[4:24] not in text
    assert [r.status_code for *_, r in answers] == [200, 200, 200, 200, 200, 200, 200, 401, 401, 403, 404, 413, 400, 400, 403, 404]
    for line, (method, path, who, body, r) in zip(lines, answers):
        assert tuple(line) == FIELDS
        assert (line["method"], line["path"], line["status"]) == (method, path, r.status_code)
        assert line["key"] == (None if who in (None, "gone") or path in ("/", "/health", "/no/such/path") else who)
        assert line["bytes"] == len(r.content) and line["sha256"] == hashlib.sha256(r.content).hexdigest()
        assert line["client"] == "testclient" and line["ms"] >= 0 and line["time"].endswith("+00:00")
        if r.status_code == 200 and path == "/v1/generate":
            assert line["batch"] == body["n"]  # alone in its pass
            assert (line["model"], line["n"]) == (body["model"], body["n"])
            assert line["label"] == str(body["label"]) if "label" in body else line["label"] is None
            assert line["format"] == body.get("format", {"cvae-digits": "png", "charlm-names": "json", "gan-grid25": "npz"}[body["model"]])
        else:
            assert line["batch"] is None
    assert lines[9]["label"] == "9" and lines[9]["model"] == "cvae-digits" and lines[11]["n"] == 99
    assert lines[12]["format"] == "gif"


def test_two_checkpoints_of_one_model_are_refused(tiny, tmp_path):
    config = ServeConfig([str(tiny["gan-grid25"])] * 2, tmp_path / "k.json", tmp_path / "a.jsonl", tmp_path / "s.key")
    with pytest.raises(ValueError, match="two checkpoints hold a model called gan-grid25"):
        create_app(config)


def test_reload_reads_the_checkpoints_again_and_refuses_a_changed_one(tiny, tmp_path):
    """A reload re-checks every file: one whose bytes no longer match its sidecar is refused (409)
    and the models served stay the ones loaded before; after the file is put back, a reload works."""
    import shutil

    copies = {}
    for name, path in tiny.items():
        copies[name] = tmp_path / path.name
        shutil.copy(path, copies[name])
        shutil.copy(str(path) + ".sha256", str(copies[name]) + ".sha256")
    keys = tmp_path / "keys.json"
    admin = add_key(keys, "admin", "model:* admin", "1000/min")
    config = ServeConfig([str(p) for p in copies.values()], keys, tmp_path / "audit.jsonl", tmp_path / "signing.key")
    with TestClient(create_app(config)) as client:
        before = client.get("/v1/models", headers=auth(admin)).json()["models"]
        target = copies["gan-grid25"]
        original = target.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0xFF
        target.write_bytes(bytes(damaged))
        r = client.post("/v1/reload", headers=auth(admin))
        assert r.status_code == 409, r.text
        message = r.json()["error"]
        assert message.startswith("reload refused, the models served are unchanged: ") and "does not match its hash file" in message
        assert client.get("/v1/models", headers=auth(admin)).json()["models"] == before
        assert client.post("/v1/generate", json={"model": "gan-grid25", "n": 2}, headers=auth(admin)).status_code == 200
        target.write_bytes(original)
        r = client.post("/v1/reload", headers=auth(admin))
        assert r.status_code == 200 and [m["sha256"] for m in r.json()["reloaded"]] == [m["sha256"] for m in before]
