"""Variational autoencoders on the 8x8 digits (lesson 08).

A VAE is a generator G(z) (the *decoder*) trained together with an *encoder* q(z | x) that
guesses which z made each image. Training maximises the evidence lower bound (ELBO):

    log p(x) >= ELBO(x) = E_{z ~ q(z|x)} [log p(x | z)] - KL(q(z | x) || p(z))

* q(z | x) = N(mu(x), diag exp(logvar(x))), p(z) = N(0, I): the KL term has a closed form.
* p(x | z) is a Bernoulli per pixel with probability sigmoid(logits(z)): for pixels in [0, 1],
  -log p(x | z) is the binary cross-entropy summed over the 64 pixels. The decoder returns
  logits; its *means* sigmoid(logits) in [0, 1] are the pictures shown as samples.
* The reparameterization trick z = mu + exp(logvar / 2) * eps, eps ~ N(0, I), makes the sample a
  differentiable function of mu and logvar, so gradients of E_q[...] reach the encoder.
* ``iwae_bound`` averages k importance weights inside the log: ELBO <= IWAE_k <= log p(x), and
  it tightens as k grows, which shows how far the ELBO sits below the likelihood.

A conditional VAE (``num_classes`` K > 0) gives both encoder and decoder the one-hot label:
q(z | x, y) and p(x | z, y). Asking the decoder for class y then draws a digit of class y.
All losses are in nats per image (summed over pixels, averaged over images).

The rooms: ``networks`` (the config, encoder, decoder, reparameterization and the VAE),
``objectives`` (the ELBO's terms and the IWAE bound), ``training`` (the loop, its snapshots
and the held-out report). Every public name is importable from ``genai_course.vae``.
"""

from __future__ import annotations

from .networks import VAE, Decoder, DecoderMeans, Encoder, VAEConfig, reparameterize
from .objectives import ELBO, bernoulli_nll, elbo, gaussian_kl, iwae_bound
from .training import SampleSnapshots, VAEHistory, VAEReport, VAETrainConfig, evaluate, make_optimizer, train_vae

__all__ = [
    "VAEConfig", "Encoder", "Decoder", "VAE", "DecoderMeans",
    "reparameterize", "gaussian_kl", "bernoulli_nll", "ELBO", "elbo", "iwae_bound",
    "VAETrainConfig", "VAEHistory", "SampleSnapshots", "make_optimizer", "train_vae", "VAEReport", "evaluate",
]
