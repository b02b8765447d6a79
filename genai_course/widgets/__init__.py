"""Pictures and widgets for exploring the course's models in a notebook.

Lessons call them as ``widgets.NAME``; each lives in the module of its family:

- ``points``: the 2D GANs of lessons 01-05. ``plot_points`` (samples over the true density),
  ``plot_decision`` (D's decision surface), ``training_scrubber``, ``latent_explorer``.
- ``digits``: the 8x8 digits of lessons 06-07. ``show_digits`` (a grid), ``digit_scrubber``,
  ``digit_picker`` (ask for a class, move through latent space), ``interpolation``.
- ``vae``: lesson 08. ``latent_traversal``, ``latent_map``, ``reconstructions`` and the still
  ``show_reconstructions``.
- ``text``: lesson 09. ``name_generator``, ``next_char_explorer`` and the still ``plot_next_char``.
- ``diffusion``: lesson 10's reverse process. ``reverse_scrubber``, ``plot_reverse_process``.
- ``guidance``: lesson 10's classifier-free guidance. ``guidance_slider``, ``plot_guidance``.
- ``adapt``: lesson 14. ``adaptation_picker`` (each way of teaching a model a new class: its
  new-class samples beside its old-class samples).
- ``serving``: lesson 15. ``draw_door`` (a request's path through the server's checks),
  ``draw_png_chunks`` and ``png_chunks`` (a signed PNG), ``draw_batching_timeline`` and
  ``batching_timeline`` (the batcher simulated), and ``request_panel`` (send a request to a
  running server by hand).
- ``flow``: lesson 16's flow matching. ``plot_paths`` (noise-to-sample paths and their straightness),
  ``plot_velocity_field``, ``calls_scrubber`` (samples by network calls per sample) and the still
  ``plot_calls``.
- ``diagrams``: the structures lessons name, drawn: ``draw_network`` (a network's layers, traced from
  one forward pass by ``trace_layers``), ``draw_gan_step`` (lesson 05), ``draw_conditioning`` (lesson 07).

Under them, ``_draw`` (private to this package) holds what more than one family draws with.
Widget figures are drawn with matplotlib's Agg canvas (never pyplot), rendered to PNG bytes
and shown in an ``ipywidgets.Image``, so nothing leaks into a notebook's inline backend and a
test can see the picture change. The still pictures draw on any matplotlib ``Axes`` (or
``Figure``), or on a new pyplot figure for the notebook to show. ipywidgets is imported only
when a widget is built, and importing this package runs nothing. A widget that runs a network
puts it in eval mode (batch norm uses its running statistics) and gives it back in the mode it
was in.
"""

from __future__ import annotations

from .adapt import adaptation_picker
from .diagrams import draw_conditioning, draw_gan_step, draw_network, trace_layers
from .diffusion import plot_reverse_process, reverse_scrubber
from .digits import digit_picker, digit_scrubber, interpolation, show_digits
from .flow import calls_scrubber, plot_calls, plot_paths, plot_velocity_field
from .guidance import guidance_slider, plot_guidance
from .serving import batching_timeline, draw_batching_timeline, draw_door, draw_png_chunks, png_chunks, request_panel
from .points import latent_explorer, plot_decision, plot_points, training_scrubber
from .text import name_generator, next_char_explorer, plot_next_char
from .vae import latent_map, latent_traversal, reconstructions, show_reconstructions

__all__ = [
    "plot_points", "plot_decision", "training_scrubber", "latent_explorer",
    "show_digits", "digit_scrubber", "digit_picker", "interpolation",
    "latent_traversal", "latent_map", "show_reconstructions", "reconstructions",
    "name_generator", "next_char_explorer", "plot_next_char",
    "reverse_scrubber", "plot_reverse_process", "guidance_slider", "plot_guidance",
    "trace_layers", "draw_network", "draw_gan_step", "draw_conditioning",
    "adaptation_picker", "draw_door", "draw_png_chunks", "png_chunks", "batching_timeline", "draw_batching_timeline",
    "request_panel", "plot_paths", "plot_velocity_field", "calls_scrubber", "plot_calls",
]
