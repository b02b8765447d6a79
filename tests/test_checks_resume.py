"""genai_course.checks.resume (lesson 12, 12.4 and 12.5): correct code passes, typical mistakes are named."""

from __future__ import annotations

import copy
import io

import pytest
import torch

from genai_course.checks import resume as resume_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def save_state(model, optimizer, generator, step):
    return {"model": copy.deepcopy(model.state_dict()), "optimizer": copy.deepcopy(optimizer.state_dict()),
            "generator": generator.get_state(), "step": step}


def save_state_through_a_file(model, optimizer, generator, step):
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    return {**state, "generator": generator.get_state().clone(), "step": int(step), "note": "extra entries are fine"}


def save_state_by_clones(model, optimizer, generator, step):
    opt = optimizer.state_dict()
    state = {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()} for i, s in opt["state"].items()}
    return {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": {"state": state, "param_groups": copy.deepcopy(opt["param_groups"])},
            "generator": generator.get_state(), "step": step}


def restore_state(state, model, optimizer, generator, lr):
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for group in optimizer.param_groups:
        group["lr"] = lr
    generator.set_state(state["generator"])
    return state["step"]


def restore_state_by_copy(state, model, optimizer, generator, lr):
    """The new learning rate written into a copy of the saved settings before loading them."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state["model"][name])
    saved = copy.deepcopy(state["optimizer"])
    for group in saved["param_groups"]:
        group["lr"] = lr
    optimizer.load_state_dict(saved)
    generator.set_state(state["generator"].clone())
    return int(state["step"])


CORRECT = {
    "save_state": [save_state, save_state_through_a_file, save_state_by_clones],
    "restore_state": [restore_state, restore_state_by_copy],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(resume_checks, {
        "save_state": "Exercise 12.4 (saving the training state)",
        "restore_state": "Exercise 12.5 (resuming exactly)",
    })
    assert list(CORRECT) == resume_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 12.4


def saved(**changes):
    """A state built right (deep copies), with some entries replaced: changes[key](model, optimizer, generator, step)."""

    def fn(model, optimizer, generator, step):
        state = save_state(model, optimizer, generator, step)
        for key, make in changes.items():
            if make is None:
                del state[key]
            else:
                state[key] = make(model, optimizer, generator, step)
        return state

    return fn


def save_state_reseeding(model, optimizer, generator, step):
    state = save_state(model, optimizer, generator, step)
    generator.manual_seed(0)
    return state


def save_state_drawing(model, optimizer, generator, step):
    torch.rand(1, generator=generator)
    return save_state(model, optimizer, generator, step)


SAVE_MISTAKES = [
    (saved(model=lambda m, o, g, s: m.state_dict()),
     ["state['model'] changed when training went on after the save", "holds references to the live tensors", "save a copy of it that goes all the way down to the tensors"]),
    (saved(optimizer=lambda m, o, g, s: o.state_dict()), ["state['optimizer'] changed when training went on", "save a copy of it"]),
    (saved(model=lambda m, o, g, s: m), ["state['model'] is an object of class Sequential", "weights_only=True", "store the model's state (its weights as tensors), not the object"]),
    (saved(optimizer=lambda m, o, g, s: o), ["state['optimizer'] is an object of class Adam", "store the optimizer's state"]),
    (saved(generator=lambda m, o, g, s: g), ["state['generator'] is an object of class Generator", "store the generator's state (a tensor)"]),
    (saved(generator=lambda m, o, g, s: g.initial_seed()), ["state['generator'] is the number 1000", "a seed says where the random stream started"]),
    (saved(generator=lambda m, o, g, s: torch.Generator().manual_seed(g.initial_seed()).get_state()),
     ["state['generator'] should be the generator's state at the moment of saving"]),
    (saved(optimizer=lambda m, o, g, s: torch.optim.Adam(m.parameters()).state_dict()), ["state['optimizer'] holds no per-weight state", "Adam's running averages"]),
    (saved(optimizer=lambda m, o, g, s: {}), ["state['optimizer'] should be a copy of the optimizer's state dictionary at the moment of saving"]),
    (saved(model=lambda m, o, g, s: [p.detach().clone() for p in m.parameters()]), ["state['model'] should be a copy of the model's state dictionary"]),
    (saved(optimizer=None), ["returned a dict without 'optimizer'", "it needs all of 'model', 'optimizer', 'generator', 'step'",
                             "without Adam's running averages of the gradients the resumed run takes other steps"]),
    (saved(generator=None), ["returned a dict without 'generator'", "without the generator's position the resumed run draws other batches"]),
    (saved(optimizer=lambda m, o, g, s: None), ["state['optimizer'] is None", "store a copy of the optimizer's state dictionary", "Adam's running averages"]),
    (saved(model=lambda m, o, g, s: None), ["state['model'] is None", "store a copy of the model's state dictionary"]),
    (saved(generator=lambda m, o, g, s: None), ["state['generator'] is None", "store the generator's state", "draws other batches"]),
    (saved(step=None, generator=None), ["returned a dict without 'generator', 'step'"]),
    (saved(step=lambda m, o, g, s: s + 1), ["state['step'] should be the int 3, the step you were given, but is 4"]),
    (saved(step=lambda m, o, g, s: torch.tensor(s)), ["state['step'] should be the int 3", "but is tensor(3)"]),
    (lambda m, o, g, s: (m.state_dict(), o.state_dict(), g.get_state(), s), ["should return a dict with the entries 'model', 'optimizer', 'generator', 'step'", "returned a tuple"]),
    (save_state_reseeding, ["moved the generator on (it drew numbers, or was re-seeded)", "saving only reads where its stream has got to"]),
    (save_state_drawing, ["moved the generator on"]),
    (lambda m, o, g, s: (o.step(), save_state(m, o, g, s))[1], ["changed the model or the optimizer: saving only reads them"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.5


def restored(*, model=True, optimizer=True, generator=True, ret="step", lr="after"):
    """A restore built right, with one piece left out; lr: "after" loading (right), "before" it, "first group" only, or None (never set)."""

    def fn(state, m, o, g, new_lr):
        if model:
            m.load_state_dict(state["model"])
        if lr == "before":
            for group in o.param_groups:
                group["lr"] = new_lr
        if optimizer:
            o.load_state_dict(state["optimizer"])
        if lr == "after":
            for group in o.param_groups:
                group["lr"] = new_lr
        if lr == "first group":
            o.param_groups[0]["lr"] = new_lr
        if generator:
            g.set_state(state["generator"])
        return {"step": state["step"], "none": None, "float": float(state["step"]), "tensor": torch.tensor(state["step"])}[ret]

    return fn


def restore_into_new_objects(state, model, optimizer, generator, lr):
    model = copy.deepcopy(model)
    model.load_state_dict(state["model"])
    return restored(model=False)(state, model, optimizer, generator, lr)


def restore_into_a_new_optimizer(state, model, optimizer, generator, lr):
    model.load_state_dict(state["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator.set_state(state["generator"])
    return state["step"]


def restore_and_reset_the_settings(state, model, optimizer, generator, lr):
    restored()(state, model, optimizer, generator, lr)
    for group in optimizer.param_groups:
        group["weight_decay"] = 0.0
    return state["step"]


OLD_LR = "after resuming, the optimizer's learning rate is 0.02, not the 0.005 the resumed run asked for"
RESTORE_MISTAKES = [
    (restored(model=False), ["the model does not hold the checkpoint's weights"]),
    (restore_into_new_objects, ["the model does not hold the checkpoint's weights", "a new one made inside your function is lost when it returns"]),
    (restored(optimizer=False), ["the optimizer holds none of Adam's running averages", "the next steps differ from the uninterrupted run"]),
    (restore_into_a_new_optimizer, ["the optimizer holds none of Adam's running averages", "load into the objects you were given"]),
    (lambda state, m, o, g, lr: (restored()(state, m, o, g, lr), [s["step"].zero_() for s in o.state.values()])[0],
     ["the optimizer does not hold the state the checkpoint saved (Adam's running averages"]),
    (restored(lr=None), [OLD_LR, "the rate the run trained at before its checkpoint"]),
    (restored(lr="before"), [OLD_LR]),
    (restored(lr="first group"), ["the learning rate is 0.01 in some parameter groups only (group 0: 0.01, group 1: 0.05)",
                                  "SGD with momentum", "each holds its own learning rate"]),
    (lambda state, m, o, g, lr: (restored()(state, m, o, g, lr), o.param_groups[0].update(lr=0.5))[0],
     ["the optimizer's learning rate is 0.5, but the resumed run asked for 0.005"]),
    (restore_and_reset_the_settings, ["parameter group 0's weight_decay is 0.0, the checkpoint's is 0.001", "only the learning rate changes"]),
    (restored(generator=False), ["the generator is not where the checkpoint's was", "the resumed run draws other batches"]),
    (lambda state, m, o, g, lr: (restored()(state, m, o, g, lr), g.manual_seed(state["step"]))[0], ["the generator is not where the checkpoint's was"]),
    (lambda state, m, o, g, lr: restored(generator=False)(state, m, o, copy.deepcopy(g).set_state(state["generator"]), lr),
     ["the generator is not where the checkpoint's was", "load into the objects you were given"]),
    (restored(ret="none"), ["returned None", "return the step the checkpoint was written at"]),
    (restored(ret="float"), ["returned 3.0, but the checkpoint was written after step 3", "as an int"]),
    (restored(ret="tensor"), ["returned tensor(3)"]),
    (lambda state, m, o, g, lr: restored()(state, m, o, g, lr) + 1, ["returned 4, but the checkpoint was written after step 3"]),
    (lambda state, m, o, g, lr: o.load_state_dict(state["model"]), ["raised", "restore_state(state, model, optimizer, generator, 0.005)"]),
]

MISTAKES = (
    [("save_state", fn, fragments) for fn, fragments in SAVE_MISTAKES]
    + [("restore_state", fn, fragments) for fn, fragments in RESTORE_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


# --------------------------------------------------------------------------- observations through files


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
