"""Exercise checks: instant, specific feedback in the learner's terms.

An exercise notebook calls ``checks.<exercise>(its_function)``. The check tries the learner's
code on small inputs (its probe) and judges what it saw (its judge), then prints one
"✅ Exercise N.k (title): passed" line, or one "⏳ ... not attempted yet" line while the code
still raises ``NotImplementedError``, or raises ``CheckFailed`` with one line that says what is
wrong, shown in Jupyter as one red line (the protocol: ``_protocol``). ``EXERCISES`` maps every check's name to its label, in lesson order;
``REGISTRY`` to its ``Exercise``, whose ``probe(fn)`` returns the observations (plain data,
``observations``) and ``verdict(observations)`` the judge's ``Verdict``: the grader runs the two
in different processes.

One module per lesson group:

    mixtures       1.1-1.2     sampling a mixture of Gaussians, its log density
    gan            2.1-3.2     the MLP generator and discriminator
    gan_losses     4.1-4.3     the GAN losses as functions of the logits
    steps          5.1-5.3     a discriminator step with R1, a generator step that spares D's weights, k D steps per G step
    conv           6.1-6.3     a transposed convolution's size, an upsample+conv generator, an all-conv discriminator
    conditional    7.1-7.3     the label as image channels, a label embedding in G, the logits for every label
    vae            8.1-8.3     k reparameterized draws per example, the KL between two diagonal Gaussians, a conditional encoder
    text           9.1-9.2     the bigram table, nucleus (top-p) sampling with a temperature
    attention      9.3         the causal attention mask, with a sliding window
    diffusion      10.1        the forward process
    denoising      10.2-10.3   one reverse step, classifier-free guidance in one batched call
    evaluation     11.1-11.2   k-NN radii within each class, precision and coverage
    audit          11.3-11.4   a two-sided exact p-value, flagging copies by relative distance
    data_parallel  12.1-12.2   one process's shard of the batch, the all-reduce of gradients
    accumulation   12.3        gradient accumulation over unequal micro-batches
    resume         12.4-12.5   saving the training state, resuming exactly with a new learning rate
    safety         13.1-13.2   checking a manifest of hashes, a restricted unpickler
    adaptation     14.1-14.3   a LoRA adapter for an embedding, one column trained in place, a batch mixed with replay
    serving        15.1-15.3   a token bucket on an injected clock, the dynamic batcher simulated, what a key's scopes allow
    flow           16.1-16.3   Heun's method for the flow's ODE, the exact velocity field of a few points, paths that never cross in 1D

``observations`` keeps what a probe saw as plain data (records of the learner's values) and
carries it between processes as JSON and ``.npy`` files. ``_layers`` (which layers a network ran:
lessons 06-07), ``_vae_slips`` and ``_vae_nets`` (lesson 08's typical mistakes, what 8.3 records),
``_bigram`` and ``_nucleus`` (lesson 09's table, 9.2's cases), ``_schedules``
(what the diffusion checks share), ``_guidance`` (10.3's recording network), ``_balls`` (lesson
11's distances and balls), ``_nets`` (lesson 12's small networks), ``_pickles`` (lesson 13's
crafted files), ``_reads`` (how 13.1's files are read), ``_adapt_cases`` (lesson 14's inputs),
``_serve_cases`` (lesson 15's inputs, the batcher's simulation and the slips it names) and
``_flow_cases`` (lesson 16's inputs, its references in float64 and the slips they name) serve the
modules beside them, like ``_protocol``.
"""

from __future__ import annotations

from ._protocol import EXERCISES, REGISTRY, CheckFailed, Exercise, OutOfTime, Verdict

# in lesson order: importing a module registers its checks in EXERCISES, in this order
from .mixtures import mixture_log_prob, sample_ring8
from .gan import discriminator_accuracy, generate, make_discriminator, make_generator
from .gan_losses import discriminator_loss, gradient_penalty, nonsaturating_g_loss
from .steps import d_step, g_step, train_loop
from .conv import make_conv_discriminator, make_conv_generator, transposed_conv_size
from .conditional import append_label, make_conditional_generator, projection_logits
from .vae import gaussian_kl, make_conditional_encoder, reparameterize
from .text import bigram_log_probs, sample_next
from .attention import causal_attention
from .diffusion import q_sample
from .denoising import guided_eps, reverse_step
from .evaluation import knn_radii, precision_coverage
from .audit import two_sided_p_value, flag_copies
from .data_parallel import all_reduce_mean, shard
from .accumulation import accumulate_gradients
from .resume import restore_state, save_state
from .safety import check_manifest, safe_load
from .adaptation import freeze_except_column, lora_embedding, mixed_batch
from .serving import allowed, gather_batches, token_bucket
from .flow import exact_velocity, heun_sample, uncross_1d

__all__ = [
    "CheckFailed", "EXERCISES", "REGISTRY", "Exercise", "OutOfTime", "Verdict",
    "sample_ring8", "mixture_log_prob", "make_generator", "generate", "make_discriminator", "discriminator_accuracy",
    "discriminator_loss", "nonsaturating_g_loss", "gradient_penalty", "d_step", "g_step", "train_loop",
    "transposed_conv_size", "make_conv_generator", "make_conv_discriminator",
    "append_label", "make_conditional_generator", "projection_logits",
    "reparameterize", "gaussian_kl", "make_conditional_encoder",
    "bigram_log_probs", "sample_next", "causal_attention",
    "q_sample", "reverse_step", "guided_eps",
    "knn_radii", "precision_coverage", "two_sided_p_value", "flag_copies",
    "shard", "all_reduce_mean", "accumulate_gradients", "save_state", "restore_state",
    "check_manifest", "safe_load", "lora_embedding", "freeze_except_column", "mixed_batch",
    "token_bucket", "gather_batches", "allowed", "heun_sample", "exact_velocity", "uncross_1d",
]
