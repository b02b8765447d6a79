"""Keep learning (lesson 14): teach a trained generator a class it never saw, without starting over.

A model trained on some classes meets a few examples of a new one. Four ways to adapt it, each
cheaper than retraining from scratch on everything, each with its own cost in forgetting:

* ``finetune``: train every weight on the new examples;
* ``replay``: the same, mixed with the model's own samples of the old classes;
* ``lora``: freeze the trained weights and train low-rank adapters (LoRA) on the linear layers,
  plus the new class's input column;
* ``embedding``: train only the new class's column (an embedding row): old classes cannot change.

The rooms: ``lora`` (the low-rank adapter, adding and merging it), ``new_class`` (one more
label column or embedding row, and folding everything back into plain layers), ``methods``
(what each method trains and stores), ``digits`` (a conditional VAE of 0-8 learns the 9s, and
the judge of new and old classes), ``names`` (the names model learns a new language). Every
public name is importable from ``genai_course.adapt``.
"""

from __future__ import annotations

from .digits import AdaptationReport, Adaptation, FewShot, adapt_vae, few_shot, judge_adaptation, replay_set, retrain_vae
from .lora import LoRALinear, add_lora, lora_parameter_count, merge_lora
from .methods import METHODS, AdaptConfig, adapter_state, check_method, prepare, state_bytes, trainable_parameters
from .names import NEW_LANGUAGE, FewNames, NamesAdaptation, NamesReport, adapt_names, few_names, judge_names, scratch_names
from .new_class import NewClassInput, NewRowEmbedding, add_class, add_language, check_network, merge_classes

__all__ = [
    "LoRALinear", "add_lora", "merge_lora", "lora_parameter_count",
    "NewClassInput", "NewRowEmbedding", "check_network", "add_class", "add_language", "merge_classes",
    "METHODS", "AdaptConfig", "check_method", "prepare", "trainable_parameters", "adapter_state", "state_bytes",
    "FewShot", "few_shot", "Adaptation", "replay_set", "adapt_vae", "retrain_vae", "AdaptationReport", "judge_adaptation",
    "NEW_LANGUAGE", "FewNames", "few_names", "NamesAdaptation", "adapt_names", "scratch_names", "NamesReport", "judge_names",
]
