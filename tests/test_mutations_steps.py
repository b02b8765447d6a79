"""The mutation table of lesson 05 (genai_course.checks.steps): each solution, mutated the ways learners go
wrong (a missing zero_grad or detach, a flipped sign, a wrong returned loss, a loop that records nothing real),
is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_D_STEP_BODY = """    fake = G(z).detach()  # (B, 2): no path back into G
    loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
"""

ROWS = [
    # 5.1 the discriminator's step: missing zero_grad, missing detach (also when G's gradients are cleared after),
    # a flipped sign, a wrong returned loss
    Mutant("d_step", "d_step", "    opt_d.zero_grad()\n", "", ["zero_grad() on opt_d", "left over"]),
    Mutant("d_step", "d_step", "    opt_d.zero_grad()\n    loss.backward()\n    opt_d.step()\n",
           "    loss.backward()\n    opt_d.step()\n    opt_d.zero_grad()\n", ["zero_grad() on opt_d before you call backward()"]),
    Mutant("d_step", "d_step", "fake = G(z).detach()", "fake = G(z)", ["gradients reached G", "detach"]),
    Mutant("d_step", "d_step", _D_STEP_BODY, _D_STEP_BODY.replace("G(z).detach()", "G(z)") + "    G.zero_grad()  # hides the gradients that reached G\n",
           ["gradients reached G", "detach"]),
    Mutant("d_step", "d_step", "loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()",
           "loss = -(F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean())", ["not maximise it"]),
    Mutant("d_step", "d_step", "return loss.item()", "return float('nan')", ["returned nan"]),
    Mutant("d_step", "d_step", "return loss.item()", "return 0.0", ["returned 0", "loss.item()"]),
    Mutant("d_step", "d_step", "return loss.item()", "return loss", ["as a Python float (use .item())"]),
    Mutant("d_step", "d_step", "loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()",
           "loss = F.softplus(-D(real)).sum() + F.softplus(D(fake)).sum()", ["sum over the batch", "take the mean"]),
    # 5.2 the generator's step
    Mutant("g_step", "g_step", "    opt_g.zero_grad()\n", "", ["zero_grad() on opt_g", "left over"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = F.softplus(-D(G(z).detach())).mean()",
           ["G's weights did not change", "do not detach"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = -F.softplus(-D(G(z))).mean()", ["the loss's sign"]),
    Mutant("g_step", "g_step", "return loss.item()", "return 0.0", ["returned 0", "loss.item()"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = F.softplus(-D(G(z))).sum()", ["sum over the batch"]),
    # 5.3 the loop
    Mutant("train_loop", "train", "        history.append((d_loss, g_loss))\n    return history",
           "        history.append((d_loss, g_loss))\n    return [(0.0, 0.0)] * steps", ["never change"]),
    Mutant("train_loop", "train", "history.append((d_loss, g_loss))", "history.append((g_loss, d_loss))", ["wrong way round"]),
    Mutant("train_loop", "train", "        g_loss = g_step(G, D, 128, opt_g)\n", "        g_loss = 0.7\n", ["G's weights never changed"]),
    Mutant("train_loop", "train", "history.append((d_loss, g_loss))", "history.append((d_loss, float('nan')))", ["NaN"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
