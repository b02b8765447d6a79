"""The mutation table of lesson 05 (genai_course.checks.steps): each solution, mutated the ways learners go
wrong (a missing zero_grad, detach or graph, a penalty of the wrong sign, weight or place, a G step that still
computes D's gradients or leaves D frozen, a wrong returned loss, a loop with the wrong number or order of steps or
batches, or that records nothing real), is judged
failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_D_STEP_BODY = """    fake = G(z).detach()  # (B, 2): no path back into G
    x = real.detach().requires_grad_(True)  # (B, 2): autograd tracks the input, for the slope
    real_logits = D(x)  # (B,)
    (slope,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)  # (B, 2), keeps its graph
    penalty = slope.pow(2).sum(dim=1).mean()  # squared length per example, averaged over the batch
    loss = F.softplus(-real_logits).mean() + F.softplus(D(fake)).mean() + gamma / 2 * penalty
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
"""
_LOSS = "loss = F.softplus(-real_logits).mean() + F.softplus(D(fake)).mean() + gamma / 2 * penalty"
_PENALTY = "penalty = slope.pow(2).sum(dim=1).mean()"
_ROUND = """        for _ in range(d_steps):
            d_loss = d_step(G, D, sample_real(128), opt_d, gamma)
        g_loss = g_step(G, D, 128, opt_g)
