"""The style-transfer losses and the converge rule against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gansearch.style.losses import content_loss, gram, relative_sq_error, style_loss, tv_loss
from gansearch.style.records import converge_step


def test_gram_of_a_constant_map_is_c2_over_channels() -> None:
    c, h, w, v = 3, 4, 5, 2.5
    g = gram(torch.full((2, c, h, w), v))
    assert g.shape == (2, c, c)
    torch.testing.assert_close(g, torch.full((2, c, c), v * v / c))


def test_gram_of_disjoint_channels_is_diagonal() -> None:
    f = torch.tensor([[[[3.0, 0.0]], [[0.0, 2.0]]]])  # (1, 2, 1, 2): channel 0 = [3, 0], channel 1 = [0, 2]
    torch.testing.assert_close(gram(f), torch.tensor([[[9.0, 0.0], [0.0, 4.0]]]) / (2 * 1 * 2))


def test_gram_matches_its_definition() -> None:
    f = torch.randn(2, 6, 3, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = torch.einsum("bchw,bdhw->bcd", f, f) / (6 * 3 * 7)
    torch.testing.assert_close(gram(f), expected)
    assert torch.allclose(gram(f), gram(f).transpose(1, 2))
    assert torch.linalg.eigvalsh(gram(f)).min() > -1e-12  # positive semi-definite


def test_relative_error_is_scale_free() -> None:
    t = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(relative_sq_error(torch.zeros_like(t), t)) == pytest.approx(1.0)
    assert float(relative_sq_error(t, t)) == 0.0
    assert float(relative_sq_error(2 * t, t)) == pytest.approx(1.0)
    x = torch.randn_like(t)
    assert float(relative_sq_error(7 * x, 7 * t)) == pytest.approx(float(relative_sq_error(x, t)))


def test_content_and_style_losses_average_layers() -> None:
    t = {"a": torch.ones(1, 2, 3, 3), "b": torch.full((1, 4, 2, 2), 2.0)}
    half = {"a": t["a"] * 0.5, "b": t["b"]}  # layer a off by half: relative error 0.25; b exact
    assert float(content_loss(half, t)) == pytest.approx(0.125)
    grams = {k: gram(v) for k, v in t.items()}
    assert float(style_loss(t, grams)) == 0.0
    assert float(style_loss({k: torch.zeros_like(v) for k, v in t.items()}, grams)) == pytest.approx(1.0)
    # Gram of 0.5 * f is 0.25 * G: relative error (0.75)^2 on layer a, 0 on b
    assert float(style_loss(half, grams)) == pytest.approx(0.75 ** 2 / 2)


def test_total_variation_closed_forms() -> None:
    assert float(tv_loss(torch.full((1, 3, 5, 5), 0.3))) == 0.0
    ramp = torch.arange(6.0).expand(1, 3, 4, 6)  # +1 per column, constant down the rows
    assert float(tv_loss(ramp)) == pytest.approx(1.0)
    i, j = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    checker = ((i + j) % 2 * 2 - 1).float().expand(1, 3, 4, 4)  # ±1: every neighbour differs by 2
    assert float(tv_loss(checker)) == pytest.approx(8.0)


def test_converge_step_is_the_first_step_within_tolerance_of_the_end() -> None:
    steps = [0, 10, 20, 30, 40]
    assert converge_step(steps, [5.0, 2.0, 1.05, 1.01, 1.0], 0.02) == 30
    assert converge_step(steps, [5.0, 2.0, 1.05, 1.01, 1.0], 0.1) == 20
    assert converge_step(steps, [1.0, 1.0, 3.0, 1.0, 1.0], 0.02) == 30  # left and came back: from its return
    assert converge_step(steps, [5.0, 4.0, 3.0, 2.0, 1.0], 0.02) == 40  # still moving: only the last
    assert converge_step(steps, [1.0, 1.0, 1.0, 1.0, math.inf], 0.02) is None
    assert converge_step([], [], 0.02) is None
