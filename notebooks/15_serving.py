# %% [markdown]
# # Lesson 15: A generator behind a door
#
# By the end of this lesson you can put a trained generator behind a server that decides who
# may use it and for what; show each of its refusals happen (400, 401, 403, 404, 413, 429, 503)
# and say which check gave it; store keys so that a stolen key file lets no one in; read the
# audit log that records every request; check that a file the server returned was made by it
# and not changed since, and say what that check cannot prove; keep a checkpoint encrypted on
# disk; and measure what dynamic batching buys (requests a second) and what it costs (waiting),
# with a load test.
#
# Run time: the training cell prints how long each model took (much less with
# `PRETRAINED = True`); the load test prints its own timings.
#
# Where it sits: lessons 11 and 13 wrote checkpoints with a sha256 **sidecar** (a small file
# beside the checkpoint holding its hash) and read them with the safe loader, which runs no
# code from the file. Until now only the notebook that trained a model could use it. Here
# other people use it, through a server.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 15`
# (or `--all`) saved in runs/pretrained/: the same weights, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import matplotlib.pyplot as plt
import numpy as np
import torch

from genai_course import checkpoints, models, serve, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
work = Path(tempfile.mkdtemp(prefix="lesson15-"))  # every file of this lesson goes here


def shown(message):
    """A message with this run's scratch folder written as WORK (it differs every run)."""
    return str(message).replace(str(work), "WORK")


# %% [markdown]
# ## Three models, saved with their sidecars
#
# **Serving** a model means running it as a program that answers requests from other programs,
# here over HTTP (HyperText Transfer Protocol, the protocol of the web). A request reaches a
# server at an address and a **port**, a number that picks one program among those listening
# on that machine. The answer has a body (here a picture, or JSON, JavaScript Object Notation:
# text holding numbers, strings, lists and dictionaries), and request and answer both carry
# **headers**: lines `Name: value` sent beside the body, such as who is asking.
#
# We serve three of the course's models: lesson 08's conditional VAE of digits (2,400 steps,
# as in that lesson), lesson 09's names model and lesson 10's diffusion model of 2D points.

# %%
# NBVAL_IGNORE_OUTPUT
trained = {}
trained["cvae-digits"] = models.train_model("cvae-digits", steps=2400, progress=False, pretrained=PRETRAINED)
trained["charlm-names"] = models.train_model("charlm-names", progress=False, pretrained=PRETRAINED)
trained["ddpm-grid25"] = models.train_model("ddpm-grid25", progress=False, pretrained=PRETRAINED)
for name, m in trained.items():
    print(f"{name}: {m.step} steps in {m.history.seconds:.0f} s")

# %%
paths = {}
for name, m in trained.items():
    paths[name] = work / f"{name}.pt"
    m.save(str(paths[name]))  # writes the checkpoint and its .sha256 sidecar
    print(f"{name}: steps {m.step}; {paths[name].name} and {checkpoints.sidecar_path(paths[name]).name} written")

# %% [markdown]
# Why a server: a colleague, a web page or another program can use the model without the
# notebook, the training code or the weights. But a model that anyone can reach raises new
# questions. Anyone can call it, so who is asking? They can ask for anything, so what may they
# ask for? As often as they like, so how much? Someone could swap the model file for another,
# so is it the one we trained? And someone could hand us a picture and say it came from our
# model, so can we tell which outputs are ours?
#
# Two real stories. TorchServe, PyTorch's model server, let anyone who could reach its
# management interface register a model downloaded from any address (CVE-2023-43654, a
# Common Vulnerabilities and Exposures number; part of what Oligo Security called "ShellTorch"
# in 2023). TorchServe 0.8.2 answered with a warning when the setting that lists the allowed
# addresses (`allowed_urls`) is left at its default, which allows any; the door is shut only
# by setting it. Since a model archive may carry code, that door could lead to running someone
# else's code on the server. LitServe read its API key from the environment
# once, when the library was imported, so a key set later was never checked and every request
# got in; the fix (LitServe pull request 754) stops reading it at import and compares keys in
# constant time (defined below).
# Neither is exotic: a door left open by a default, and a check made at the wrong moment.
#
# ## The door
#
# An **endpoint** is one address of the server that answers one kind of request, e.g.
# `POST /v1/generate`. Every answer carries an **HTTP status code**, a three-digit number
# saying what happened: 200 means here is what you asked for; 4xx means the request was
# refused because of the request or the one sending it; 5xx means the server could not serve
# it now. The server checks a generate request door after door, and the first door that stays
# shut answers with its code. Every request, whatever its answer, leaves one line in the audit
# log (below).
#
# The order is chosen. The key comes first, so that a stranger learns nothing, not even which
# models exist. The quota comes next, before the request's body is even read, so that a flood
# of requests costs the server little. The scopes (403) come before the model's existence
# (404): a key asking for a model outside its scopes hears "not yours" whether that model
# exists or not, so it cannot probe for the others. Size comes before the queue, so that a
# request too big is refused before it takes a place in line. One door is left out of the
# drawing: just after the size, a format or a label that the model does not have gets a
# second 400.


