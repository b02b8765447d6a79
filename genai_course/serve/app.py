"""The server: a FastAPI app that samples course checkpoints behind keys, scopes and quotas.

Routes (FastAPI is imported with this module, which only a starting server imports;
every answer but a picture is JSON; every refusal is ``{"error": one line, "status": N}``):

* ``GET /``: the web page (``page``): a key, a model, a label, the pictures;
* ``GET /health``: ``{"status": "ok"}``, no key needed (for whoever starts the server);
* ``GET /v1/models``: the models this key may use, their labels and formats;
* ``POST /v1/generate`` ``{"model", "n", "label", "format"}``: the signed samples;
* ``POST /v1/reload`` (``admin``): read the checkpoints again, hashes checked;
* ``GET /v1/stats`` (``admin``): requests, and how many samples each forward pass drew.

A request to ``/v1/generate`` is let through door after door, and the first that stays shut
answers: 401 no key or a key that is unknown or revoked (the key file is read now), 429 over the
key's quota (``Retry-After``), 400 a request the server cannot read, 403 a model or label outside
the key's scopes, 404 a model the server does not have, 413 more samples than the key (or the
server) allows, 503 the batcher's queue is full (``Retry-After``). ``AuditTrail`` writes one line
per request whatever happened, with the sha256 of the body returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from . import keys as keylib
from . import signing
from .audit import AuditLog
from .batching import Batcher, QueueFull
from .engine import MEDIA_TYPES, Job, Servable, load_servable
from .page import PAGE
from .quota import Quotas

__all__ = ["ServeConfig", "create_app", "MAX_SAMPLES"]

MAX_SAMPLES = 256  # samples a request, whatever a key's max:N says: the server's own limit


@dataclass
class ServeConfig:
    """Everything ``create_app`` needs: the checkpoints, the key, audit and secret files, the batching."""

    checkpoints: list[str]
    keys: Path
    audit: Path
    signing_key: Path
    max_batch: int = 64
    max_wait_ms: float = 10.0
    max_queue: int = 256
    seed: int = 0


def _refuse(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class AuditTrail:
    """ASGI middleware: one audit line per HTTP request, with the status and the body's sha256."""

    def __init__(self, app: Any, log: AuditLog) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, seen = time.perf_counter(), {"status": 500, "bytes": 0, "written": False}
        digest = hashlib.sha256()
        scope.setdefault("state", {})

        def write() -> None:
            seen["written"] = True
            asked = scope["state"].get("audit", {})
            client = scope.get("client")
            self.log.write(
                key=asked.get("key"), client=client[0] if client else None, method=scope["method"], path=scope["path"],
                model=asked.get("model"), label=asked.get("label"), n=asked.get("n"), format=asked.get("format"),
                status=seen["status"], bytes=seen["bytes"], sha256=digest.hexdigest(), batch=asked.get("batch"),
                ms=round((time.perf_counter() - start) * 1000, 2),
            )

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                digest.update(body)
                seen["bytes"] += len(body)
                if not message.get("more_body", False):
                    write()  # before the last bytes go out: a client that has its answer finds its line in the log
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            if not seen["written"]:  # no whole answer went out (the app failed, the client left): still one line
                write()


def _read_request(body: bytes) -> tuple[str, int, str | None, str | None] | str:
    """(model, n, label, format) from a generate request's JSON, or why it cannot be read (one line)."""
    try:
        asked = json.loads(body or b"{}")
    except ValueError:
        return "the request body is not JSON: send {\"model\": NAME, \"n\": N, \"label\": L, \"format\": F}"
    if not isinstance(asked, dict):
        return "the request body should be a JSON object: {\"model\": NAME, \"n\": N, \"label\": L, \"format\": F}"
    unknown = sorted(set(asked) - {"model", "n", "label", "format"})
    if unknown:
        return f"unknown field {unknown[0]!r}: a request has model, n, label and format"
    model, n, label, fmt = asked.get("model"), asked.get("n", 1), asked.get("label"), asked.get("format")
    if not isinstance(model, str):
        return f"name the model: \"model\" should be one of the server's names (a string), got {model!r}"
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        return f"\"n\" should be a whole number of samples, at least 1 (got {n!r})"
    if isinstance(label, bool) or (label is not None and not isinstance(label, (str, int))):
        return f"\"label\" should be a class number or a locale (got {label!r})"
    if fmt is not None and not isinstance(fmt, str):
        return f"\"format\" should be png, npz or json (got {fmt!r})"
    return model, n, None if label is None else str(label), fmt


