"""The drawings of named structures: a network traced from its real forward pass, the GAN step, conditioning."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

from genai_course import gan, models, widgets


def _ax():
    return Figure().add_subplot()


def test_trace_records_every_layer_with_its_shapes():
    G = gan.Generator(gan.GeneratorConfig())
    layers = widgets.trace_layers(G, torch.randn(5, 2))
    assert [l.text for l in layers] == ["Linear 2→128", "ReLU", "Linear 128→128", "ReLU", "Linear 128→128", "ReLU",
                                        "Linear 128→2"]
    assert layers[0].in_shape == (2,) and layers[-1].out_shape == (2,)
    assert [l.params for l in layers[:2]] == [2 * 128 + 128, 0]
    assert [l.passing for l in layers[:2]] == [False, True]
    assert layers[0].fed_by == "input 0" and all(l.fed_by == "previous" for l in layers[1:])


def test_trace_sees_the_reshape_and_the_concatenation_forward_does_itself():
    model = models.build("cgan-digits", seed=0)
    layers = widgets.trace_layers(model.G, torch.randn(3, model.G.z_dim), torch.tensor([0, 1, 2]))
    assert layers[0].fed_by == "forward"  # z and one_hot(y) concatenated in forward()
    assert layers[0].in_shape == (model.G.z_dim + 10,)
    convs = [l for l in layers if l.text.startswith("ConvTranspose2d")]
    assert convs[0].fed_by == "reshaped in forward()" and len(convs[0].in_shape) == 3  # (C, 2, 2): reshaped from a vector
    assert layers[-1].out_shape == (1, 8, 8)


def test_trace_ends_with_what_forward_returns_when_forward_combines_layers():
    model = models.build("cgan-digits", seed=0)
    layers = widgets.trace_layers(model.D, torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 2]))
    embed = next(l for l in layers if l.text.startswith("Embedding"))
    assert embed.fed_by == "input 1"
    assert layers[-1].text == "combined in forward()" and layers[-1].out_shape == ()


def test_trace_runs_without_gradients_in_eval_mode_and_gives_the_mode_back():
    model = models.build("dcgan-digits", seed=0)
    G = model.G.train()
    before = [b.clone() for b in G.buffers()]
    widgets.trace_layers(G, torch.randn(4, G.z_dim))
    assert G.training
    assert all(torch.equal(a, b) for a, b in zip(before, G.buffers()))  # batch norm's running stats untouched
    assert all(p.grad is None for p in G.parameters())


@pytest.mark.parametrize("net, inputs, message", [
    ("not a net", (torch.randn(2, 2),), "net must be a torch.nn.Module such as a generator or discriminator (got str)"),
    (gan.Generator(gan.GeneratorConfig()), (), "draw_network needs an example input"),
    (gan.Generator(gan.GeneratorConfig()), (torch.randn(4, 3),), "could not run Generator on inputs of shape (4, 3)"),
])
def test_bad_arguments_say_what_is_wrong(net, inputs, message):
    with pytest.raises((TypeError, ValueError), match=None) as err:
        widgets.draw_network(net, *inputs, ax=_ax())
    assert message in str(err.value)


def test_draw_network_draws_one_box_per_weighted_layer_and_the_shapes():
    model = models.build("dcgan-digits", seed=0)
    ax = widgets.draw_network(model.G, torch.randn(2, model.G.z_dim), ax=_ax(), title="G")
    texts = [t.get_text() for t in ax.texts]
    boxes = [t for t in texts if t.split("  ")[0].startswith(("Linear", "ConvTranspose2d"))]
    assert len(boxes) == 3  # batch norms and activations ride in their layer's box
    assert any("+ BatchNorm2d + ReLU" in t for t in boxes)
    assert "output (1, 8, 8)" in texts and "(48, 4, 4)" in texts and "reshaped in forward()" in texts


def test_step_and_conditioning_diagrams_say_where_gradients_and_labels_go():
    texts = [t.get_text() for t in widgets.draw_gan_step(ax=_ax()).texts]
    assert "fake\n.detach()" in texts and "gradient stops here" in texts and "weights not stepped" in texts
    texts = [t.get_text() for t in widgets.draw_conditioning(ax=_ax()).texts]
    assert "one_hot(y)" in texts and "⟨embed(y), h⟩" in texts and "concat" in texts


def test_trace_tells_a_view_of_the_input_from_a_new_tensor():
    plain = widgets.trace_layers(gan.Discriminator(gan.DiscriminatorConfig()), torch.randn(4, 2))
    packed = widgets.trace_layers(gan.Discriminator(gan.DiscriminatorConfig(pack=2)), torch.randn(4, 2))
    assert plain[0].fed_by == "input 0" and plain[0].in_shape == (2,)
    assert packed[0].fed_by == "input 0, reshaped in forward()" and packed[0].in_shape == (4,)
    assert plain[-1].out_shape == packed[-1].out_shape == ()  # forward() squeezes the last layer's (1,)
    assert plain[-1].text == "reshaped in forward()"  # a view of the last layer's output, not a new tensor


def test_a_layer_that_reads_another_input_is_drawn_as_a_branch():
    model = models.build("cgan-digits", seed=0)
    ax = widgets.draw_network(model.D, torch.rand(2, 1, 8, 8), torch.tensor([3, 7]), ax=_ax())
    texts = [t.get_text() for t in ax.texts]
    assert "inputs (1, 8, 8) and (): one number each" in texts
    assert "input 1: one number each" in texts  # the label's own box beside the embedding
    assert "from input 1" not in texts
