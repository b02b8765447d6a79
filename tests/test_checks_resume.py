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


def restore_state(state, model, optimizer, generator):
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


def restore_state_by_copy(state, model, optimizer, generator):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state["model"][name])
    optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
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
    (saved(model=lambda m, o, g, s: m), ["state['model'] is an object of class Sequential", "weights_only=True", "store model.state_dict()"]),
    (saved(optimizer=lambda m, o, g, s: o), ["state['optimizer'] is an object of class Adam", "store optimizer.state_dict()"]),
    (saved(generator=lambda m, o, g, s: g), ["state['generator'] is an object of class Generator", "store generator.get_state()"]),
    (saved(generator=lambda m, o, g, s: g.initial_seed()), ["state['generator'] is the number 1000", "a seed says where the random stream started"]),
    (saved(generator=lambda m, o, g, s: torch.Generator().manual_seed(g.initial_seed()).get_state()),
     ["state['generator'] should be generator.get_state() at the moment of saving"]),
    (saved(optimizer=lambda m, o, g, s: torch.optim.Adam(m.parameters()).state_dict()), ["state['optimizer'] holds no per-weight state", "Adam's running averages"]),
    (saved(optimizer=lambda m, o, g, s: {}), ["state['optimizer'] should be a copy of optimizer.state_dict() at the moment of saving"]),
    (saved(model=lambda m, o, g, s: [p.detach().clone() for p in m.parameters()]), ["state['model'] should be a copy of model.state_dict()"]),
    (saved(optimizer=None), ["returned a dict without 'optimizer'", "it needs all of 'model', 'optimizer', 'generator', 'step'",
                             "without Adam's running averages of the gradients the resumed run takes other steps"]),
    (saved(generator=None), ["returned a dict without 'generator'", "without the generator's position the resumed run draws other batches"]),
    (saved(optimizer=lambda m, o, g, s: None), ["state['optimizer'] is None", "store a copy of optimizer.state_dict()", "Adam's running averages"]),
    (saved(model=lambda m, o, g, s: None), ["state['model'] is None", "store a copy of model.state_dict()"]),
    (saved(generator=lambda m, o, g, s: None), ["state['generator'] is None", "store generator.get_state()", "draws other batches"]),
    (saved(step=None, generator=None), ["returned a dict without 'generator', 'step'"]),
    (saved(step=lambda m, o, g, s: s + 1), ["state['step'] should be the int 3, the step you were given, but is 4"]),
    (saved(step=lambda m, o, g, s: torch.tensor(s)), ["state['step'] should be the int 3", "but is tensor(3)"]),
    (lambda m, o, g, s: (m.state_dict(), o.state_dict(), g.get_state(), s), ["should return a dict with the entries 'model', 'optimizer', 'generator', 'step'", "returned a tuple"]),
    (save_state_reseeding, ["moved the generator on (it drew numbers, or was re-seeded)", "generator.get_state()"]),
    (save_state_drawing, ["moved the generator on"]),
    (lambda m, o, g, s: (o.step(), save_state(m, o, g, s))[1], ["changed the model or the optimizer: saving only reads them"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.5


def restored(*, model=True, optimizer=True, generator=True, ret="step"):
    def fn(state, m, o, g):
        if model:
            m.load_state_dict(state["model"])
        if optimizer:
            o.load_state_dict(state["optimizer"])
        if generator:
            g.set_state(state["generator"])
        return {"step": state["step"], "none": None, "float": float(state["step"]), "tensor": torch.tensor(state["step"])}[ret]

    return fn


def restore_into_new_objects(state, model, optimizer, generator):
    model = copy.deepcopy(model)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


def restore_into_a_new_optimizer(state, model, optimizer, generator):
    model.load_state_dict(state["model"])
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


RESTORE_MISTAKES = [
    (restored(model=False), ["the model does not hold the saved weights", "load state['model'] into it"]),
    (restore_into_new_objects, ["the model does not hold the saved weights", "a new one made inside your function is lost when it returns"]),
    (restored(optimizer=False), ["the optimizer still has no state", "load state['optimizer'] into it", "Adam's running averages"]),
    (restore_into_a_new_optimizer, ["the optimizer still has no state", "load into the objects you were given"]),
    (restored(generator=False), ["the generator is not where the saved one was", "set it to state['generator']", "draws other batches"]),
    (lambda state, m, o, g: (restored()(state, m, o, g), g.manual_seed(state["step"]))[0], ["the generator is not where the saved one was"]),
    (restored(ret="none"), ["returned None", "return the saved step"]),
    (restored(ret="float"), ["returned 3.0", "the int 3"]),
    (restored(ret="tensor"), ["returned tensor(3)", "the int 3"]),
    (lambda state, m, o, g: restored()(state, m, o, g) + 1, ["returned 4", "the int 3"]),
    (lambda state, m, o, g: o.load_state_dict(state["model"]), ["raised", "restore_state(state, model, optimizer, generator)"]),
    (lambda state, m, o, g: restored(generator=False)(state, m, o, copy.deepcopy(g).set_state(state["generator"])),
     ["the generator is not where the saved one was", "load into the objects you were given"]),
    (lambda state, m, o, g: (restored()(state, m, o, g), o.param_groups[0].update(lr=0.5))[0],
     ["the optimizer does not hold the saved state", "load state['optimizer'] into it"]),
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
