"""The mutation table of lesson 11, 11.1-11.2 (genai_course.checks.evaluation): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_CLASSES = '    d[labels[:, None] != labels[None, :]] = float("inf")  # rows of other classes are out of reach\n'
_DIAGONAL = '    d.fill_diagonal_(float("inf"))  # a row is not its own neighbour\n'
_KTH = "return d.kthvalue(k, dim=1).values"
_RETURN = "return inside.any(dim=1).float().mean().item(), inside.any(dim=0).float().mean().item()"

ROWS = [
    # 11.1 the radii within each class: the row counted as its own neighbour, the classes ignored or inverted, off by one, indices
    Mutant("knn_radii", "knn_radii", _DIAGONAL, "", ["counted itself as its own nearest neighbour"]),
    Mutant("knn_radii", "knn_radii", _CLASSES, "", ["these radii reach rows of other classes"]),
    Mutant("knn_radii", "knn_radii", "labels[:, None] != labels[None, :]", "labels[:, None] == labels[None, :]",
           ["these radii reach only rows of *other* classes"]),
    Mutant("knn_radii", "knn_radii", "d.kthvalue(k, dim=1)", "d.kthvalue(k + 1, dim=1)", ["off by one", "(k+1)-th nearest other row"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.kthvalue(k, dim=1).indices", ["returned the *indices* of the k-th nearest rows"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.kthvalue(k, dim=1)", ["pair of values and indices"]),
    Mutant("knn_radii", "knn_radii", _KTH, "return d.min(dim=1).values", ["*nearest* other row of the class whatever k is"]),
    Mutant("knn_radii", "knn_radii", "torch.cdist(x, x)", "torch.cdist(x, x) ** 2", ["squared distances"]),
    Mutant("knn_radii", "knn_radii", "    d = torch.cdist(x, x)", "    x -= x.mean(dim=0)\n    d = torch.cdist(x, x)",
           ["changed the x you were given"]),
    # 11.2 precision and coverage: swapped, < for <=, the lesson's recall, counted along the wrong side
    Mutant("precision_coverage", "precision_coverage", _RETURN,
           "return inside.any(dim=0).float().mean().item(), inside.any(dim=1).float().mean().item()", ["precision and coverage are swapped"]),
    Mutant("precision_coverage", "precision_coverage", "inside = d <= radii", "inside = d < radii",
           ["precision: a generated point exactly on the edge of a real ball", "coverage: a generated point exactly on the edge"]),
    Mutant("precision_coverage", "precision_coverage", _RETURN,
           "return inside.any(dim=1).float().mean().item(), inside.any(dim=1).float().mean().item()", ["coverage: that is the precision again"]),
    Mutant("precision_coverage", "precision_coverage", _RETURN,
           "return inside.any(dim=1).float().mean().item(), (d <= torch.cdist(fake, fake).fill_diagonal_(float('inf'))"
           ".kthvalue(k, dim=1).values[:, None]).any(dim=0).float().mean().item()", ["coverage: that is the lesson's recall"]),
    Mutant("precision_coverage", "precision_coverage", _RETURN,
           "return inside.any(dim=1).float().mean().item(), inside.float().mean(dim=0).mean().item()",
           ["coverage: you averaged, for each real example"]),
    Mutant("precision_coverage", "precision_coverage", ".fill_diagonal_(float(\"inf\"))", "", ["the real radii counted each example as its own"]),
    Mutant("precision_coverage", "precision_coverage", _RETURN, "return inside.any(dim=1).float().mean().item()",
           ["should return two numbers, (precision, coverage), but returned a float"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