"""

ROWS = [
    # 5.1 the discriminator's step with R1: missing zero_grad, missing detach (also when G's gradients are cleared
    # after), the penalty's graph, sign, weight, place and shape, a flipped loss, a wrong returned loss
    Mutant("d_step", "d_step", "    opt_d.zero_grad()\n", "", ["D's step followed gradients left over", "earlier step"]),
    Mutant("d_step", "d_step", "    opt_d.zero_grad()\n    loss.backward()\n    opt_d.step()\n",
           "    loss.backward()\n    opt_d.step()\n    opt_d.zero_grad()\n", ["D's step followed gradients left over"]),
    Mutant("d_step", "d_step", "fake = G(z).detach()", "fake = G(z)", ["gradients reached G", "fixed data"]),
    Mutant("d_step", "d_step", _D_STEP_BODY, _D_STEP_BODY.replace("G(z).detach()", "G(z)") + "    G.zero_grad()  # hides the gradients that reached G\n",
           ["gradients reached G"]),
    Mutant("d_step", "d_step", ", create_graph=True)", ")", ["raised RuntimeError", "the slope must keep its graph"]),
    Mutant("d_step", "d_step", ", create_graph=True)", ", retain_graph=True)", ["the penalty added nothing", "carry a graph back"]),
    Mutant("d_step", "d_step", "x = real.detach().requires_grad_(True)", "x = real", ["raised RuntimeError", "an input it tracks"]),
    Mutant("d_step", "d_step", _LOSS, _LOSS.replace("+ gamma / 2 * penalty", "- gamma / 2 * penalty"), ["steeper at the real data"]),
    Mutant("d_step", "d_step", _LOSS, _LOSS.replace("gamma / 2 * penalty", "gamma * penalty"), ["twice what it should"]),
    Mutant("d_step", "d_step", _LOSS, _LOSS.replace(" + gamma / 2 * penalty", ""), ["the penalty added nothing"]),
    Mutant("d_step", "d_step", _PENALTY, "penalty = slope.pow(2).mean()", ["half what it should"]),
    Mutant("d_step", "d_step", _PENALTY, "penalty = slope.pow(2).sum()", ["64 times too large", "sum over the batch"]),
    Mutant("d_step", "d_step", _PENALTY, "penalty = slope.norm(dim=1).mean()", ["the length of D's slope"]),
    Mutant("d_step", "d_step", _LOSS, "loss = -(F.softplus(-real_logits).mean() + F.softplus(D(fake)).mean()) + gamma / 2 * penalty",
           ["climbed its own loss"]),
    Mutant("d_step", "d_step", _LOSS, _LOSS.replace("gamma / 2", "4.0 / 2"), ["the same way with gamma=4 and gamma=12"]),
    Mutant("d_step", "d_step", "return loss.item()", "return float('nan')", ["returned nan"]),
    Mutant("d_step", "d_step", "return loss.item()", "return 0.0", ["returned 0", "loss.item()"]),
    Mutant("d_step", "d_step", "return loss.item()", "return loss", ["as a Python float (use .item())"]),
    Mutant("d_step", "d_step", "return loss.item()", "return (loss - gamma / 2 * penalty).item()", ["without the penalty"]),
    # 5.2 the generator's step that spares D's weights
    Mutant("g_step", "g_step", "    opt_g.zero_grad()\n", "", ["G's step followed gradients left over", "earlier step"]),
    Mutant("g_step", "g_step", "    D.requires_grad_(False)", "    pass", ["computed a gradient for D's weights"]),
    Mutant("g_step", "g_step", "    D.requires_grad_(True)", "    pass", ["D's weights no longer take gradients"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = F.softplus(-D(G(z).detach())).mean()",
           ["raised RuntimeError", "flow through D into G"]),
    Mutant("g_step", "g_step", "    D.requires_grad_(False)", "    G.requires_grad_(False)", ["G's weights no longer take gradients"]),
    Mutant("g_step", "g_step", "    D.requires_grad_(False)", "    D.eval()", ["computed a gradient for D's weights"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = -F.softplus(-D(G(z))).mean()", ["the loss's sign"]),
    Mutant("g_step", "g_step", "    opt_g.step()\n", "", ["opt_g never stepped"]),
    Mutant("g_step", "g_step", "return loss.item()", "return 0.0", ["returned 0", "loss.item()"]),
    Mutant("g_step", "g_step", "loss = F.softplus(-D(G(z))).mean()", "loss = F.softplus(-D(G(z))).sum()", ["sum over the batch"]),
    # 5.3 several D steps per G step: the wrong number of D steps (fixed, off by one), steps read as D steps, the G step first,
    # one real batch for all of a round's D steps, the wrong batch, a history that records nothing real
    Mutant("train_loop", "train", "for _ in range(d_steps):", "for _ in range(1):", ["took 1 D step before each G step"]),
    Mutant("train_loop", "train", "for _ in range(d_steps):", "for _ in range(3):", ["d_steps=2, your loop took 3 D steps"]),
    Mutant("train_loop", "train", "for _ in range(d_steps):", "for _ in range(d_steps + 1):", ["d_steps=3, your loop took 4 D steps"]),
    Mutant("train_loop", "train", "    for _ in range(steps):\n", "    for _ in range(steps // d_steps):\n", ["took 1 G step:", "counts G's updates"]),
    Mutant("train_loop", "train", _ROUND, "        g_loss = g_step(G, D, 128, opt_g)\n" + _ROUND.replace("        g_loss = g_step(G, D, 128, opt_g)\n", ""),
           ["a G step before any D step"]),
    Mutant("train_loop", "train", "        g_loss = g_step(G, D, 128, opt_g)\n", "            g_loss = g_step(G, D, 128, opt_g)\n", ["took 12 G steps"]),
    Mutant("train_loop", "train", _ROUND, "        real = sample_real(128)\n" + _ROUND.replace("sample_real(128)", "real"), ["drew 4 real batches", "fresh batch"]),
    Mutant("train_loop", "train", "sample_real(128)", "sample_real(256)", ["[256] examples"]),
    Mutant("train_loop", "train", "        g_loss = g_step(G, D, 128, opt_g)\n", "        g_loss = 0.7\n", ["never stepped opt_g"]),
    Mutant("train_loop", "train", "        history.append((d_loss, g_loss))\n    return history",
           "        history.append((d_loss, g_loss))\n    return [(0.0, 0.0)] * steps", ["never change"]),
    Mutant("train_loop", "train", "history.append((d_loss, g_loss))", "history.append((g_loss, d_loss))", ["wrong way round"]),
    Mutant("train_loop", "train", "history.append((d_loss, g_loss))", "history.append((d_loss, float('nan')))", ["NaN"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
