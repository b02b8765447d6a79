#!/usr/bin/env python3
"""The README's batching table (lesson 15): requests a second and latency, batching on and off.

    python scripts/serve_results.py [--repeat 3] [--clients 1 4 16 64] [--requests 64] [--out runs/serve-bench]

Serves lesson 10's ddpm-grid25 (its 200-step ancestral sampler: a forward pass whose cost hardly
depends on how many samples it draws) with `genai-course serve` twice, batching on (--max-batch 64
--max-wait-ms 10, the defaults) and off (--max-batch 1), and runs the lesson's closed-loop load test
(`serve.run_load`, one sample a request, `--requests` requests per setting) at each number of
clients. Each setting is measured `--repeat` times, on and off interleaved so that a busy moment
hits both; the report gives medians (min..max), the gain (on / off) and, for batching on, the
histogram of samples per forward pass. The checkpoint is the lesson's pretrained run when there is
one (`genai-course pretrain 10`), else trained here (about 30 s). Writes OUT/report.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--requests", type=int, default=64, help="requests per setting (each client sends requests/clients, at least 2)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "serve-bench"))
    args = parser.parse_args()

    import httpx

    from genai_course import models, serve, threads

    threads.use("lesson")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    start = time.time()
    model = models.train_model("ddpm-grid25", pretrained=True, progress=False)
    checkpoint = work / "ddpm-grid25.pt"
    model.save(str(checkpoint))
    keys = work / "keys.json"
    key = serve.add_key(keys, "bench", "model:* admin max:64", quota="1000000/min")
    body = {"model": "ddpm-grid25", "n": 1, "format": "json"}
    settings = {"on": ["--max-batch", "64", "--max-wait-ms", "10"], "off": ["--max-batch", "1"]}
    results: dict[tuple[str, int], list] = {}
    histogram: dict[int, int] = {}
    servers = {name: serve.ServerProcess([checkpoint], keys, options=opts).start() for name, opts in settings.items()}
    try:
        for _ in range(args.repeat):
            for clients in args.clients:
                for name, server in servers.items():
                    r = serve.run_load(server.url, key, body, clients=clients, requests_per_client=max(2, args.requests // clients))
                    if r.statuses != {200: r.requests} or r.unanswered:
                        print(f"batching {name}, {clients} clients: {r.statuses}, {r.unanswered} unanswered", file=sys.stderr)
                        return 1
                    results.setdefault((name, clients), []).append(r)
        stats = httpx.get(servers["on"].url + "/v1/stats", headers={"Authorization": f"Bearer {key}"}).json()
        histogram = {int(k): v for k, v in stats["samples_per_pass"]["ddpm-grid25"].items()}
    finally:
        for server in servers.values():
            server.stop()

    def cell(values: list[float], digits: int = 1) -> str:
        return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}..{max(values):,.{digits}f})"

    lines = [
        "# Batching on and off (lesson 15)", "",
        f"`python scripts/serve_results.py --repeat {args.repeat}`: ddpm-grid25, one sample a request, "
        f"{args.requests} requests a setting (at least 2 a client), closed loop on 127.0.0.1; medians of {args.repeat} "
        f"(min..max); {time.time() - start:.0f} s in all.", "",
        "| clients | batching | requests/s | median ms | p95 ms | gain (on/off req/s) |", "|---|---|---|---|---|---|",
    ]
    for clients in args.clients:
        on, off = results[("on", clients)], results[("off", clients)]
        gain = [a.per_second / b.per_second for a, b in zip(on, off)]
        for name, rs in (("on", on), ("off", off)):
            lines.append(f"| {clients} | {name} | {cell([r.per_second for r in rs])} | {cell([r.median_ms for r in rs])} | "
                         f"{cell([r.p95_ms for r in rs])} | {cell(gain, 2) + 'x' if name == 'on' else ''} |")
    passes = sum(histogram.values())
    lines += ["", f"Batching on, every setting and repeat: {passes} forward passes; samples per pass: "
              + ", ".join(f"{k}: {v}" for k, v in sorted(histogram.items())), ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
