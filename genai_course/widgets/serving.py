"""Lesson 15's pictures and widget: a generator behind a door.

* ``draw_door``: the path of a request through the server's checks, each refusal with its
  status code, and the audit log that records every request whatever its answer;
* ``draw_png_chunks``: the chunks of a signed PNG and the bytes its signature covers;
* ``draw_batching_timeline``: requests arriving, gathered by the batcher into forward passes
  (up to ``max_batch`` samples or ``max_wait_ms``), simulated with fixed times;
* ``request_panel``: a key, a model, a label and a number of samples; a button sends the
  request to a running server and shows the status line and the picture or the names.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["draw_door", "draw_png_chunks", "png_chunks", "batching_timeline", "draw_batching_timeline", "request_panel"]

DOORS = (  # (what is checked, the status of a refusal) in the order the server checks them
    ("key", 401), ("quota", 429), ("request", 400), ("scopes", 403), ("model", 404), ("size", 413), ("queue", 503),
)
_PASS = ("batch", "model", "sign")


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt  # only a still picture drawn for the notebook uses pyplot

        _, ax = plt.subplots(figsize=size)
    elif isinstance(ax, Figure):
        ax = ax.add_subplot()
    return ax


def _box(ax: Any, x: float, y: float, text: str, color: str, width: float = 1.0, height: float = 0.5, size: int = 8) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03", fc=color, ec="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], color: str = "0.3", style: str = "-|>") -> None:
    ax.annotate("", end, start, arrowprops={"arrowstyle": style, "color": color, "lw": 1})


def draw_door(ax: Any = None) -> Any:
    """The path of a ``POST /v1/generate`` request: door after door (the first that stays shut
    answers with its status), then the batcher, the model and the signature (200); below, the
    audit log that gets one line per request, whatever happened. Returns the Axes."""
    ax = _axes(ax, (12, 3.4))
    steps = [*(d for d, _ in DOORS), *_PASS, "200"]
    xs = np.arange(len(steps)) * 1.25
    _box(ax, -1.3, 1.5, "request", "white")
    _arrow(ax, (-0.75, 1.5), (xs[0] - 0.52, 1.5))
    for i, name in enumerate(steps):
        if i < len(DOORS):
            _box(ax, xs[i], 1.5, name, "#fde0c5")
            status = DOORS[i][1]
            _arrow(ax, (xs[i], 1.23), (xs[i], 0.78), "#c0392b")
            ax.text(xs[i], 0.6, str(status), ha="center", va="center", fontsize=9, color="#c0392b", weight="bold")
        else:
            _box(ax, xs[i], 1.5, name, "#c8e6c9" if name == "200" else "#dde7f3")
        if i + 1 < len(steps):
            _arrow(ax, (xs[i] + 0.52, 1.5), (xs[i + 1] - 0.52, 1.5))
    width = xs[-1] + 1.9
    ax.add_patch(FancyBboxPatch((-1.8, -0.45), width, 0.55, boxstyle="round,pad=0.03", fc="#f2f2f2", ec="0.3"))
    ax.text(xs[-1] / 2 - 0.6, -0.18, "audit log: one line per request, whatever its answer (key name, what was asked, "
            "status, sha256 of the body; never the key)", ha="center", va="center", fontsize=8)
    for x in [*xs[: len(DOORS)], xs[-1]]:
        _arrow(ax, (x, 0.45 if x != xs[-1] else 1.23), (x, 0.13), "0.6", "-|>")
    ax.text(xs[len(DOORS)] + 1.25, 2.05, "one forward pass for many requests", ha="center", fontsize=8, color="0.3")
    ax.set(xlim=(-2, xs[-1] + 0.8), ylim=(-0.6, 2.3), title="a request through the door: the first check that fails answers")
    ax.title.set_fontsize(10)
    ax.axis("off")
    return ax


def png_chunks(png: bytes) -> list[tuple[str, int, int]]:
    """(chunk type, offset, length in bytes with its 12 bytes of framing) of each chunk of ``png``."""
    if not isinstance(png, (bytes, bytearray)) or not bytes(png).startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("png must be the bytes of a PNG file (they start with \\x89PNG)")
    chunks, at = [], 8
    while at + 12 <= len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        chunks.append((bytes(png[at + 4 : at + 8]).decode("latin-1"), at, size + 12))
        at += size + 12
    return chunks


def draw_png_chunks(png: bytes, ax: Any = None) -> Any:
    """The chunks of a signed PNG in file order, each box labelled with its size in bytes (boxes
    of equal width: IDAT, the pixels, is most of the file); the bracket shows what the HMAC
    covers: every byte except the signature's own tEXt chunk. Returns the Axes."""
    chunks = [("signature", 0, 8), *png_chunks(png)]
    ax = _axes(ax, (10, 2.4))
    for i, (kind, _, size) in enumerate(chunks):
        signed = kind == "tEXt"
        label = "PNG\nsignature" if kind == "signature" else kind + ("\ngenai-course-hmac" if signed else "")
        _box(ax, i * 1.6, 1.0, f"{label}\n{size} bytes", "#fde0c5" if signed else "#dde7f3", width=1.45, height=0.9)
    for i, (kind, _, _) in enumerate(chunks):
        if kind != "tEXt":
            ax.plot([i * 1.6 - 0.7, i * 1.6 + 0.7], [0.35, 0.35], color="#2e7d32", lw=3)
    ax.text((len(chunks) - 1) * 0.8, 0.1, "green: the bytes the HMAC covers (the file without its tEXt chunk); "
            "the tEXt chunk holds the HMAC", ha="center", fontsize=8, color="#2e7d32")
    ax.set(xlim=(-0.9, len(chunks) * 1.6 - 0.7), ylim=(-0.1, 1.6), title="a signed PNG, chunk by chunk")
    ax.title.set_fontsize(10)
    ax.axis("off")
    return ax