# %%
widgets.draw_door()
plt.show()

# %% [markdown]
# ## Keys
#
# An **API key** is a long random string that a program sends with each request to say who it
# is (the header `Authorization: Bearer <key>`). The server must be able to check a key without
# storing it: a copied key file should let no one in. So the key file keeps, for each key, a
# **salt** (random bytes, different for every key) and a **hash**: a function that turns any
# input into a fixed-length fingerprint, easy to compute and infeasible to run backwards. Here
# the hash is an **HMAC** (hash-based message authentication code): HMAC-SHA256(k, bytes) is a
# SHA-256 hash of the bytes mixed with a second input k. For the key file, k is the salt, which
# is no secret: it only makes two equal keys store different hashes. The signatures below use
# HMAC with a k that is secret. A key is random enough (43 random characters after its prefix)
# that no one can find it by trying guesses against the stored hash.
#
# Each key carries **scopes**: what it may ask for (`model:NAME`, `label:0-4`, `max:8` samples
# a request, `admin` for the server's statistics) and a **quota**: how many requests a minute.

# %%
keys_file = work / "keys.json"
key_of = {
    "alice": serve.add_key(keys_file, "alice", "model:cvae-digits label:0-4 max:8"),
    "names": serve.add_key(keys_file, "names", "model:charlm-names max:16"),
    "admin": serve.add_key(keys_file, "admin", "model:* max:64 admin", quota="100000/min"),  # for the load test
    "slow": serve.add_key(keys_file, "slow", "model:cvae-digits", quota="3/min"),
}
for r in serve.list_keys(keys_file):
    print(f"{r.name:<6} quota {r.quota:<12} scopes: {r.scopes}")
print("a key:", len(key_of["alice"]), "characters:", serve.KEY_PREFIX, "then", len(key_of["alice"]) - len(serve.KEY_PREFIX), "random ones")

# %% [markdown]
# The key file as it is on disk (salts and hashes change every run):

# %%
# NBVAL_IGNORE_OUTPUT
print(json.dumps(json.loads(keys_file.read_text())["keys"][0], indent=1))

# %%
text = keys_file.read_text()
record = serve.list_keys(keys_file)[0]
print("fields stored:", list(json.loads(text)["keys"][0]))
print("salt:", len(record.salt), "hex digits | hash:", len(record.hash), "hex digits")
print("any key in the file:", any(k in text for k in key_of.values()))

# %% [markdown]
# Rebuild alice's stored hash by hand, from her key and the salt in the file:

# %%
by_hand = hmac.new(bytes.fromhex(record.salt), key_of["alice"].encode(), hashlib.sha256).hexdigest()
print("hash by hand == the file's:", by_hand == record.hash, "| == serve.hash_key:", by_hand == serve.hash_key(key_of["alice"], record.salt))

# %% [markdown]
# How the server compares a presented key's hash with a stored one matters. Python's `==` on
# two strings stops at the first character that differs, so it answers slightly sooner when
# the first characters differ than when only the last does. An attacker who can time many
# guesses can use that to learn a secret one character at a time (a **timing attack**). A
# **constant-time comparison** takes the same time wherever the strings differ:
# `hmac.compare_digest` looks at every byte whatever it finds. `serve.find` hashes the presented
# key with each entry's salt, compares with `compare_digest`, and checks every entry, so the
# time says neither how much of a key was right nor which entry matched.

# %%
stored = record.hash
print("compare_digest(same):", hmac.compare_digest(by_hand, stored))
print("compare_digest(last digit changed):", hmac.compare_digest(stored[:-1] + ("0" if stored[-1] != "0" else "1"), stored))
print("serve.find(alice's key):", serve.find(keys_file, key_of["alice"]).name)
print("serve.find(a wrong key):", serve.find(keys_file, serve.KEY_PREFIX + "x" * 43))

