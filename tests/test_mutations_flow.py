"""The mutation table of lesson 16 (genai_course.checks.flow): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests, no_quote_tests

_K2 = "k2 = velocity(x + dt * k1, t + dt)"
_MOVE = "x = x + dt * (k1 + k2) / 2"
_D2 = "d2 = ((x[:, None, :] - t * points[None, :, :]) ** 2).sum(-1)"
_W = "w = torch.softmax(-d2 / (2 * (1 - t) ** 2), dim=1)"
_V = "return (w[:, :, None] * (points[None, :, :] - x[:, None, :])).sum(1) / (1 - t)"
_Y = "y[x0.argsort()] = x1.sort().values"

ROWS = [
    # 16.1 Heun: the step count, the times, Euler, midpoint, the average, dt, in place, the last state, the shape
    Mutant("heun_sample", "heun_sample", "for i in range(steps):", "for i in range(4):",
           ["asked for 3 steps, velocity was called 8 times (Heun makes 2 calls a step)"]),
    Mutant("heun_sample", "heun_sample", "t = i * dt", "t = (i + 1) * dt", ["the first call to velocity was at t = 0.3333"]),
    Mutant("heun_sample", "heun_sample", _K2, "k2 = velocity(x + dt * k1, t)", ["your second slope is taken at t, the start of the step"]),
    Mutant("heun_sample", "heun_sample", _K2, "k2 = velocity(x + dt / 2 * k1, t + dt / 2)", ["that is the midpoint method"]),
    Mutant("heun_sample", "heun_sample", _MOVE, "x = x + dt * k1", ["the second slope was computed but not used", "Euler's method"]),
    Mutant("heun_sample", "heun_sample", "        " + _K2 + "  # the slope where a trial Euler step ends\n        " + _MOVE,
           "        x = x + dt * k1", ["that is Euler's method", "velocity was called 3 times"]),
    Mutant("heun_sample", "heun_sample", _MOVE, "x = x + dt * (k1 + k2)", ["adds the two slopes instead of averaging them"]),
    Mutant("heun_sample", "heun_sample", "x, dt = x0, 1.0 / steps", "x, dt = x0, 1.0 / (steps - 1)", ["your steps are 0.5 long"]),
    Mutant("heun_sample", "heun_sample", _MOVE, "x += dt * (k1 + k2) / 2", ["heun_sample changed the x0 you were given"]),
    Mutant("heun_sample", "heun_sample", "for i in range(steps):", "for i in range(steps - 1):",
           ["asked for 3 steps, velocity was called 4 times"]),
    Mutant("heun_sample", "heun_sample", "    return x\n", "    return x[None]\n", ["should have shape (4, 2), but has shape (1, 4, 2)"]),
    # 16.2 the exact field: the variance, the 2, the centre, normalising, underflow, the sign, 1 / (1 - t), argmax, the dim
    Mutant("exact_velocity", "exact_velocity", _W, "w = torch.softmax(-d2 / (2 * (1 - t)), dim=1)", ["the weights use a variance of 1 - t"]),
    Mutant("exact_velocity", "exact_velocity", _W, "w = torch.softmax(-d2 / (1 - t) ** 2, dim=1)", ["the exponent lacks the 2"]),
    Mutant("exact_velocity", "exact_velocity", _D2, "d2 = ((x[:, None, :] - points[None, :, :]) ** 2).sum(-1)",
           ["the weights measure how far x is from each data point a_i itself"]),
    Mutant("exact_velocity", "exact_velocity", _W, "w = torch.exp(-d2 / (2 * (1 - t) ** 2))", ["the weights are not normalised"]),
    Mutant("exact_velocity", "exact_velocity", _W,
           "e = torch.exp(-d2 / (2 * (1 - t) ** 2))\n    w = e / e.sum(1, keepdim=True)",
           ["NaN or infinite for x far from every data point", "subtract the largest one first"]),
    Mutant("exact_velocity", "exact_velocity", _V, "return (w[:, :, None] * (x[:, None, :] - points[None, :, :])).sum(1) / (1 - t)",
           ["your velocity points away from the data"]),
    Mutant("exact_velocity", "exact_velocity", _V, "return (w[:, :, None] * (points[None, :, :] - x[:, None, :])).sum(1)",
           ["the velocity lacks the division by 1 - t"]),
    Mutant("exact_velocity", "exact_velocity", _W,
           "w = torch.nn.functional.one_hot(d2.argmin(1), points.shape[0]).float()", ["heads for the most likely data point only"]),
    Mutant("exact_velocity", "exact_velocity", _W, "w = torch.softmax(-d2 / (2 * (1 - t) ** 2), dim=0)", ["normalised over the batch"]),
    Mutant("exact_velocity", "exact_velocity", _V, "return w", ["should have shape (5, 2), but has shape (5, 3)"]),
    # 16.3 uncrossing: sorted x1, indices, reversed, x0, the length, positions, the order as it came, edits
    Mutant("uncross_1d", "uncross_1d", "    return y\n", "    return x1.sort().values\n", ["your y is x1 sorted whatever the order of x0"]),
    Mutant("uncross_1d", "uncross_1d", "    return y\n", "    return x1.argsort()\n", ["returned positions (whole numbers 0 to 7), not values"]),
    Mutant("uncross_1d", "uncross_1d", _Y, "y[x0.argsort()] = x1.sort(descending=True).values",
           ["you paired the smallest noise with the largest data point"]),
    Mutant("uncross_1d", "uncross_1d", "    return y\n", "    return x0.sort().values\n", ["returned the noise's values"]),
    Mutant("uncross_1d", "uncross_1d", "    return y\n", "    return y[1:]\n", ["returned 7 values for 8 noise points"]),
    Mutant("uncross_1d", "uncross_1d", _Y, "y = x1.sort().values[x0.argsort()]", ["the positions that sort x0"]),
    Mutant("uncross_1d", "uncross_1d", _Y, "y = x1.clone()", ["you returned x1 in the order it came"]),
    Mutant("uncross_1d", "uncross_1d", "y = torch.empty_like(x1)", "y = x1", ["uncross_1d changed the x1 you were given"]),
    Mutant("uncross_1d", "uncross_1d", "    return y\n", "    return y.tolist()\n", ["returned a list of 8"]),
]

test_mutant_is_caught = mutation_tests(ROWS)

test_no_message_quotes_the_solution = no_quote_tests(ROWS, "16")
