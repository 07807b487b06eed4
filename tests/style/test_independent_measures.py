"""The net-free measures through the product's own path (Measure.score at measure_size, on scikit-learn's
photos: china.jpg in the style of flower.jpg): the content image beats the style image on the content
measures, the style image beats the content image on the style measures, and not only for the images
themselves: a noisy content image, a rearranged style image and a colour-only transfer are judged on the
axis each one moves."""

from __future__ import annotations

import textwrap

import pytest
import torch

from gansearch.config import load
from gansearch.style.measure import Measure

CONTENT = ("content_ssim", "content_edge_corr")  # higher is better
STYLE = ("style_swd_patch", "style_swd_colour")  # lower is better


@pytest.fixture(scope="module")
def measure(tmp_path_factory: pytest.TempPathFactory) -> Measure:
    space = tmp_path_factory.mktemp("photos") / "style.yaml"
    space.write_text(textwrap.dedent("""
        task: style_transfer
        style: {content: "sklearn:china.jpg", style: "sklearn:flower.jpg", measure_size: 32}
        train: {steps: 4, seed: 0}
        space: {image_size: 32}
        """))
    return Measure(load(space).style, torch.device("cpu"))


def histogram_match(src: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """src with each channel's values replaced by ref's, rank for rank (same pixel count): src's structure,
    ref's colour marginals — a colour-only "transfer"."""
    out = torch.empty_like(src)
    for c in range(src.shape[1]):
        out[0, c].view(-1)[src[0, c].flatten().argsort()] = ref[0, c].flatten().sort().values
    return out


def test_each_input_image_wins_on_its_own_axis(measure: Measure) -> None:
    on_content, on_style = measure.score(measure.content), measure.score(measure.style)
    for k in CONTENT:
        assert on_content[k] == pytest.approx(1.0, abs=1e-9) and on_style[k] < 0.3, (k, on_style[k])
    for k in STYLE:
        assert on_style[k] == 0.0 and on_content[k] > 0.02, (k, on_content[k])
    # the references every record carries are these very numbers
    noise = torch.rand(measure.content.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    base = measure.baselines(noise)
    assert {k: base[f"{k}_of_style"] for k in CONTENT} == {k: on_style[k] for k in CONTENT}
    assert {k: base[f"{k}_of_content"] for k in STYLE} == {k: on_content[k] for k in STYLE}
    assert all(base[f"{k}_of_noise"] < 0.2 for k in CONTENT)
    assert all(base[f"{k}_of_noise"] > 0.5 * on_content[k] for k in STYLE)


def test_degraded_or_rearranged_inputs_still_win(measure: Measure) -> None:
    on_content, on_style = measure.score(measure.content), measure.score(measure.style)
    g = torch.Generator().manual_seed(1)
    noisy = measure.content + 0.1 * torch.randn(measure.content.shape, generator=g)
    noisy_content = measure.score(noisy.clamp(-1, 1))
    for k in CONTENT:
        assert noisy_content[k] > on_style[k] + 0.5, (k, noisy_content[k], on_style[k])
    rolled = torch.roll(measure.style, shifts=(16, 16), dims=(2, 3))  # the style's own pixels, elsewhere
    rolled_style = measure.score(rolled)
    assert rolled_style["style_swd_colour"] == pytest.approx(0.0, abs=1e-12)
    assert rolled_style["style_swd_patch"] < 0.5 * on_content["style_swd_patch"], rolled_style


def test_a_colour_only_transfer_moves_colour_not_structure(measure: Measure) -> None:
    on_content, on_style = measure.score(measure.content), measure.score(measure.style)
    recoloured = measure.score(histogram_match(measure.content, measure.style))
    assert recoloured["style_swd_colour"] < 0.2 * on_content["style_swd_colour"], recoloured
    # mean-centred patches ignore the palette: the content's texture is still the content's
    assert recoloured["style_swd_patch"] > 0.8 * on_content["style_swd_patch"], recoloured
    for k in CONTENT:  # its edges are still the content image's
        assert recoloured[k] > on_style[k] + 0.3, (k, recoloured[k], on_style[k])
