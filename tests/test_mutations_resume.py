"""The mutation table of lesson 12's checkpoints (genai_course.checks.resume: 12.4 save_state, 12.5
restore_state): each solution, mutated the ways learners go wrong, is judged failed with a message that
names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 12.4 saving: references instead of a copy, the optimizer's or the generator's state left out, objects, a seed
    Mutant("save_state", "save_state", '"model": copy.deepcopy(model.state_dict()),', '"model": model.state_dict(),',
           ["state['model'] changed when training went on after the save", "save a copy of it that goes all the way down to the tensors"]),
    Mutant("save_state", "save_state", '"optimizer": copy.deepcopy(optimizer.state_dict()),', '"optimizer": optimizer.state_dict(),',
           ["state['optimizer'] changed when training went on after the save"]),
    Mutant("save_state", "save_state", '        "optimizer": copy.deepcopy(optimizer.state_dict()),\n', "",
           ["returned a dict without 'optimizer'"]),
    Mutant("save_state", "save_state", '"optimizer": copy.deepcopy(optimizer.state_dict()),', '"optimizer": None,',
           ["state['optimizer'] is None", "Adam's running averages"]),
    Mutant("save_state", "save_state", '        "generator": generator.get_state(),  # a new uint8 tensor: already a copy\n', "",
           ["returned a dict without 'generator'"]),
    Mutant("save_state", "save_state", '"generator": generator.get_state(),', '"generator": generator.initial_seed(),',
           ["state['generator'] is the number 1000", "a seed says where the random stream started"]),
    Mutant("save_state", "save_state", '"generator": generator.get_state(),', '"generator": generator,',
           ["state['generator'] is an object of class Generator", "weights_only=True", "generator.get_state()"]),
    Mutant("save_state", "save_state", '"model": copy.deepcopy(model.state_dict()),', '"model": model,',
           ["state['model'] is an object of class Sequential", "store model.state_dict()"]),
    Mutant("save_state", "save_state", '"step": step,', '"step": step + 1,', ["state['step'] should be the int 3", "but is 4"]),
    Mutant("save_state", "save_state", '"generator": generator.get_state(),', '"generator": generator.manual_seed(0).get_state(),',
           ["moved the generator on"]),
    # 12.5 restoring: into a copy, the optimizer's or the generator's state not loaded, a re-seed, no step returned
    Mutant("restore_state", "restore_state", '    model.load_state_dict(state["model"])\n',
           '    model = copy.deepcopy(model)\n    model.load_state_dict(state["model"])\n',
           ["the model does not hold the saved weights", "a new one made inside your function is lost"]),
    Mutant("restore_state", "restore_state", '    optimizer.load_state_dict(state["optimizer"])\n',
           '    optimizer = torch.optim.Adam(model.parameters())\n    optimizer.load_state_dict(state["optimizer"])\n',
           ["the optimizer still has no state", "load into the objects you were given"]),
    Mutant("restore_state", "restore_state", '    optimizer.load_state_dict(state["optimizer"])\n', "",
           ["the optimizer still has no state", "load state['optimizer'] into it", "Adam's running averages"]),
    Mutant("restore_state", "restore_state", '    generator.set_state(state["generator"])\n', "",
           ["the generator is not where the saved one was", "set it to state['generator']"]),
    Mutant("restore_state", "restore_state", 'generator.set_state(state["generator"])', 'generator.manual_seed(state["step"])',
           ["the generator is not where the saved one was"]),
    Mutant("restore_state", "restore_state", '    return state["step"]\n', "", ["returned None", "return the saved step"]),
    Mutant("restore_state", "restore_state", 'return state["step"]', 'return state["step"] + 1', ["returned 4", "the int 3"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
