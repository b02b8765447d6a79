"""Registry models taught one more class or language (lesson 14), their checkpoints, and the rebuild.

``adapt_model`` teaches a trained model of the registry something new from a few examples with
one of ``adapt.METHODS``: a conditional digits VAE (``TrainedVAE`` of classes 0..K-1) the class K,
or the names model (``TrainedCharLM``) a faker locale it never saw. The result is an ordinary
registry model again (``Adapted.model``: a ``TrainedVAE`` of K+1 classes, or a ``TrainedCharLM``
whose recipe lists the new locale last), merged with ``adapt.merge_classes``.

``save_adapted`` writes it with ``checkpoints.save``, two ways:

* finetune and replay train every weight: a whole course checkpoint of the merged model (every
  command takes it), with ``extra["adapted"]`` saying how it was made and from which base;
* lora and embedding train a few tensors: an *adapter* checkpoint (``extra["kind"] == "adapter"``)
  holding only those tensors (``adapt.adapter_state``), the method, rank and new class or language,
  and its base by sha256 and path (as given, and relative to the adapter's folder).

``registry.load_model`` reads an adapter checkpoint through ``find_base`` (the base file, refused
when its sha256 differs) and ``apply_adapter`` (grow the base, load the adapter's tensors, merge):
the same model ``adapt_model`` made, so every command that takes a checkpoint takes an adapter.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import adapt, checkpoints
from .. import text as textlib
from .base import TrainedModel
from .text import TrainedCharLM
from .vae import TrainedVAE

__all__ = [
    "ADAPTER_KIND", "WHOLE_METHODS", "Adapted", "adapt_config", "adapt_model", "judge", "save_adapted",
    "is_adapter", "find_base", "apply_adapter", "restore_data", "set_adapted_from", "adapted_from",
]

ADAPTER_KIND = "adapter"  # an adapter checkpoint's extra["kind"]: load_model rebuilds it on its base
WHOLE_METHODS = ("finetune", "replay")  # every weight trains: the checkpoint holds the whole merged model
LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")  # a faker locale's shape: 'fi_FI' (or a language alone, 'es')

# The lesson's settings (lesson 14): digits 600 Adam steps at 3e-3 with 900 replayed samples;
# names 300 steps at 1e-3 with 400 (a larger rate made the names model forget its languages).
_DIGITS = {"steps": 600, "lr": 3e-3, "replay": 900}
_NAMES = {"steps": 300, "lr": 1e-3, "replay": 400}


@dataclass
class Adapted:
    """A registry model taught something new, and how.

    ``model`` is the merged registry model (what a checkpoint holds and every command takes);
    ``grown`` is the network as trained, its adapters and new column or row still separate
    (``adapt.adapter_state(grown)`` is what an adapter checkpoint stores); ``shots`` the examples
    (``adapt.FewShot`` or ``adapt.FewNames``)."""

    model: TrainedModel
    grown: nn.Module
    base: TrainedModel
    new: int | str  # the new class (digits) or locale (names)
    shots: Any
    config: adapt.AdaptConfig
    trainable: int
    seconds: float

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def examples(self) -> int:
        return len(self.shots.x) if isinstance(self.shots, adapt.FewShot) else len(self.shots.train)


def adapt_config(base: TrainedModel, method: str, *, steps: int | None = None, rank: int | None = None, seed: int = 0) -> adapt.AdaptConfig:
    """The lesson's ``AdaptConfig`` for ``base``'s family (digits or names), with ``steps`` and
    ``rank`` (None: the defaults) and ``seed``."""
    settings = dict(_NAMES if isinstance(base, TrainedCharLM) else _DIGITS)
    if steps is not None:
        settings["steps"] = steps
    return adapt.AdaptConfig(method, seed=seed, **({"rank": rank} if rank is not None else {}), **settings)


def _new_name(base: TrainedModel, new: int | str) -> str:
    return f"{base.name}+{new}"


def _check_new(base: TrainedModel, new: Any) -> None:
    """ValueError unless ``new`` is what ``base`` can learn next: class K of a cVAE of K < 10 digit
    classes, or a locale the GRU names model does not know."""
    if isinstance(base, TrainedVAE):
        k = base.num_classes
        if k < 1:
            raise ValueError(f"{base.name} is not conditional: a new class needs a conditional VAE (a cVAE such as digits-0to8)")
        if k >= base.digits.num_classes:
            raise ValueError(f"{base.name} already knows every digit 0-{k - 1}: there is no new class to teach it")
        if not isinstance(new, int) or isinstance(new, bool) or new != k:
            raise ValueError(f"{base.name} knows the digits 0-{k - 1}: the class it can learn next is {k} (got {new!r})")
    elif isinstance(base, TrainedCharLM):
        if not isinstance(base.model, textlib.GRULM):
            raise ValueError(f"{base.name} is a {base.recipe.model.kind} model: a new language needs the GRU names model (charlm-names)")
        if not isinstance(new, str) or not LOCALE.match(new):
            raise ValueError(f"unknown locale {new!r}: give a faker locale such as {adapt.NEW_LANGUAGE}")
        if new in base.data.locales:
            raise ValueError(f"{base.name} already knows {new} (its languages: {', '.join(base.data.locales)}): choose one it has not seen")
        _check_alphabet(base, new)
    else:
        raise ValueError(f"{base.name} cannot be adapted: a new class needs a conditional digits VAE, a new language the names model")


def _check_alphabet(base: TrainedCharLM, locale: str) -> None:
    """ValueError unless the names of ``base``'s languages and ``locale`` spell with ``base``'s alphabet:
    the adapted model's vocabulary is read from its languages' names, and its embeddings fit only the old one."""
    chars = set(base.data.vocab.chars)
    grown = set(textlib.load_names((*base.data.locales, locale)).vocab.chars)
    if grown != chars:
        more, fewer = "".join(sorted(grown - chars)), "".join(sorted(chars - grown))
        change = (f"{locale}'s names use letters {base.name} has never seen ({more})" if more else
                  f"with {locale}, {base.name}'s names would lose some of its letters ({fewer})")
        raise ValueError(f"{change}: its character embeddings fit only its own alphabet; choose a language written in it, "
                         f"such as {adapt.NEW_LANGUAGE}")


def _names_data(old: textlib.NamesData, shots: adapt.FewNames) -> textlib.NamesData:
    """An adapted names model's data: the base's names, split exactly as the base's were, plus the new
    language's examples (training) and its other names (held out); the base's vocabulary."""
    def join(a: textlib.NameSplit, b: textlib.NameSplit) -> textlib.NameSplit:
        return textlib.NameSplit(a.names + b.names, torch.cat([a.labels, b.labels]))

    return textlib.NamesData((*old.locales, shots.locale), join(old.train, shots.train), join(old.heldout, shots.heldout), old.vocab)


def restore_data(model: TrainedModel, record: dict[str, Any]) -> None:
    """Give a names model read from a whole checkpoint of ``adapt_model`` (``record``: its
    ``extra["adapted"]``) the data it was adapted with: its base's split, not one redrawn over the
    languages with the new one (which would hold out some of the base's training names). Digits: nothing to do."""
    if isinstance(model, TrainedCharLM) and isinstance(record.get("new_language"), str):
        old = textlib.load_names(tuple(model.recipe.locales[:-1]))
        model.data = _names_data(old, adapt.few_names(old.vocab, len(old.locales), int(record["examples"]), record["new_language"],
                                                      int(record["seed"])))


def _wrap(base: TrainedModel, merged: nn.Module, new: int | str, *, name: str, seed: int, step: int,
          shots: Any = None) -> TrainedModel:
    """A registry model of one more class or language around ``merged`` (a plain network, adapters folded in);
    a names model gets the base's data and the new language's ``shots`` (``_names_data``)."""
    if isinstance(base, TrainedVAE):
        recipe = dataclasses.replace(base.recipe, vae=dataclasses.replace(base.recipe.vae, num_classes=int(new) + 1))
        model: TrainedModel = TrainedVAE(recipe, name=name, seed=seed, device=base.device)
        model.vae.load_state_dict(merged.state_dict())  # type: ignore[attr-defined]
    else:
        recipe = dataclasses.replace(base.recipe, locales=(*base.recipe.locales, str(new)))
        model = TrainedCharLM(recipe, name=name, seed=seed, device=base.device)  # the same alphabet: _check_new made sure
        model.model.load_state_dict(merged.state_dict())  # type: ignore[attr-defined]
        model.data = _names_data(base.data, shots)  # type: ignore[attr-defined]
    model.step = step
    return model


def adapt_model(base: TrainedModel, new: int | str, examples: int, config: adapt.AdaptConfig, *, progress: bool = False) -> Adapted:
    """Teach ``base`` the class ``new`` (a ``TrainedVAE``: ``adapt.few_shot`` and ``adapt.adapt_vae``)
    or the locale ``new`` (a ``TrainedCharLM``: ``adapt.few_names`` and ``adapt.adapt_names``) from
    ``examples`` examples picked with ``config.seed``. ``base`` is not changed. ValueError on bad input."""
    _check_new(base, new)
    if isinstance(base, TrainedVAE):
        shots: Any = adapt.few_shot(examples, int(new), seed=config.seed)
        run: Any = adapt.adapt_vae(base.vae, shots, config, progress=progress)
    else:  # a TrainedCharLM, as _check_new made sure
        shots = adapt.few_names(base.data.vocab, base.num_classes, examples, str(new), seed=config.seed)  # type: ignore[attr-defined]
        run = adapt.adapt_names(base.model, base.data.vocab, shots, config)  # type: ignore[attr-defined]
    merged = adapt.merge_classes(copy.deepcopy(run.model))
    model = _wrap(base, merged, new, name=_new_name(base, new), seed=config.seed, step=base.step + config.steps, shots=shots)
    return Adapted(model, run.model, base, new, shots, config, run.trainable, run.seconds)


def judge(adapted: Adapted, samples: int = 300) -> tuple[Any, Any]:
    """(the adapted model's report, the base's): ``adapt.judge_adaptation`` with ``samples`` a class
    for digits (seed: the adaptation's), ``adapt.judge_names`` for names (old languages: the base's held-out names)."""
    base, model = adapted.base, adapted.model
    if isinstance(model, TrainedVAE):
        seed = adapted.config.seed
        return tuple(adapt.judge_adaptation(m.vae, adapted.shots, samples=samples, seed=seed) for m in (model, base))  # type: ignore[attr-defined,return-value]
    vocab, old = base.data.vocab, base.data.heldout  # type: ignore[attr-defined]
    return tuple(adapt.judge_names(m.model, vocab, adapted.shots, old) for m in (model, base))  # type: ignore[attr-defined,return-value]


def _record(adapted: Adapted) -> dict[str, Any]:
    """How the adaptation was made: method, new class or language, examples and training settings."""
    c = adapted.config
    what = {"new_class": int(adapted.new)} if isinstance(adapted.model, TrainedVAE) else {"new_language": str(adapted.new)}
    return {"method": c.method, **what, "examples": adapted.examples, "steps": c.steps, "lr": c.lr, "batch_size": c.batch_size,
            "rank": c.rank if c.method == "lora" else None, "replay": c.replay if c.method == "replay" else None,
            "seed": c.seed, "trainable": adapted.trainable}


def _base_record(adapted: Adapted, base_path: str | os.PathLike[str], out: Path) -> dict[str, Any]:
    """The base by sha256, and its path as given and relative to the checkpoint's folder."""
    try:
        relative: str | None = os.path.relpath(os.path.abspath(base_path), os.path.abspath(out.parent if str(out.parent) else "."))
    except ValueError:  # another drive (Windows): no relative path
        relative = None
    return {"model": adapted.base.name, "kind": adapted.base.kind, "sha256": checkpoints.sha256(base_path),
            "path": str(base_path), "relative": relative}


def _networks(model: TrainedModel) -> dict[str, nn.Module]:
    return {"vae": model.vae} if isinstance(model, TrainedVAE) else {"model": model.model}  # type: ignore[attr-defined]


def save_adapted(adapted: Adapted, path: str | os.PathLike[str], base_path: str | os.PathLike[str]) -> Path:
    """Write ``adapted`` to ``path`` (``checkpoints.save``): the whole merged model for finetune and
    replay, an adapter checkpoint for lora and embedding. ``base_path``: the checkpoint ``adapted.base``
    was loaded from, named in the file by its sha256 and path."""
    out, model = Path(path), adapted.model
    record, base = _record(adapted), _base_record(adapted, base_path, Path(path))
    extra = {"seed": adapted.config.seed, "seconds": adapted.seconds}
    if adapted.method in WHOLE_METHODS:
        weights = {k: net.state_dict() for k, net in _networks(model).items()}
        payload = checkpoints.payload(model.name, model.recipe.to_dict(), model.step, weights,
                                      extra={"kind": model.kind, **extra, "adapted": {**record, "base": base}})
    else:
        payload = checkpoints.payload(model.name, record, adapted.config.steps, {"adapter": adapt.adapter_state(adapted.grown)},
                                      extra={"kind": ADAPTER_KIND, **extra, "base": base})
    return checkpoints.save(out, payload)


# ----------------------------------------------------------------------------- reading an adapter back
def is_adapter(ckpt: dict[str, Any]) -> bool:
    """Whether a checkpoint's contents (``checkpoints.load_run``) are an adapter, not a whole model."""
    extra = ckpt.get("extra")
    return isinstance(extra, dict) and extra.get("kind") == ADAPTER_KIND


def find_base(path: str | os.PathLike[str], ckpt: dict[str, Any], base: str | os.PathLike[str] | None = None) -> Path:
    """The base checkpoint of the adapter at ``path``: ``base`` if given, else its recorded path
    relative to the adapter's folder, else as recorded. ``CheckpointError`` when it is missing or its
    sha256 is not the one the adapter was made from."""
    info = ckpt["extra"].get("base")
    if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
        raise checkpoints.CheckpointError(f"{path} is an adapter checkpoint that does not name its base (no sha256)")
    want = info["sha256"]
    if base is not None:
        if not Path(base).is_file():
            raise checkpoints.CheckpointError(f"base checkpoint {base} {'is a folder, not a file' if Path(base).is_dir() else 'does not exist'}")
        candidates = [Path(base)]
    else:
        folder = Path(path).parent
        candidates = [Path(os.path.normpath(folder / info["relative"]))] if info.get("relative") else []
        candidates += [Path(info["path"])] if info.get("path") else []
    found = [c for c in dict.fromkeys(candidates) if c.is_file()]
    for c in found:
        if checkpoints.sha256(c) == want:
            return c
    if found:
        raise checkpoints.CheckpointError(f"{path} was adapted from a base with sha256 {want[:12]}..., but {found[0]} has "
                                          f"{checkpoints.sha256(found[0])[:12]}...: pass the checkpoint it was adapted from")
    looked = " or ".join(str(c) for c in dict.fromkeys(candidates)) or "nowhere"
    raise checkpoints.CheckpointError(f"{path} is an adapter of {info.get('model', 'a model')} (sha256 {want[:12]}...), whose "
                                      f"checkpoint is missing: looked for {looked}; pass it with --base PATH")


def _load_trained(grown: nn.Module, state: Any) -> None:
    """Copy an adapter's tensors into ``grown``'s trainable parameters: names and shapes must match exactly."""
    params = {name: p for name, p in grown.named_parameters() if p.requires_grad}
    if not isinstance(state, dict) or set(state) != set(params):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"its tensors {got} are not the ones this method trains ({sorted(params)})")
    with torch.no_grad():
        for name, p in params.items():
            if not isinstance(state[name], torch.Tensor) or state[name].shape != p.shape:
                raise ValueError(f"tensor {name} has shape {tuple(getattr(state[name], 'shape', ()))}, expected {tuple(p.shape)}")
            p.copy_(state[name])