def create_app(config: ServeConfig) -> Any:
    """The FastAPI app serving ``config.checkpoints`` (loaded now: a bad checkpoint fails here, in one line)."""
    loaded = [load_servable(p, config.seed) for p in config.checkpoints]
    models: dict[str, Servable] = {}
    for s in loaded:
        if s.name in models:
            raise ValueError(f"two checkpoints hold a model called {s.name} ({models[s.name].path} and {s.path}): serve one")
        models[s.name] = s
    if not config.signing_key.exists():
        signing.new_secret(config.signing_key)
    secret = signing.read_secret(config.signing_key)
    quotas, executor = Quotas(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="sampler")
    batchers: dict[str, Batcher[Job]] = {}
    served = {"requests": 0}  # answered with samples
    log = AuditLog(config.audit)

    def sampler(name: str) -> Any:
        return lambda jobs: models[name].run(jobs)  # models[name] now: a reload swaps it in

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        for name in models:
            batchers[name] = Batcher(sampler(name), lambda j: j.n, executor, max_batch=config.max_batch,
                                     max_wait_ms=config.max_wait_ms, max_queue=config.max_queue)
            batchers[name].start()
        yield
        for b in batchers.values():
            await b.stop()
        executor.shutdown(wait=False, cancel_futures=True)
        log.close()  # the audit file, closed when the server stops

    app = FastAPI(title="genai-course serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    def who(request: Request) -> keylib.KeyRecord | None:
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header[:7].lower() == "bearer " else None
        return keylib.find(config.keys, presented)

    def unauthorized(request: Request) -> Any:
        why = "no key: send the header 'Authorization: Bearer <key>'" if not request.headers.get("authorization") else \
            "this key is not valid (unknown or revoked)"
        return _refuse(401, why, {"WWW-Authenticate": "Bearer"})

    @app.get("/", response_class=HTMLResponse)
    async def page() -> Any:
        return HTMLResponse(PAGE)

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models(request: Request) -> Any:
        key = who(request)
        if key is None:
            return unauthorized(request)
        request.state.audit = {"key": key.name}
        scopes = key.parsed_scopes()
        mine = [s.describe() for name, s in models.items() if scopes.allows_model(name)]
        for d in mine:
            d["labels"] = [y for y in d["labels"] if scopes.allows_label(y)]
        return {"models": mine, "max_samples": min(scopes.max_samples, MAX_SAMPLES), "every_label": scopes.every_label, "key": key.name}

    @app.post("/v1/generate")
    async def generate(request: Request) -> Any:
        key = who(request)
        if key is None:
            return unauthorized(request)
        request.state.audit = audit = {"key": key.name}
        wait = quotas.take(key.name, key.per_minute())
        if wait:
            return _refuse(429, f"over this key's quota of {key.quota}: try again in {wait} s", {"Retry-After": str(wait)})
        asked = _read_request(await request.body())
        if isinstance(asked, str):
            return _refuse(400, asked)
        name, n, label, fmt = asked
        audit.update(model=name, n=n, label=label, format=fmt)
        refused = key.parsed_scopes().check(name, label, n)
        if refused:
            return _refuse(*refused)
        if name not in models:
            return _refuse(404, f"this server has no model {name} (it serves: {', '.join(models)})")
        if n > MAX_SAMPLES:
            return _refuse(413, f"{n} samples is more than this server draws for one request (at most {MAX_SAMPLES})")
        served_model = models[name]
        fmt = fmt or served_model.formats[0]
        audit["format"] = fmt
        if fmt not in served_model.formats:
            return _refuse(400, f"model {name} ({served_model.kind}) answers in {' or '.join(served_model.formats)}, not {fmt}")
        bad_label = served_model.check_label(label)
        if bad_label:
            return _refuse(400, bad_label)
        job = Job(n, label)
        try:
            (samples, labels), batch = await batchers[name].submit(job)
        except QueueFull:
            return _refuse(503, f"the server is busy ({config.max_queue} requests waiting): try again in 1 s", {"Retry-After": "1"})
        audit["batch"] = batch
        body = await asyncio.get_running_loop().run_in_executor(None, models[name].encode, samples, labels, fmt, secret, job)
        served["requests"] += 1
        return Response(body, media_type=MEDIA_TYPES[fmt], headers={
            "X-Batch-Samples": str(batch), "X-Signature-Key-Id": signing.key_id(secret)})

    def admin(request: Request) -> Any:
        key = who(request)
        if key is None:
            return None, unauthorized(request)
        request.state.audit = {"key": key.name}
        if not key.parsed_scopes().admin:
            return None, _refuse(403, "this key has no admin scope")
        return key, None

    @app.get("/v1/stats")
    async def stats(request: Request) -> Any:
        _, refused = admin(request)
        if refused is not None:
            return refused
        return {
            "requests": served["requests"], "max_batch": config.max_batch, "max_wait_ms": config.max_wait_ms,
            "samples_per_pass": {name: dict(sorted(b.samples_per_pass.items())) for name, b in batchers.items()},
            "requests_per_pass": {name: dict(sorted(b.requests_per_pass.items())) for name, b in batchers.items()},
        }

    @app.post("/v1/reload")
    async def reload(request: Request) -> Any:
        _, refused = admin(request)
        if refused is not None:
            return refused
        from ..checkpoints import CheckpointError
        from .sealed import SealError

        try:
            fresh = [load_servable(s.path, config.seed) for s in models.values()]
        except (CheckpointError, SealError) as e:
            return _refuse(409, f"reload refused, the models served are unchanged: {e}")
        for s in fresh:
            if s.name not in models:
                return _refuse(409, f"reload refused: {s.path} now holds {s.name}, not the model it held")
        for s in fresh:
            models[s.name] = s
        return {"reloaded": [s.describe() for s in fresh]}

    return AuditTrail(app, log)