def batching_timeline(arrivals_ms: Sequence[float], *, max_batch: int, max_wait_ms: float,
                      pass_ms: float) -> list[tuple[float, float, list[int]]]:
    """Simulate the batcher for requests of one sample arriving at ``arrivals_ms`` (sorted): the
    worker takes the first waiting request, waits until ``max_wait_ms`` after it or until
    ``max_batch`` are gathered, and runs one pass of ``pass_ms``. Returns (start, end, request
    indices) of each pass."""
    arrivals = [float(a) for a in arrivals_ms]
    if any(b < a for a, b in zip(arrivals, arrivals[1:])):
        raise ValueError("arrivals_ms must be sorted")
    passes, free, i = [], 0.0, 0
    while i < len(arrivals):
        taken = max(arrivals[i], free)  # the worker takes the first waiting request
        deadline = taken + max_wait_ms
        members = [j for j in range(i, len(arrivals)) if arrivals[j] <= deadline][:max_batch]
        close = deadline if len(members) < max_batch else max(taken, arrivals[members[-1]])
        passes.append((close, close + pass_ms, members))
        free, i = close + pass_ms, members[-1] + 1
    return passes


def draw_batching_timeline(arrivals_ms: Sequence[float], *, max_batch: int, max_wait_ms: float, pass_ms: float,
                           ax: Any = None, title: str | None = None) -> Any:
    """One row per request (a dot when it arrives, a line while it waits, a bar when it is drawn)
    and one bottom row for the model's forward passes, from ``batching_timeline``. Returns the Axes."""
    passes = batching_timeline(arrivals_ms, max_batch=max_batch, max_wait_ms=max_wait_ms, pass_ms=pass_ms)
    ax = _axes(ax, (9, 3))
    colors = matplotlib.colormaps["tab10"]
    for k, (start, end, members) in enumerate(passes):
        color = colors(k % 10)
        ax.broken_barh([(start, end - start)], (-1.4, 0.8), color=color, alpha=0.8)
        ax.text((start + end) / 2, -1.0, str(len(members)), ha="center", va="center", fontsize=8, color="white", weight="bold")
        for j in members:
            ax.plot([arrivals_ms[j], start], [j, j], color="0.6", lw=1)
            ax.broken_barh([(start, end - start)], (j - 0.3, 0.6), color=color, alpha=0.5)
            ax.plot(arrivals_ms[j], j, "o", color="0.2", ms=3)
    ax.set_yticks([-1.0, *range(len(arrivals_ms))], ["passes", *[f"request {j + 1}" for j in range(len(arrivals_ms))]], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(title or f"max_batch {max_batch}, max_wait {max_wait_ms:g} ms: {len(passes)} forward passes", fontsize=10)
    return ax


# --------------------------------------------------------------------------------- the panel


def _http_send(url: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.post(url.rstrip("/") + "/v1/generate", json=body, headers=headers, timeout=30.0)
    return response.status_code, dict(response.headers), response.content


def _points_png(points: Any) -> bytes:
    fig = Figure(figsize=(3, 3), layout="compressed")
    ax = fig.add_subplot()
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    ax.scatter(p[:, 0], p[:, 1], s=8, color="#1f77b4")
    ax.set_aspect("equal")
    return _draw.render(fig)


def request_panel(url: str, keys: Mapping[str, str], models: Sequence[Mapping[str, Any]], *,
                  send: Callable[[str, str, dict[str, Any]], tuple[int, dict[str, str], bytes]] | None = None) -> ipywidgets.VBox:
    """Send requests to the server at ``url`` by hand.

    ``keys`` maps a name to a key (e.g. one that was revoked, to see the 401); ``models`` is the
    ``"models"`` list of ``GET /v1/models`` (each with ``name``, ``kind``, ``labels``). Controls:
    ``.key``, ``.model``, ``.label`` (``"any"`` or one of the model's labels), ``.n`` and
    ``.button``; ``.send()`` sends (the button calls it) and returns the status code. The status
    line goes to ``.status``; a picture (digits, points) to ``.image``; names to ``.names``.
    ``send(url, key, body) -> (status, headers, body bytes)`` replaces the HTTP call (tests).
    """
    import ipywidgets as w

    if not isinstance(keys, Mapping) or not keys or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise TypeError("keys must be a non-empty dict {name: key}, both strings")
    if not isinstance(models, Sequence) or not models or not all(isinstance(m, Mapping) and "name" in m for m in models):
        raise TypeError("models must be a non-empty list of dicts with a 'name' (the 'models' of GET /v1/models)")
    by_name = {m["name"]: m for m in models}
    send = send or _http_send

    key = w.Dropdown(options=list(keys), description="key")
    model = w.Dropdown(options=list(by_name), description="model")
    label = w.Dropdown(description="label")
    n = w.IntSlider(value=8, min=1, max=32, description="samples")
    button = w.Button(description="send", button_style="primary")
    status, names, image = w.Label(), w.HTML(), w.Image(format="png")
    box = w.VBox()

    def labels(_: Any = None) -> None:
        label.options = ["any", *[str(y) for y in by_name[model.value].get("labels", [])]]
        label.value = "any"

    def run(_: Any = None) -> int:
        chosen = by_name[model.value]
        body: dict[str, Any] = {"model": model.value, "n": int(n.value)}
        if label.value != "any":
            body["label"] = label.value
        if chosen.get("kind") == "points":
            body["format"] = "json"
        code, headers, data = send(url, keys[key.value], body)
        names.value, image.layout.display = "", "none"
        if code != 200:
            try:
                message = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                message = data[:200].decode("utf-8", errors="replace")
            status.value = f"{code}: {message}"
            return code
        status.value = f"200: {len(data)} bytes, signed; the forward pass drew {headers.get('x-batch-samples', '?')} samples"
        if data.startswith(b"\x89PNG"):
            image.value, image.layout.display = data, None
        else:
            payload = json.loads(data)["payload"]
            if "names" in payload:
                names.value = ", ".join(f"{a} ({b})" for a, b in zip(payload["names"], payload["languages"]))
            elif "points" in payload:
                image.value, image.layout.display = _points_png(payload["points"]), None
        return code

    model.observe(labels, names="value")
    button.on_click(run)
    labels()
    box.children = [w.HBox([key, model]), w.HBox([label, n, button]), status, names, image]
    box.key, box.model, box.label, box.n, box.button = key, model, label, n, button
    box.status, box.names, box.image, box.send = status, names, image, run
    return box
