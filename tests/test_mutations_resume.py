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
           ["state['generator'] is an object of class Generator", "weights_only=True", "the generator's state (a tensor)"]),
    Mutant("save_state", "save_state", '"model": copy.deepcopy(model.state_dict()),', '"model": model,',
           ["state['model'] is an object of class Sequential", "store the model's state"]),
    Mutant("save_state", "save_state", '"step": step,', '"step": step + 1,', ["state['step'] should be the int 3", "but is 4"]),
    Mutant("save_state", "save_state", '"generator": generator.get_state(),', '"generator": generator.manual_seed(0).get_state(),',
           ["moved the generator on"]),
    # 12.5 restoring at a new learning rate: into a copy, the optimizer's or the generator's state not loaded, the new
    # learning rate set before loading (so the old one comes back) or in one group only, a re-seed, no step returned
    Mutant("restore_state", "restore_state", '    model.load_state_dict(state["model"])\n',
           '    model = copy.deepcopy(model)\n    model.load_state_dict(state["model"])\n',
           ["the model does not hold the checkpoint's weights", "a new one made inside your function is lost"]),
    Mutant("restore_state", "restore_state", '    optimizer.load_state_dict(state["optimizer"])  # brings back the running averages *and* the saved learning rate\n',
           '    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n',
           ["the optimizer holds none of Adam's running averages", "load into the objects you were given"]),
    Mutant("restore_state", "restore_state", '    optimizer.load_state_dict(state["optimizer"])  # brings back the running averages *and* the saved learning rate\n', "",
           ["the optimizer holds none of Adam's running averages", "the next steps differ from the uninterrupted run"]),
    Mutant("restore_state", "restore_state",
           '    optimizer.load_state_dict(state["optimizer"])  # brings back the running averages *and* the saved learning rate\n'
           '    for group in optimizer.param_groups:  # so the new learning rate comes after it, in every group\n        group["lr"] = lr\n',
           '    for group in optimizer.param_groups:\n        group["lr"] = lr\n    optimizer.load_state_dict(state["optimizer"])\n',
           ["after resuming, the optimizer's learning rate is 0.02, not the 0.005", "the rate the run trained at before its checkpoint"]),
    Mutant("restore_state", "restore_state",
           '    for group in optimizer.param_groups:  # so the new learning rate comes after it, in every group\n        group["lr"] = lr\n',
           '    optimizer.param_groups[0]["lr"] = lr\n',
           ["in some parameter groups only (group 0: 0.01, group 1: 0.05)", "each holds its own learning rate"]),
    Mutant("restore_state", "restore_state", '    generator.set_state(state["generator"])\n', "",
           ["the generator is not where the checkpoint's was", "draws other batches"]),
    Mutant("restore_state", "restore_state", 'generator.set_state(state["generator"])', 'generator.manual_seed(state["step"])',
           ["the generator is not where the checkpoint's was"]),
    Mutant("restore_state", "restore_state", '    return state["step"]\n', "", ["returned None", "return the step the checkpoint was written at"]),
    Mutant("restore_state", "restore_state", 'return state["step"]', 'return state["step"] + 1', ["returned 4", "written after step 3"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