def apply_adapter(base: TrainedModel, ckpt: dict[str, Any], path: str | os.PathLike[str],
                  base_path: str | os.PathLike[str] | None = None) -> TrainedModel:
    """The model an adapter checkpoint (read from ``path``) makes of ``base`` (read from ``base_path``):
    grow it by the recorded class or language, set it up for the method (``adapt.prepare``), load the
    adapter's tensors and merge. ``CheckpointError`` when the adapter does not fit ``base``."""
    try:
        config, new = ckpt["config"], ckpt["config"].get("new_class", ckpt["config"].get("new_language"))
        _check_new(base, new)
        shots = None
        if isinstance(base, TrainedVAE):
            grown: nn.Module = adapt.add_class(base.vae)
        else:
            grown = adapt.add_language(base.model)  # type: ignore[attr-defined]
            shots = adapt.few_names(base.data.vocab, base.num_classes, int(config["examples"]), new, int(config["seed"]))  # type: ignore[attr-defined]
        rank = int(config.get("rank") or 1)  # lora's rank; the others add no adapters
        adapt.prepare(grown, config["method"], rank, torch.Generator().manual_seed(0))  # A is drawn, then overwritten
        _load_trained(grown, ckpt["weights"]["adapter"])
        model = _wrap(base, adapt.merge_classes(grown), new, name=str(ckpt["model"]), seed=int(ckpt["extra"].get("seed", 0)),
                      step=base.step + int(ckpt["step"]), shots=shots)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise checkpoints.CheckpointError(f"{path} is not a usable adapter of {base.name} ({type(e).__name__}: "
                                          f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    model.history.seconds = float(ckpt["extra"].get("seconds", 0.0))
    info = ckpt["extra"]["base"]
    set_adapted_from(model, {"method": config["method"], "model": info.get("model"), "sha256": info["sha256"],
                             "checkpoint": None if base_path is None else str(base_path)})
    return model


def set_adapted_from(model: TrainedModel, record: dict[str, Any]) -> None:
    """Note on ``model`` what it was adapted from (its base's name, sha256, the method): ``adapted_from`` reads it."""
    model.adapted_from = dict(record)  # type: ignore[attr-defined]


def adapted_from(model: TrainedModel) -> dict[str, Any] | None:
    """What ``model`` was adapted from when it came from an adapter or adapted checkpoint (base model,
    its checkpoint and sha256, the method), else None: for the provenance of what it makes."""
    record = getattr(model, "adapted_from", None)
    return dict(record) if isinstance(record, dict) else None
