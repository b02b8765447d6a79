"""The digit judge: a small convolutional classifier of 8x8 digits, trained on the course's
training split only, once, and stored in the package (``genai_course/digit_judge.pt`` with its
sha256 sidecar); ``digit_classifier()`` loads it on first use.

``fit_judge`` is the fitting loop of every classifier the metrics train: the judge, the
train-on-synthetic classifier and the two-sample test's discriminator.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from .. import checkpoints
from ..data import Digits, load_digits


class DigitClassifier(nn.Module):
    """A small CNN for 8x8 digits: images (B, 1, 8, 8) in [0, 1] -> logits (B, 10).

    ``features`` returns the 128 hidden units before the last layer, used for the Fréchet
    distance.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),  # (B, 32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),  # (B, 64, 8, 8)
            nn.MaxPool2d(2), nn.Flatten(),  # (B, 64 * 4 * 4)
            nn.Linear(64 * 4 * 4, 128), nn.ReLU(),  # (B, 128)
        )
        self.head = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 8, 8) -> (B, 128)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"the digit classifier expects images of shape (N, 1, 8, 8) (got {tuple(x.shape)})")
        return self.body(x)

    def conv_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 8, 8) -> (B, 1024): the convolutional layers' output after pooling (64 x 4 x 4).

        Precision and recall use these: they still describe strokes, so noise lands far from
        every digit. The last hidden layer (``features``) was trained only to tell digits from
        each other, and puts half of uniform noise among the real digits' k-NN balls.
        """
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"the digit classifier expects images of shape (N, 1, 8, 8) (got {tuple(x.shape)})")
        return self.body[:5](x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 8, 8) -> logits (B, 10)."""
        return self.head(self.features(x))


def train_digit_classifier(digits: Digits | None = None, *, epochs: int = 30, seed: int = 0) -> DigitClassifier:
    """Train the judge on the training split only: Adam 1e-3, batches of 64, ``epochs`` passes.

    30 epochs fit the training digits completely; on the 300 held-out digits the classifier
    is about 99% accurate and more than 90% sure of about 97% of them. Returned in eval mode.
    """
    digits = digits or load_digits()
    return fit_digit_classifier(digits.x_train, digits.y_train, epochs, seed)


def fit_judge(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
              epochs: int, generator: torch.Generator) -> nn.Module:
    """The fitting loop of the judges (the digit classifier, TSTR's classifier, the two-sample
    test's discriminator): Adam 1e-3, ``epochs`` passes in batches of 64, the order drawn from
    ``generator``. Returned in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.enable_grad():  # also when called under no_grad (e.g. by train_on_synthetic inside an evaluation)
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            for i in range(0, x.shape[0], 64):
                batch = order[i : i + 64]
                loss = loss_fn(model(x[batch]), y[batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()


def fit_digit_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> DigitClassifier:
    """A ``DigitClassifier`` fitted to images x (N, 1, 8, 8) and labels y (N,)."""
    torch.manual_seed(seed)  # initial weights
    model = DigitClassifier()
    return fit_judge(model, x.float(), y.long(), F.cross_entropy, epochs, torch.Generator().manual_seed(seed))


# The judge is trained once (``train_digit_classifier()``: seed 0, 30 epochs, one thread) and
# kept in the package, so that every process, lesson and machine judges with the same weights
# and none spends 5-10 s training it again. ``scripts/freeze_judge.py`` remakes the file and
# prints the sha256 to paste here; tests/test_metrics_judge.py trains it afresh and compares.
JUDGE_FILE = Path(__file__).parent.with_name("digit_judge.pt")  # genai_course/digit_judge.pt, package data
JUDGE_SHA256 = "5517eab1f94cb2164b8d6197b1c42b8d6b4038fe7700adbfe8591b68a1e79456"
JUDGE_RECIPE = {"epochs": 30, "seed": 0}  # train_digit_classifier's arguments for the stored judge


def save_digit_judge(model: DigitClassifier, path: str | Path = JUDGE_FILE) -> Path:
    """Write a trained judge as a course checkpoint (with its sha256 sidecar): what ``digit_classifier`` loads."""
    return checkpoints.save(path, {
        "model": "digit-judge", "step": JUDGE_RECIPE["epochs"],
        "weights": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "extra": {"recipe": dict(JUDGE_RECIPE), "threads": torch.get_num_threads(),
                  "cpu_capability": torch.backends.cpu.get_cpu_capability()},
    })


def load_digit_judge(path: str | Path = JUDGE_FILE, expected_sha256: str | None = JUDGE_SHA256) -> tuple[DigitClassifier, dict[str, Any]]:
    """The stored judge, checked against ``expected_sha256`` and read with ``weights_only=True``:
    (the classifier in eval mode, the checkpoint's ``extra``: recipe, threads, CPU capability)."""
    ckpt = checkpoints.load(path, expected_sha256=expected_sha256)
    model = DigitClassifier()
    model.load_state_dict(ckpt["weights"])
    return model.eval(), ckpt.get("extra", {})


@functools.lru_cache(maxsize=1)
def digit_classifier() -> DigitClassifier:
    """The course's judge: ``train_digit_classifier()`` as trained once and stored in the package
    (``JUDGE_FILE``, checked against ``JUDGE_SHA256``), loaded on first use and kept."""
    return load_digit_judge()[0]
