"""Losses against closed forms; every LOSSES and BALANCE entry through one conformance check."""

from __future__ import annotations

import math

import pytest
import torch

from gansearch.config import names
from gansearch.config.hparams import defaults
from gansearch.trainer.balance import BALANCE, get_balance
from gansearch.trainer.losses import LOSSES, get_loss, gradient_penalty
from gansearch.errors import ConfigError


def test_tables_match_config_names() -> None:
    assert tuple(LOSSES) == names.LOSSES
    assert tuple(BALANCE) == names.BALANCE


def test_non_saturating_closed_form() -> None:
    loss = LOSSES["non_saturating"]
    zero = torch.zeros(8)
    assert loss.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    # -log sigmoid(2) - log(1 - sigmoid(-1)); the G loss is -log sigmoid(x)
    real, fake = torch.full((4,), 2.0), torch.full((4,), -1.0)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert loss.d_loss(real, fake).item() == pytest.approx(-math.log(sig(2)) - math.log(1 - sig(-1)), rel=1e-6)
    assert loss.g_loss(fake).item() == pytest.approx(-math.log(sig(-1)), rel=1e-6)
    # one-sided smoothing: target 0.9 for real only
    t = 0.9
    assert loss.d_loss(real, fake, t).item() == pytest.approx(
        -(t * math.log(sig(2)) + (1 - t) * math.log(1 - sig(2))) - math.log(1 - sig(-1)), rel=1e-6
    )


def test_hinge_lsgan_wgan_closed_forms() -> None:
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, -2.0])
    assert LOSSES["hinge"].d_loss(real, fake).item() == pytest.approx((0.5 + 0.0) / 2 + (0.5 + 0.0) / 2)
    assert LOSSES["hinge"].g_loss(fake).item() == pytest.approx(1.25)
    assert LOSSES["lsgan"].d_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 1) / 2 + 0.5 * (0.25 + 4) / 2)
    assert LOSSES["lsgan"].g_loss(fake).item() == pytest.approx(0.5 * (2.25 + 9) / 2)
    assert LOSSES["wgan_gp"].d_loss(real, fake).item() == pytest.approx(-1.25 - 1.25)
    assert LOSSES["wgan_gp"].gradient_penalty and not LOSSES["hinge"].gradient_penalty


def test_gradient_penalty_of_linear_critic_is_closed_form() -> None:
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5 everywhere, so the penalty is (5 - 1)^2 = 16
    gp = gradient_penalty(lambda x: x @ w, torch.randn(16, 2), torch.randn(16, 2), torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(16.0, rel=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_conformance(name: str) -> None:
    """D's loss falls as D separates better; G's falls as D is fooled; both are scalars with gradients."""
    loss = LOSSES[name]
    weak, strong = loss.d_loss(torch.zeros(8), torch.zeros(8)), loss.d_loss(torch.full((8,), 0.9), torch.full((8,), -0.9))
    assert strong.item() < weak.item()
    fooled, caught = loss.g_loss(torch.full((8,), 0.9)), loss.g_loss(torch.full((8,), -0.9))
    assert fooled.item() < caught.item()
    x = torch.zeros(4, requires_grad=True)
    loss.g_loss(x).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_loss_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="non_saturating, hinge, wgan_gp, lsgan"):
        get_loss("bce")


def _strategy(name: str, **kw):
    p = defaults() | {"balance": name} | kw
    return get_balance(p, total_steps=100)


@pytest.mark.parametrize("name", list(BALANCE))
def test_balance_conformance(name: str) -> None:
    s = _strategy(name)
    lr_g, lr_d = s.learning_rates()
    assert lr_g > 0 and lr_d > 0 and s.d_steps >= 1 and 0.5 <= s.real_target <= 1.0
    assert s.noise_std(0) >= s.noise_std(99) >= 0.0
    assert s.train_d(None) is True


def test_balance_behaviour() -> None:
    assert _strategy("ttur", lr_g=1e-4, ttur_ratio=4.0).learning_rates() == (1e-4, pytest.approx(4e-4))
    assert _strategy("none", lr_g=1e-4, lr_d=3e-4).learning_rates() == (1e-4, 3e-4)
    assert _strategy("n_critic", n_critic=5).d_steps == 5
    skip = _strategy("skip_d", d_threshold=0.3)
    assert skip.reads_d_loss and not skip.train_d(0.1) and skip.train_d(0.5)
    assert _strategy("label_smoothing", smoothing=0.2).real_target == pytest.approx(0.8)
    noise = _strategy("instance_noise", noise_std=0.2, noise_anneal_steps=50)
    assert noise.noise_std(0) == pytest.approx(0.2) and noise.noise_std(25) == pytest.approx(0.1) and noise.noise_std(60) == 0.0
    assert _strategy("none").noise_std(0) == 0.0 and not _strategy("none").reads_d_loss


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("real_target", [1.0, 0.9])
def test_chance_level_is_the_loss_where_d_cannot_tell(name: str, real_target: float) -> None:
    """rel_amplitude divides by each loss's value at D's undecided output (halfway between the fake and
    real targets: logit 0 for BCE, hinge and WGAN; raw output real_target / 2 for LSGAN), computed here
    through the loss functions themselves; None exactly where that value is 0."""
    loss = get_loss(name)
    mid = real_target / 2.0 if name == "lsgan" else 0.0
    out = torch.full((16, 1), mid)
    g_chance, d_chance = loss.chance(real_target)
    for chance, value in ((g_chance, float(loss.g_loss(out))), (d_chance, float(loss.d_loss(out, out, real_target)))):
        if chance is None:
            assert value == pytest.approx(0.0, abs=1e-7)
        else:
            assert value == pytest.approx(chance, rel=1e-6) and chance > 0
