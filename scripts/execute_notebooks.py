#!/usr/bin/env python3
"""Execute paired notebooks and store their outputs in the .ipynb half.

    python scripts/execute_notebooks.py notebooks/*.py solutions/*.py

For each argument (``NN_name.py`` in py:percent, or ``NN_name.ipynb``) the cells are read
from the .py when it exists (it is the source; it is never rewritten), run top to bottom
in a fresh kernel of *this* Python (cwd = the notebook's folder, 600 s per cell), and
written with their outputs to the paired ``NN_name.ipynb``. Nothing volatile is kept:
no widget state (a widget's output becomes a still of its first state: its pictures, its captions, marked
``"widget_still"`` in the output's metadata, so a notebook opened before running and the website show
it; run in JupyterLab, it moves; a progress bar keeps its last text, "training: 100% ..."), no execution timestamps, a minimal kernelspec/language_info, and cell
ids derived from the cell contents, so re-running unchanged notebooks changes nothing
but outputs that really changed.

A cell that raises fails the run (exit 1, the notebook's .ipynb is left as it was)
unless it is marked ``# NBVAL_RAISES_EXCEPTION`` (or tagged raises-exception).
Prints the seconds each notebook took.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NATIVE_KERNEL_NAME
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import default

CELL_TIMEOUT_S = 600
RAISES_TAGS = {"raises-exception", "nbval-raises-exception"}
RAISES_COMMENT = "NBVAL_RAISES_EXCEPTION"

KERNELSPEC = {"name": NATIVE_KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "name": "python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STILL_TEXT = "A still of this widget's first state: run the notebook in JupyterLab to move it."
TEXT_MODELS = ("LabelModel", "HTMLModel", "TextModel", "TextareaModel", "IntTextModel")


def _png(state: dict, buffers: dict) -> bytes | None:
    for buffer in buffers.values():
        if list(buffer["path"]) == ["value"]:
            return base64.b64decode(buffer["data"])
    value = state.get("value")
    return value if isinstance(value, bytes) and value else None


def control_text(state: dict) -> str:
    """A control as text: "[Send]" for a button, "key: alice" for a dropdown, "seed: 0" for a slider or box."""
    label = str(state.get("description", "")).strip()
    if state.get("_model_name") == "ButtonModel":
        return f"[{label}]" if label else ""
    labels, index = state.get("_options_labels"), state.get("index")
    if isinstance(labels, list) and isinstance(index, int) and 0 <= index < len(labels):
        value = labels[index]
    elif isinstance(state.get("value"), (str, int, float, bool)) and not isinstance(state.get("value"), bytes):
        value = state["value"]
    else:
        return label
    return f"{label}: {value}" if label else str(value)


def _leaves(model_id: str, states: dict, buffers: dict, seen: set) -> tuple[list, list[str]]:
    """(pictures laid out as nested ("h"|"v", [...]) boxes, texts as HTML) of one widget model, in display order."""
    if model_id in seen or model_id not in states:
        return [], []
    seen.add(model_id)
    state = states[model_id]
    name = state.get("_model_name", "")
    if name == "ImageModel":
        png = _png(state, buffers.get(model_id, {}))
        return ([png] if png else []), []
    if name in TEXT_MODELS:  # as HTML: an HTML widget's value is HTML already, the others' are text
        text = str(state.get("value", "")).strip()
        label = str(state.get("description", "")).strip()
        text = f"{label}: {text}" if label and text else text
        return [], ([text if name == "HTMLModel" else html.escape(text)] if text else [])
    if name in ("FloatProgressModel", "IntProgressModel"):  # a bar: its texts say where it stands
        return [], []
    if "children" not in state and state.get("_view_name"):  # a control: its label and the value it starts at
        return [], ([html.escape(control_text(state))] if control_text(state) else [])
    pictures, texts = [], []
    for child in state.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            p, t = _leaves(child[len("IPY_MODEL_"):], states, buffers, seen)
            pictures += p
            texts += t
    if len(pictures) > 1:
        pictures = [("h" if name == "HBoxModel" else "v", pictures)]
    return pictures, texts


def _compose(picture):
    """One PIL image of a picture or of a box of pictures (an HBox side by side, anything else stacked)."""
    from PIL import Image

    if isinstance(picture, bytes):
        return Image.open(io.BytesIO(picture)).convert("RGBA")
    way, parts = picture
    images = [_compose(p) for p in parts]
    if way == "h":
        size = (sum(i.width for i in images), max(i.height for i in images))
    else:
        size = (max(i.width for i in images), sum(i.height for i in images))
    out = Image.new("RGBA", size, (255, 255, 255, 255))
    at = 0
    for image in images:
        out.paste(image, (at, 0) if way == "h" else (0, at))
        at += image.width if way == "h" else image.height
    return out


def is_progress_bar(model_id: str, states: dict) -> bool:
    """Whether a widget holds a progress bar (tqdm's notebook bar: an HBox of HTML, FloatProgress, HTML)."""
    state = states.get(model_id, {})
    if state.get("_model_name") in ("FloatProgressModel", "IntProgressModel"):
        return True
    return any(is_progress_bar(c[len("IPY_MODEL_"):], states) for c in state.get("children", [])
               if isinstance(c, str) and c.startswith("IPY_MODEL_"))


def progress_text(model_id: str, states: dict) -> str:
    """A progress bar's texts as they stand (at the end of its cell: "training: 100% 3000/3000 [00:27<00:00, ...]")."""
    _, texts = _leaves(model_id, states, {}, set())
    return html.unescape(" ".join(texts)).replace("\u2007", " ")  # tqdm pads with figure spaces


def widget_still(model_id: str, states: dict, buffers: dict) -> dict | None:
    """The output data of a widget's still: its pictures as one PNG, else its texts as HTML; None if it shows neither.

    states: model id -> the widget's state, as the kernel sent it; buffers: model id -> {path: base64 buffer}."""
    pictures, texts = _leaves(model_id, states, buffers, set())
    data: dict = {"text/plain": STILL_TEXT}
    if pictures:
        picture = pictures[0] if len(pictures) == 1 else ("v", pictures)
        if isinstance(picture, bytes):
            png = picture
        else:
            buf = io.BytesIO()
            _compose(picture).convert("RGB").save(buf, format="PNG")
            png = buf.getvalue()
        data["image/png"] = base64.b64encode(png).decode("ascii")
    elif texts:
        data["text/html"] = "".join(f"<div>{t}</div>" for t in texts)
    else:
        return None
    return data


class CurrentEnvKernelSpecManager(KernelSpecManager):
    """Resolve the ``python3`` kernel to this interpreter, whatever kernelspecs are installed.

    jupyter_client already maps ipykernel's own spec to ``sys.executable``, but a
    ``python3`` kernelspec in the user's or the system's Jupyter folders would win and
    could point at another Python (without torch or the course).
    """

    def get_kernel_spec(self, kernel_name):
        if kernel_name == NATIVE_KERNEL_NAME:
            from ipykernel.kernelspec import RESOURCES, get_kernel_dict

            return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


class StillClient(NotebookClient):
    """Runs a notebook and, as each widget is displayed, replaces its output with a still of that moment."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.progress: list = []  # (output, model id) of each progress bar, given its final text after the run

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        data = (out or {}).get("data", {})
        if WIDGET_VIEW in data and is_progress_bar(data[WIDGET_VIEW]["model_id"], self.widget_state):
            self.progress.append((out, data[WIDGET_VIEW]["model_id"]))
        elif WIDGET_VIEW in data:
            still = widget_still(data[WIDGET_VIEW]["model_id"], self.widget_state, self.widget_buffers)
            if still is not None:
                out["data"] = still
                out.setdefault("metadata", {})["widget_still"] = True
        return out


class CurrentEnvKernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return CurrentEnvKernelSpecManager(data_dir=self.data_dir)


def may_raise(cell) -> bool:
    if RAISES_TAGS & set(cell.metadata.get("tags", [])):
        return True
    return any(
        line.strip().startswith("#") and line.strip().lstrip("#").strip() == RAISES_COMMENT
        for line in cell.source.splitlines()
    )


def stable_ids(nb) -> None:
    """Cell ids from the cell contents (nbformat >= 4.5 wants ids; random ones churn git)."""
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        cell["id"] = digest if n == 0 else f"{digest}-{n}"


def clean(nb, added_tags: set[int]) -> None:
    for i, cell in enumerate(nb.cells):
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        for output in cell.get("outputs", []):
            # Without stored widget state a widget view only points at a model that no
            # longer exists (a random id); keep the text fallback instead.
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
        if i in added_tags:
            tags = [t for t in cell.metadata.get("tags", []) if t != "raises-exception"]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
    keep = {k: v for k, v in nb.metadata.items() if k not in ("widgets", "kernelspec", "language_info", "jupytext")}
    nb.metadata.clear()
    nb.metadata.update(keep)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    nb.nbformat, nb.nbformat_minor = 4, 5
    stable_ids(nb)


def source_of(path: Path) -> tuple[Path, Path]:
    """(file to read the cells from, .ipynb to write)."""
    if path.suffix not in (".py", ".ipynb"):
        raise ValueError(f"{path}: expected a .py (py:percent) or .ipynb notebook")
    py, ipynb = path.with_suffix(".py"), path.with_suffix(".ipynb")
    src = py if py.exists() else ipynb
    if not src.exists():
        raise FileNotFoundError(f"{path}: no such notebook")
    return src, ipynb


def execute(path: Path) -> float:
    """Run one notebook, write its .ipynb, return the seconds it took (raises on failure)."""
    src, ipynb = source_of(path)
    nb = jupytext.read(src, fmt="py:percent" if src.suffix == ".py" else None)
    added_tags: set[int] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if may_raise(cell) and "raises-exception" not in cell.metadata.get("tags", []):
            cell.metadata.setdefault("tags", []).append("raises-exception")
            added_tags.add(i)
    client = StillClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=NATIVE_KERNEL_NAME,
        kernel_manager_class=CurrentEnvKernelManager,
        resources={"metadata": {"path": str(src.parent.resolve())}},
        allow_errors=False,
        store_widget_state=True,  # read for the stills; clean() drops it
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for out, model_id in client.progress:
        out["data"] = {"text/plain": progress_text(model_id, client.widget_state)}
    clean(nb, added_tags)
    nbformat.validate(nb)
    jupytext.write(nb, ipynb, fmt="ipynb")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="py:percent notebooks (or .ipynb)")
    args = parser.parse_args(argv)

    failed: list[str] = []
    total = 0.0
    done: set[Path] = set()
    for path in args.paths:
        stem = path.with_suffix("").resolve()
        if stem in done:  # notebooks/*.py and notebooks/*.ipynb may both be given
            continue
        done.add(stem)
        try:
            seconds = execute(path)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            print(f"FAILED  {path}: {type(exc).__name__}\n{exc}", file=sys.stderr, flush=True)
            failed.append(str(path))
            continue
        except (ValueError, FileNotFoundError) as exc:
            print(f"FAILED  {exc}", file=sys.stderr, flush=True)
            failed.append(str(path))
            continue
        total += seconds
        print(f"{seconds:7.1f} s  {path.with_suffix('.ipynb')}", flush=True)
    print(f"{total:7.1f} s  in all, {len(done) - len(failed)} notebook(s) written", flush=True)
    if failed:
        print(f"{len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