# %% [markdown]
# ## Start the server
#
# `serve.ServerProcess` runs `genai-course serve` as a child process listening on 127.0.0.1
# (this machine only) on a free port, and waits until it answers. Nothing outlives this
# notebook: the server is started with `--exit-with-stdin`, so it stops by itself when its
# standard input closes, which happens when the kernel stops in any way. We start it here and
# stop every server in the last cell. The audit log and the signing secret are written beside
# the key file.

# %%
servers = []  # every server this lesson starts, stopped in the last cell


def start(checkpoint_paths, options=(), env=None):
    server = serve.ServerProcess(checkpoint_paths, keys_file, options=list(options), env=env)
    servers.append(server)
    return server.start()


server = start(paths.values())
print("running:", server.running, "| on 127.0.0.1:", server.url.startswith("http://127.0.0.1:"))
print("health:", httpx.get(server.url + "/health").json())

# %% [markdown]
# ## Every status code
#
# `check` sends a generate request with a key, prints what it was, the status and the
# server's one-line message, and keeps (request, expected status, status received) for the
# table below.

# %%
http = httpx.Client(base_url=server.url, timeout=60)


asked = []  # (request, expected, got)


def check(what, expected, key, body=None, raw=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = http.post("/v1/generate", headers=headers, **({"content": raw} if raw is not None else {"json": body}))
    said = response.json()["error"] if response.status_code != 200 else response.headers["content-type"]
    print(f"{what:<34} {response.status_code}: {said}")
    asked.append((what, expected, response.status_code))
    return response


alice = key_of["alice"]
check("no key", 401, None, {"model": "cvae-digits"})
check("a wrong key", 401, serve.KEY_PREFIX + "x" * 43, {"model": "cvae-digits"})
check("not JSON", 400, alice, raw=b"three digits please")
check("alice asks for names", 403, alice, {"model": "charlm-names"})
check("alice asks for a 7", 403, alice, {"model": "cvae-digits", "label": 7})
check("admin asks for a model not served", 404, key_of["admin"], {"model": "gan-ring8"})
check("alice asks for nine 2s", 413, alice, {"model": "cvae-digits", "label": 2, "n": 9})
check("alice asks for 2s as JSON", 400, alice, {"model": "cvae-digits", "label": 2, "format": "json"})
digits_png = check("alice asks for eight 3s", 200, alice, {"model": "cvae-digits", "label": 3, "n": 8}).content
names_json = check("names asks for German names", 200, key_of["names"], {"model": "charlm-names", "label": "de_DE", "n": 6}).content
points_json = check("admin asks for 64 points", 200, key_of["admin"], {"model": "ddpm-grid25", "n": 64, "format": "json"}).content
_ = check("admin asks for 300 points", 413, key_of["admin"], {"model": "ddpm-grid25", "n": 300, "format": "json"})

# %% [markdown]
# The 200 answers: the digits come as a PNG picture, decoded here with matplotlib; the names
# and the points as JSON.

# %%
# NBVAL_IGNORE_OUTPUT
plt.figure(figsize=(8, 1.4))
plt.imshow(plt.imread(io.BytesIO(digits_png)), cmap="gray")
plt.axis("off")
plt.title("alice's eight 3s, as the server sent them (a PNG)", fontsize=9)
plt.show()
payload = json.loads(names_json)["payload"]
print("names:", payload["names"], "| languages:", set(payload["languages"]))
points = np.array(json.loads(points_json)["payload"]["points"])
print("points:", points.shape)

# %% [markdown]
# The quota is a **token bucket**: a bucket holds up to N tokens and refills at N a minute;
# each request takes one, and a request that finds the bucket empty is refused with 429 and a
# `Retry-After` header: the whole seconds until the next token. The `slow` key has 3 a minute:
# a burst of 3 passes, the fourth is refused.

# %%
for i in range(4):
    response = check(f"slow, request {i + 1}", 200 if i < 3 else 429, key_of["slow"], {"model": "cvae-digits", "n": 1})
print("the slow key's quota:", serve.parse_quota(serve.list_keys(keys_file)[3].quota), "a minute")
retry_after = response.headers.get("retry-after")
print("Retry-After header on the 429:", retry_after is not None, "| a whole number of seconds, at most 20:", retry_after is not None and 1 <= int(retry_after) <= 20)

# %% [markdown]
# The table of what we asked, what we expected and what came back (503 comes in the load
# section below):

# %%
print(f"{'request':<34} {'expected':>8} {'got':>4}  same")
for what, expected, got in asked:
    print(f"{what:<34} {expected:>8} {got:>4}  {expected == got}")
print("status codes seen:", sorted({got for _, _, got in asked}))

# %% [markdown]
# ## Keys while the server runs
#
# The server reads the key file on every request, so a key added now works at once, and a key
# revoked now is refused at once (LitServe's bug was a key read once).

# %%
key_of["bob"] = serve.add_key(keys_file, "bob", "model:cvae-digits max:4")
check("bob, just added", 200, key_of["bob"], {"model": "cvae-digits", "n": 2})
serve.revoke_key(keys_file, "bob")
check("bob, just revoked", 401, key_of["bob"], {"model": "cvae-digits", "n": 2})
print("bob in the key file now: revoked =", [r.revoked for r in serve.list_keys(keys_file) if r.name == "bob"])

# %% [markdown]
# ## The audit log
#
# An **audit log** records who did what and when, so that a question asked later ("who made
# this picture?", "who tried keys that do not exist?") has an answer. The server writes one
# JSON line per request: the time, the key's name (never the key), what was asked, the status,
# and the sha256 of the body it returned. Here are this session's generate requests (the time,
# the client's address and the hashes change every run, so they are left out):

# %%
audit_file = work / "audit.jsonl"
lines = [line for line in serve.read_audit(audit_file) if line["path"] == "/v1/generate"]  # written before each answer's last bytes
print(f"{'key':<7} {'model':<13} {'label':<6} {'n':>4} {'format':<7} {'status':>6} {'batch':>6}")
for line in lines:
    row = [str(line[f]) if line[f] is not None else "-" for f in ("key", "model", "label", "n", "format", "status", "batch")]
    print(f"{row[0]:<7} {row[1]:<13} {row[2]:<6} {row[3]:>4} {row[4]:<7} {row[5]:>6} {row[6]:>6}")
print("fields of a line:", list(lines[0]))

# %%
png_line = next(line for line in lines if line["status"] == 200 and line["format"] == "png" and line["n"] == 8)
print("the audit's sha256 of alice's PNG == sha256 of the bytes she received:", png_line["sha256"] == hashlib.sha256(digits_png).hexdigest())
log_text = audit_file.read_text()
print("any key string in the audit log:", any(k in log_text for k in key_of.values()))
print("lines without a key name (no key, or a wrong one):", sum(line["key"] is None for line in lines))

# %% [markdown]
# ## Signed outputs
#
# The audit log records what the server sent, but it stays with the server (and whoever can
# write that file can change it). A **signature** travels with the file itself. The server
# signs every answer with an HMAC: HMAC-SHA256(secret, bytes), where the secret is 32 random
# bytes kept in `signing.key` beside the key file. Only a holder of the secret can compute it,
# and it changes completely if one byte of the file changes. A plain sha256 written into the
# file would prove nothing: whoever alters the file computes a new one (lesson 13 kept hashes
# in a manifest, apart from the files, for that reason).
#
# A PNG file is a list of **chunks**, each a length, a type, data and a checksum: `IHDR` (size
# and kind of image), `IDAT` (the compressed pixels), `IEND` (the end). The server puts its
# signature in a `tEXt` chunk called `genai-course-hmac` just before `IEND`; image viewers skip
# text chunks they do not know.

# %%
widgets.draw_png_chunks(digits_png)
plt.show()
chunks = widgets.png_chunks(digits_png)
print("chunks:", [kind for kind, _, _ in chunks])

# %% [markdown]
# Rebuild the signature by hand: cut the `tEXt` chunk out, HMAC the rest with the secret, and
# compare with the hex digits at the end of the chunk's text.

# %%
secret = serve.read_secret(work / "signing.key")
print("the server's secret:", len(secret), "bytes")
_, at, size = next(c for c in chunks if c[0] == "tEXt")
unsigned = digits_png[:at] + digits_png[at + size :]
text_chunk = digits_png[at + 8 : at + size - 4]  # the chunk's data: keyword, a zero byte, the signature
keyword, signature = text_chunk.split(b"\x00")
print("keyword:", keyword.decode(), "| signature format:", signature.decode().rsplit(":", 2)[0], "+ key id + 64 hex digits")
mine = hmac.new(secret, unsigned, hashlib.sha256).hexdigest()
print("HMAC by hand == the signature in the file:", hmac.compare_digest(mine, signature.decode().rsplit(":", 1)[1]))
print("serve.verify:", serve.verify(digits_png, secret).ok)

# %% [markdown]
# Flip one byte, anywhere, and the signature no longer holds:

# %%
flipped = bytearray(digits_png)
flipped[len(flipped) // 2] ^= 1  # one bit of one byte of the pixels
verdict = serve.verify(bytes(flipped), secret)
print("verify the altered file:", verdict.ok, "|", verdict.message)
names_verdict = serve.verify(names_json, secret)
print("verify the names (JSON):", names_verdict.ok, "| format", names_verdict.format)

# %% [markdown]
# The same check from the command line, as someone who received the file would run it
# (`genai-course verify FILE`; exit code 0 valid, 1 not):

# %%
(work / "threes.png").write_bytes(digits_png)
(work / "altered.png").write_bytes(bytes(flipped))
for name in ("threes.png", "altered.png"):
    done = subprocess.run([sys.executable, "-m", "genai_course", "verify", str(work / name), "--signing-key", str(work / "signing.key")],
                          capture_output=True, text=True)
    print("exit", done.returncode, "|", shown(done.stdout.strip()).replace(serve.key_id(secret), "KEYID"))  # the key id changes every run

# %% [markdown]
# What the signature does not prove. It proves that a holder of the secret made the file and
# that it has not changed since, but only to someone who holds the secret too: checking needs
# the secret, and whoever has the secret can also sign any file. So it convinces us (and
# anyone we trust with the secret), not a stranger; for that one needs a public-key
# signature, which anyone can check and only the signer can make (Going further). And a
# signature can be removed: cut the chunk out and the picture still opens, unsigned.

# %%
stripped = serve.verify(unsigned, secret)
print("the picture with its signature chunk cut out still opens:", plt.imread(io.BytesIO(unsigned)).shape)
print("verify it:", stripped.ok, "|", stripped.message)

# %% [markdown]
# A missing signature therefore proves nothing about where a file came from; only a valid one
# says something, and only to holders of the secret.

# %% [markdown]
# ## Encrypted at rest
#
# **Encryption at rest** keeps a file unreadable on disk to anyone without its key; the program
# decrypts it in memory when it starts. The course uses **Fernet**, from the `cryptography`
# package: AES (Advanced Encryption Standard) encryption plus an HMAC, so a wrong key or an
# altered file is refused, never decrypted into garbage. The key comes from an **environment
# variable** (a named setting a program receives from whoever starts it),
# `GENAI_COURSE_CHECKPOINT_KEY`, not from a file beside the checkpoint.
#
# What it protects against: a copy of the file (a stolen disk, a backup, a shared folder) is
# useless without the key, and an altered file is refused. What it does not: anyone who can
# read the key where it is kept, or read the running server's environment or memory, where
# the checkpoint sits decrypted.

# %%
fernet_key = serve.new_key()
sealed = serve.encrypt(paths["cvae-digits"], key=fernet_key)
plain, enc = paths["cvae-digits"].read_bytes(), sealed.read_bytes()
print("Fernet key:", len(fernet_key), "characters | encrypted file:", sealed.name, "| is_encrypted:", serve.is_encrypted(sealed))
print("a 64-byte piece of the plain checkpoint appears in the encrypted file:", plain[len(plain) // 2 : len(plain) // 2 + 64] in enc)

# %%
sealed_server = start([sealed], env={serve.KEY_ENV: fernet_key})
response = httpx.post(sealed_server.url + "/v1/generate", json={"model": "cvae-digits", "label": 1, "n": 4},
                      headers={"Authorization": f"Bearer {alice}"}, timeout=60)
print("server on the encrypted checkpoint, with its key:", response.status_code)
sealed_server.stop()


def first_error_line(error):
    """The server's own one-line error, from the lines it printed before it exited."""
    return shown(next(line for line in str(error).splitlines() if "error:" in line))


try:
    start([sealed], env={serve.KEY_ENV: serve.new_key()})
except serve.ServerError as e:
    print("with a wrong key the server refuses to start:")
    print(" ", first_error_line(e))

# %% [markdown]
# ## The safe loader at the door
#
# A server that loads model files is a target: lesson 13 crafted a checkpoint whose unpickling
# runs code (harmless here: it would create a marker file). We give it a matching sidecar, as
# anyone who can write the checkpoint's folder could. A sidecar says only that a file is the
# one its sidecar names: it catches a damaged file, or one swapped without its sidecar, not a
# swap of both (lesson 13's manifest, kept elsewhere, does). What stops the crafted file is the
# safe loader, which the server runs on every checkpoint before it listens.

# %%
marker = work / "marker.txt"
crafted = checkpoints.write_crafted_checkpoint(work / "crafted.pt", marker)
checkpoints.sidecar_path(crafted).write_text(f"{checkpoints.sha256(crafted)}  crafted.pt\n")  # a matching sidecar too
try:
    start([crafted])
except serve.ServerError as e:
    print("the server refuses to start:")
    print(" ", first_error_line(e))
print("the marker file was created:", marker.exists())

# %% [markdown]
# ## Dynamic batching
#
# A forward pass has a fixed cost that does not grow with the number of samples (launching
# each layer, running Python; for diffusion, one pass of the network per denoising step). On
# this CPU, drawing 64 points of `ddpm-grid25` takes far less than 64 times as long as drawing
# one:

# %%
# NBVAL_IGNORE_OUTPUT
ddpm = trained["ddpm-grid25"]
seconds = {}
for n in (1, 64):
    ddpm.sample(n, generator=torch.Generator().manual_seed(0))  # once to warm up
    start_time = time.perf_counter()
    for _ in range(3):
        ddpm.sample(n, generator=torch.Generator().manual_seed(0))
    seconds[n] = (time.perf_counter() - start_time) / 3
print(f"1 sample: {seconds[1] * 1000:.0f} ms | 64 samples: {seconds[64] * 1000:.0f} ms | "
      f"ratio {seconds[64] / seconds[1]:.1f} for 64 times the samples")

# %% [markdown]
# **Dynamic batching** uses that: requests that arrive close together are drawn in one
# forward pass. The server's batcher takes the first waiting request, then waits at most
# `max_wait` milliseconds for more, until the pass holds `max_batch` samples. The picture
# simulates 12 requests of one sample each, a pass of 8 ms, with batching off (`max_batch` 1)
# and on (4 samples or 10 ms):

# %%
arrivals = [0, 2, 3, 5, 12, 14, 30, 31, 33, 34, 36, 40]  # ms
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5))
widgets.draw_batching_timeline(arrivals, max_batch=1, max_wait_ms=10, pass_ms=8, ax=top,
                               title="batching off (max_batch 1): one pass per request")
widgets.draw_batching_timeline(arrivals, max_batch=4, max_wait_ms=10, pass_ms=8, ax=bottom)
fig.tight_layout()
plt.show()
for max_batch in (1, 4):
    passes = widgets.batching_timeline(arrivals, max_batch=max_batch, max_wait_ms=10, pass_ms=8)
    print(f"max_batch {max_batch}: {len(passes)} passes, last one ends at {passes[-1][1]:.0f} ms")

# %% [markdown]
# **Throughput** is how many requests the server answers a second; **latency** is how long one
# request waits for its answer. Latencies vary from request to request, so we give
# **percentiles**: the median (50th percentile: half the requests waited less) and the 95th
# (95 in 100 waited less; the slow tail a user notices).
#
# The load test is a **closed-loop load test**: C clients, each sending a request and waiting
# for its answer before sending the next, so C requests are always in flight. `serve.run_load`
# sends 64 requests per setting (each of C clients sends 64 / C), except at 64 clients, where
# each client sends 2 (128 requests), so that the server meets a second round and not only one
# burst. Each request asks for one sample of `ddpm-grid25`, from 127.0.0.1 only. The first
# server (batching on: 64 samples or 10 ms) is the one already running; a second one runs with
# batching off (`--max-batch 1`).

# %%
off_server = start([paths["ddpm-grid25"]], options=["--max-batch", "1"])
load_body = {"model": "ddpm-grid25", "n": 1, "format": "json"}
admin_headers = {"Authorization": f"Bearer {key_of['admin']}"}
CLIENTS = (1, 4, 16, 64)


def passes_histogram(srv):
    return {int(k): v for k, v in httpx.get(srv.url + "/v1/stats", headers=admin_headers).json()["samples_per_pass"]["ddpm-grid25"].items()}


results, histograms, sent = {}, {}, {}
for batching, srv in (("on", server), ("off", off_server)):
    for clients in CLIENTS:
        before = passes_histogram(srv)
        sent[clients] = clients * max(2, 64 // clients)  # at least 2 requests a client
        results[batching, clients] = serve.run_load(srv.url, key_of["admin"], load_body, clients=clients,
                                                    requests_per_client=sent[clients] // clients, timeout_s=60)
        after = passes_histogram(srv)
        histograms[batching, clients] = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) > before.get(k, 0)}
stats = httpx.get(server.url + "/v1/stats", headers=admin_headers).json()
print("batching on:", stats["max_batch"], "samples or", stats["max_wait_ms"], "ms | off: --max-batch 1")
print("settings measured:", len(results), "| requests sent at 1, 4, 16, 64 clients:", [sent[c] for c in CLIENTS])
print("every request answered 200:", all(r.statuses == {200: sent[c]} and r.unanswered == 0 for (_, c), r in results.items()))

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{'clients':>7} {'batching':>8} {'req/s':>7} {'median ms':>10} {'p95 ms':>8}")
for clients in CLIENTS:
    for batching in ("on", "off"):
        r = results[batching, clients]
        print(f"{clients:>7} {batching:>8} {r.per_second:>7.1f} {r.median_ms:>10.0f} {r.p95_ms:>8.0f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for batching, style in (("on", "o-"), ("off", "s--")):
    left.plot(CLIENTS, [results[batching, c].per_second for c in CLIENTS], style, label=f"batching {batching}")
    right.plot(CLIENTS, [results[batching, c].median_ms for c in CLIENTS], style, label=f"batching {batching}")
left.set(xscale="log", xlabel="clients", ylabel="requests a second", title="throughput")
right.set(xscale="log", yscale="log", xlabel="clients", ylabel="median latency (ms)", title="latency")
for ax in (left, right):
    ax.set_xticks(CLIENTS, [str(c) for c in CLIENTS])
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the figure along the number of clients. With batching off, requests a
# second hardly move from 1 client to 64: the worker runs one pass per request, so it answers
# at most one request per pass time however many are waiting, and each extra client only
# lengthens the line: the median latency grows with the number of clients. With batching on,
# requests a second grow with the clients, since each pass draws every request that waited
# during the one before, for little more time; its median latency grows far more slowly. At
# one client the order is reversed: batching on is the slower, a cost read below.
#
# Timings differ from run to run and machine to machine; these verdicts do not:

# %%
gain_16 = results["on", 16].per_second / results["off", 16].per_second
print("at 16 clients batching serves at least 2x the requests a second:", gain_16 >= 2)
print("with batching off every pass drew 1 sample:", all(set(histograms["off", c]) == {1} for c in CLIENTS))
on_16 = histograms["on", 16]
print("with batching on, at 16 clients most passes drew more than 1:", sum(v for k, v in on_16.items() if k > 1) > on_16.get(1, 0))
print("with batching on, no pass drew more than max_batch (64):", max(k for h in histograms.values() for k in h) <= 64)
print("with batching on, 64 clients got more requests a second than 1 client:", results["on", 64].per_second > results["on", 1].per_second)
print("with batching off, the median latency at 64 clients is above that at 1 client:", results["off", 64].median_ms > results["off", 1].median_ms)
print("at 64 clients the median latency is lower with batching on than off:", results["on", 64].median_ms < results["off", 64].median_ms)

# %% [markdown]
# The histogram of samples per forward pass, batching on, for each number of clients (from the
# server's `/v1/stats`, which only an `admin` key may read):

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, len(CLIENTS), figsize=(12, 2.6), sharex=True)
for ax, clients in zip(axes, CLIENTS):
    h = histograms["on", clients]
    ax.bar(list(h), list(h.values()), width=1.5)
    ax.set(title=f"{clients} client{'s' if clients > 1 else ''}", xlabel="samples in the pass", xlim=(0, 66))
    ax.yaxis.get_major_locator().set_params(integer=True)
axes[0].set_ylabel("forward passes")
fig.tight_layout()
plt.show()
print({clients: histograms["on", clients] for clients in CLIENTS})

# %% [markdown]
# With one client every pass drew one sample: no other request was ever waiting. With more
# clients the passes grow, since the requests that arrive while a pass runs go together into
# the next; no pass can hold more samples than there are clients, because a closed loop of C
# clients never has more than C requests in flight:

# %%
print("1 client, batching on: every pass drew 1 sample:", set(histograms["on", 1]) == {1})
print("no pass drew more samples than there were clients:", all(max(histograms["on", c]) <= c for c in CLIENTS))

# %% [markdown]
# What batching costs. A lone client gains nothing from company, and its request may wait up
# to `max_wait` (10 ms here) for other requests that never come. Compare the medians at one
# client:

# %%
# NBVAL_IGNORE_OUTPUT
print(f"1 client, median latency: batching on {results['on', 1].median_ms:.0f} ms, off {results['off', 1].median_ms:.0f} ms")

# %% [markdown]
# And a bigger pass takes longer than a pass of one (the timing printed before the simulation),
# so every request in a batch waits for the whole pass: batching trades a little latency for
# each request for many more requests a second when many are waiting.

# %% [markdown]
# A **queue** is where requests wait for the model. A queue without a limit lets every request
# wait longer and longer under load; a full queue should refuse at once with 503 and
# `Retry-After`, so that clients back off. A server with `--max-queue 4` (and batching off)
# meets 32 clients:

# %%
small_queue = start([paths["ddpm-grid25"]], options=["--max-batch", "1", "--max-queue", "4"])
crowd = serve.run_load(small_queue.url, key_of["admin"], load_body, clients=32, requests_per_client=2, timeout_s=60)
print("some requests refused with 503:", crowd.statuses.get(503, 0) > 0)
print("every other request answered 200:", set(crowd.statuses) <= {200, 503} and crowd.unanswered == 0)
print("requests sent:", crowd.requests)

# %%
# NBVAL_IGNORE_OUTPUT
print("statuses:", crowd.statuses)

# %% [markdown]
# The refusal's `Retry-After` header, from 32 requests sent at once to the same server:

# %%
with ThreadPoolExecutor(32) as pool:
    burst = list(pool.map(lambda _: http.post(small_queue.url + "/v1/generate", json=load_body, headers=admin_headers), range(32)))
print("Retry-After on the 503s:", {r.headers.get("retry-after") for r in burst if r.status_code == 503}, "(seconds)")

# %% [markdown]
# ## Try it
#
# The panel sends requests to the running server with the lesson's keys, bob's revoked key
# included (it gets 401). The server also serves a web page at `GET /`: run
# `genai-course serve CKPT --keys KEYS` in a terminal, then open http://127.0.0.1:8000/ in a
# browser, enter a key and draw samples.

# %%
# NBVAL_IGNORE_OUTPUT
catalogue = httpx.get(server.url + "/v1/models", headers=admin_headers).json()["models"]
widgets.request_panel(server.url, {name: key_of[name] for name in ("alice", "names", "admin", "bob")}, catalogue)

# %% [markdown]
# ## Stop every server

# %%
http.close()
for s in servers:
    s.stop()
print("servers started:", len(servers), "| still running:", sum(s.running for s in servers))
shutil.rmtree(work, ignore_errors=True)

# %% [markdown]
# ## Summary
#
# * A server lets others use a model without the notebook; each request passes door after door
#   (key 401, quota 429, request 400, scopes 403, model 404, size 413, format or label 400,
#   queue 503), and the first that stays shut answers; the order tells a stranger nothing.
# * Keys are stored as salt and HMAC, never as keys, and compared in constant time; the key file
#   is read on every request, so adding or revoking a key counts at once.
# * Every request leaves an audit line with the key's name and the sha256 of what was returned;
#   every returned file carries an HMAC that proves, to holders of the secret, that a holder of
#   the secret made it and that it is unchanged; a missing signature proves nothing.
# * Checkpoints can stay encrypted on disk (Fernet, key in the environment) and are loaded with
#   the safe loader: a wrong key or a crafted file stops the server before it listens. The
#   encryption protects copies of the file, not a server whose environment can be read; a
#   sidecar catches a damaged file, not one swapped with its sidecar.
# * Dynamic batching draws many requests in one forward pass: more requests a second under load,
#   a short extra wait for a lone client and a longer pass for each request in a batch. A
#   bounded queue refuses with 503 rather than stall.
#
# ## Going further
#
# * Put the server behind a reverse proxy (e.g. nginx, Caddy) that speaks TLS, so keys and
#   samples do not cross the network in clear (TLS, Transport Layer Security, is the encryption
#   behind `https://`); the proxy can also enforce quotas per address.
# * Shared keys are simple; larger systems use OAuth 2.0 / OpenID Connect, where an identity
#   provider issues short-lived tokens and the server checks them.
# * Public-key signatures (e.g. Ed25519, in the `cryptography` package) sign with a private key
#   and check with a public one, so anyone can check an output and only the server can sign it,
#   which an HMAC cannot offer.
# * Sign the model files themselves, not only the outputs: Sigstore (`model-transparency`)
#   signs model artifacts; C2PA "content credentials" attach signed provenance to generated
#   images in a standard way.
# * Batching defaults differ between servers: TorchServe's `batchSize` defaults to 1 and its
#   `maxBatchDelay` to 100 ms; Ray Serve's `@serve.batch` to 10 requests and 10 ms (0.01 s).
#
# Exercises: `exercises/15_serving.ipynb`: 15.1 a token bucket, 15.2 a batching simulation,
# 15.3 scope matching.
