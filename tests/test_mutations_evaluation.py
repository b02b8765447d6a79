"""The mutation table of lesson 11, 11.1-11.2 (genai_course.checks.evaluation): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_DIAGONAL = '    d.fill_diagonal_(float("inf"))  # a row is not its own neighbour\n'
_KTH = "return d.kthvalue(k, dim=1).values"
_PRECISION = "(d <= knn_radii(real, k)[None, :]).any(dim=1).float().mean()"
_RETURN_PR = "return precision.item(), recall.item()"

ROWS = [
    # 11.1 the k-NN radii: the row counted as its own neighbour (k-th vs (k+1)-th), indices, squared, ignoring k
    Mutant("knn_radii", "knn_radii", _DIAGONAL, "", ["counted itself as its own nearest neighbour", "leave the row itself out"]),
    Mutant("knn_radii", "knn_radii", "d.kthvalue(k, dim=1)", "d.kthvalue(k + 1, dim=1)", ["off by one", "(k+1)-th nearest other row"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.kthvalue(k, dim=1).indices", ["returned the *indices* of the k-th nearest rows"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.kthvalue(k, dim=1)", ["pair of values and indices", ".values"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.topk(k, dim=1, largest=False).values",
           ["one radius per row, shape (8,)", "keep only the k-th, the last"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.min(dim=1).values", ["*nearest* other row whatever k is"]),
    Mutant("knn_radii", "knn_radii", _DIAGONAL + "    " + _KTH, "    return d.min(dim=1).values", ["every radius is 0", "nearest row is itself"]),
    Mutant("knn_radii", "knn_radii", "torch.cdist(x, x)", "torch.cdist(x, x) ** 2", ["squared distances"]),
    Mutant("knn_radii", "knn_radii", "torch.cdist(x, x)", "torch.cdist(x, x, p=1)", ["Manhattan (L1) distances"]),
    Mutant("knn_radii", "knn_radii", "    d = torch.cdist(x, x)", "    x -= x.mean(dim=0)\n    d = torch.cdist(x, x)",
           ["changed the x you were given"]),
    # 11.2 precision and recall: swapped, < for <=, .any over the wrong dim, the radii of the wrong set or off by one
    Mutant("precision_recall", "precision_recall", _RETURN_PR, "return recall.item(), precision.item()", ["precision and recall are swapped"]),
    Mutant("precision_recall", "precision_recall", "(d <= knn_radii(real, k)", "(d < knn_radii(real, k)",
           ["precision: a generated point exactly on the edge of a real ball", "(<=, not <)"]),
    Mutant("precision_recall", "precision_recall", "(d <= knn_radii(fake, k)", "(d < knn_radii(fake, k)",
           ["recall: a real point exactly on the edge of a generated ball", "(<=, not <)"]),
    Mutant("precision_recall", "precision_recall", ".any(dim=1)", ".any(dim=0)",
           ["precision: that is the share of real balls that hold at least one generated point"]),
    Mutant("precision_recall", "precision_recall", _PRECISION, "(d <= knn_radii(real, k)[None, :]).float().mean()",
           ["precision: you averaged the share of real balls"]),
    Mutant("precision_recall", "precision_recall", _PRECISION, "(d <= knn_radii(real, k)[None, :]).any(dim=1).float().sum()",
           ["that is the number of generated points inside a ball, not their share"]),
    Mutant("precision_recall", "precision_recall", "knn_radii(fake, k)[:, None]", "knn_radii(real, k)[:, None]",
           ["raised RuntimeError", "each ball's radius goes with its own centre"]),
    Mutant("precision_recall", "precision_recall", "knn_radii(real, k)[None, :]", "knn_radii(real, k + 1)[None, :]",
           ["precision: the real radii are off by one"]),
    Mutant("precision_recall", "precision_recall", _RETURN_PR, "return precision.item()",
           ["should return two numbers, (precision, recall), but returned a float"]),
    Mutant("precision_recall", "precision_recall", _RETURN_PR, "return 1.0, 1.0", ["precision is 1.000 on every pair of sets"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
