"""The server's web page: enter a key, pick a model and a label, see the samples.

Plain HTML and JavaScript in one string, no outside files (the course runs offline). The key
stays in the page's memory: it is sent in the ``Authorization`` header of each request and never
stored. Every refusal is shown as the server wrote it (``401: this key is not valid ...``).
Digits arrive as a signed PNG and are shown as one; names as a list; points drawn on a canvas.
"""

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>genai-course: a generator behind a door</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
 label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
 input, select, button { font: inherit; padding: .3rem .5rem; }
 #key { width: 100%; box-sizing: border-box; }
 #message { margin: 1rem 0; padding: .5rem .8rem; border-radius: .3rem; min-height: 1.4rem; }
 #message.error { background: #fde8e8; color: #8a1c1c; }
 #message.ok { background: #e8f5e9; color: #1b5e20; }
 #samples img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ccc; }
 #names li { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<h1>A generator behind a door</h1>
<p>Paste a key made with <code>genai-course keys add</code>. It stays in this page and is sent with each request.</p>
<label for="key">Key</label>
<input id="key" type="password" autocomplete="off" placeholder="gck_...">
<p><button id="connect">Connect</button></p>
<label for="model">Model</label>
<select id="model" disabled></select>
<label for="label">Label</label>
<select id="label" disabled></select>
<label for="n">Samples</label>
<input id="n" type="number" min="1" value="8" disabled>
<p><button id="draw" disabled>Draw</button></p>
<div id="message" role="status"></div>
<div id="samples"></div>
<script>
const $ = (id) => document.getElementById(id);
let models = [];
let everyLabel = true;

function say(text, ok) {
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "error";
}

async function refusal(response) {
  let text = response.statusText;
  try { text = (await response.json()).error || text; } catch (e) {}
  const wait = response.headers.get("Retry-After");
  return response.status + ": " + text + (wait && !text.includes("try again") ? " (retry after " + wait + " s)" : "");
}

async function ask(path, options) {
  // fetch throws, rather than answers, when the server is gone or the key holds a character
  // a header cannot carry (a curly quote pasted with it): say so instead of failing silently.
  try { return await fetch(path, options); }
  catch (e) { say("the request failed: " + e.message, false); return null; }
}

function headers() {
  return { "Authorization": "Bearer " + $("key").value.trim(), "Content-Type": "application/json" };
}

function showLabels() {
  const model = models.find((m) => m.name === $("model").value);
  const select = $("label");
  select.innerHTML = "";
  if (!model || model.labels.length === 0) {
    select.add(new Option("(none: not conditional)", ""));
    select.disabled = true;
    return;
  }
  if (everyLabel) select.add(new Option("every label in turn", ""));  // a key limited to some labels must name one
  for (const y of model.labels) select.add(new Option(y, y));
  select.disabled = false;
}

$("connect").onclick = async () => {
  const response = await ask("/v1/models", { headers: headers() });
  if (!response || !response.ok) {
    if (response) say(await refusal(response), false);
    for (const id of ["model", "label", "n", "draw"]) $(id).disabled = true;
    return;
  }
  const info = await response.json();
  models = info.models;
  everyLabel = info.every_label;
  const select = $("model");
  select.innerHTML = "";
  for (const m of models) select.add(new Option(m.name + " (" + m.kind + ")", m.name));
  $("n").max = info.max_samples;
  for (const id of ["model", "n", "draw"]) $(id).disabled = models.length === 0;
  showLabels();
  say("Key " + info.key + ": " + models.length + " model(s) you may use, at most " + info.max_samples + " samples a request.", true);
};

$("model").onchange = showLabels;

$("draw").onclick = async () => {
  const model = models.find((m) => m.name === $("model").value);
  const body = { model: model.name, n: Number($("n").value), format: model.kind === "digits" ? "png" : "json" };
  if ($("label").value) body.label = $("label").value;
  const response = await ask("/v1/generate", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const out = $("samples");
  out.innerHTML = "";
  if (!response) return;
  if (!response.ok) { say(await refusal(response), false); return; }
  const batch = response.headers.get("X-Batch-Samples");
  if (model.kind === "digits") {
    const img = document.createElement("img");
    img.alt = body.n + " samples of " + model.name;
    img.src = URL.createObjectURL(await response.blob());
    out.appendChild(img);
  } else {
    const payload = (await response.json()).payload;
    if (model.kind === "names") {
      const list = document.createElement("ol");
      list.id = "names";
      payload.names.forEach((name, i) => {
        const li = document.createElement("li");
        li.textContent = name + "  (" + payload.languages[i] + ")";
        list.appendChild(li);
      });
      out.appendChild(list);
    } else {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 320;
      const g = canvas.getContext("2d");
      g.fillStyle = "#1f77b4";
      for (const [x, y] of payload.points) g.fillRect(160 + x * 25, 160 - y * 25, 3, 3);
      out.appendChild(canvas);
    }
  }
  say(body.n + " sample(s), signed; drawn in a forward pass of " + batch + " sample(s).", true);
};
</script>
</body>
</html>
"""
