"""scripts/execute_notebooks.py keeps a still of each widget's first state, and a progress bar's last text.

A still is what the committed notebook shows before it is run and what the website shows (a widget
cannot move without a kernel): the widget's pictures as one PNG, laid out as its boxes lay them
out, or else its texts. The widget states here are shaped as the kernel sends them to nbclient.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "scripts" / "execute_notebooks.py")
execute_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute_notebooks)


def _png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def _buffer(png: bytes) -> dict:
    return {("value",): {"data": base64.b64encode(png).decode(), "encoding": "base64", "path": ["value"]}}


def _picture(data: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).convert("RGB")


def _states(layout: str):
    red, blue = _png(30, 20, (255, 0, 0)), _png(10, 40, (0, 0, 255))
    states = {
        "root": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_controls", "IPY_MODEL_pictures"]},
        "controls": {"_model_name": "HBoxModel", "children": ["IPY_MODEL_slider", "IPY_MODEL_label"]},
        "slider": {"_model_name": "IntSliderModel", "value": 0, "description": "step"},
        "label": {"_model_name": "LabelModel", "value": "step 0 of 14"},
        "pictures": {"_model_name": layout, "children": ["IPY_MODEL_red", "IPY_MODEL_blue"]},
        "red": {"_model_name": "ImageModel", "format": "png"},
        "blue": {"_model_name": "ImageModel", "format": "png"},
    }
    return states, {"red": _buffer(red), "blue": _buffer(blue)}


def test_one_picture_is_kept_byte_for_byte():
    png = _png(30, 20, (0, 128, 0))
    states = {"root": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_image"]},
              "image": {"_model_name": "ImageModel", "format": "png"}}
    data = execute_notebooks.widget_still("root", states, {"image": _buffer(png)})
    assert base64.b64decode(data["image/png"]) == png
    assert data["text/plain"] == execute_notebooks.STILL_TEXT and "JupyterLab" in data["text/plain"]
    json.dumps(data)  # what the notebook stores


@pytest.mark.parametrize("layout, size, blue_at", [("HBoxModel", (40, 40), (35, 30)), ("VBoxModel", (30, 60), (5, 50))])
def test_pictures_are_laid_out_as_their_box_lays_them_out(layout, size, blue_at):
    states, buffers = _states(layout)
    picture = _picture(execute_notebooks.widget_still("root", states, buffers))
    assert picture.size == size
    assert picture.getpixel((2, 2)) == (255, 0, 0)  # the first child, top left
    assert picture.getpixel(blue_at) == (0, 0, 255)  # the second beside it (HBox) or under it (VBox)


def test_a_widget_without_pictures_keeps_its_texts():
    states = {"root": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_out", "IPY_MODEL_note"]},
              "out": {"_model_name": "HTMLModel", "value": "<b>Anna</b>, Bernd"},
              "note": {"_model_name": "LabelModel", "value": "temperature 0.8 < 1"}}
    data = execute_notebooks.widget_still("root", states, {})
    assert "image/png" not in data
    assert data["text/html"] == "<div><b>Anna</b>, Bernd</div><div>temperature 0.8 &lt; 1</div>"


def test_nothing_to_show_is_no_still():
    states = {"root": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_gone"]}}
    assert execute_notebooks.widget_still("root", states, {}) is None
    assert execute_notebooks.widget_still("missing", states, {}) is None


def test_a_progress_bar_is_told_apart_and_keeps_its_last_text():
    states = {"bar": {"_model_name": "HBoxModel", "children": ["IPY_MODEL_left", "IPY_MODEL_p", "IPY_MODEL_right"]},
              "left": {"_model_name": "HTMLModel", "value": "training: 100%"},
              "p": {"_model_name": "FloatProgressModel", "_view_name": "ProgressView", "value": 3000, "max": 3000},
              "right": {"_model_name": "HTMLModel", "value": " 3000/3000 [00:27&lt;00:00, 110.2it/s]"}}
    assert execute_notebooks.is_progress_bar("bar", states)
    assert execute_notebooks.progress_text("bar", states) == "training: 100% 3000/3000 [00:27<00:00, 110.2it/s]"
    pictures, _ = _states("HBoxModel")
    assert not execute_notebooks.is_progress_bar("root", pictures)


def test_the_committed_lessons_carry_stills_not_widget_views():
    """Every lesson that shows a widget committed a still of it, and no output points at a widget model."""
    with_stills = 0
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        assert not any(execute_notebooks.WIDGET_VIEW in o.get("data", {}) for o in outputs), path.name
        assert "widgets" not in nb["metadata"], path.name
        stills = [o for o in outputs if o.get("metadata", {}).get("widget_still")]
        assert all("image/png" in o["data"] or "text/html" in o["data"] for o in stills), path.name
        with_stills += bool(stills)
    assert with_stills >= 9  # lessons 02, 05-10, 14, 15 and 16 show widgets


def test_a_widget_of_controls_only_shows_what_they_start_at():
    states = {"root": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_key", "IPY_MODEL_n", "IPY_MODEL_send", "IPY_MODEL_pic"]},
              "key": {"_model_name": "DropdownModel", "_view_name": "DropdownView", "description": "key",
                      "_options_labels": ["alice", "bob <admin>"], "index": 1},
              "n": {"_model_name": "IntSliderModel", "_view_name": "IntSliderView", "description": "n", "value": 16},
              "send": {"_model_name": "ButtonModel", "_view_name": "ButtonView", "description": "Send"},
              "pic": {"_model_name": "ImageModel", "_view_name": "ImageView", "format": "png"}}  # no picture yet
    data = execute_notebooks.widget_still("root", states, {})
    assert data["text/html"] == "<div>key: bob &lt;admin&gt;</div><div>n: 16</div><div>[Send]</div>"
