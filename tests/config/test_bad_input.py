"""Malformed space files: each ends in exit 2 and ONE line naming the field — never a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from checks import assert_one_line_error, run_cli
from gansearch.cli.main import main

GOOD = """
data: {name: digits, image_size: 16}
train: {steps: 10}
space:
  lr_g: {type: loguniform, low: 1e-5, high: 1e-2, default: 2e-4}
  balance: {type: categorical, choices: [none, n_critic], default: none}
  n_critic: {type: int, low: 1, high: 5, when: {balance: n_critic}}
"""

# (id, yaml text, the field path the one line must start with, a word of the rule)
CASES: list[tuple[str, str, str, str]] = [
    ("unknown-top-key", "dta: {name: digits}", "dta", "unknown key"),
    ("unknown-section-key", "train: {stepz: 10}", "train.stepz", "unknown key"),
    ("unknown-dist-key", "space: {lr_g: {type: uniform, low: 0.1, high: 0.2, hi: 3}}", "space.lr_g.hi", "unknown key"),
    ("steps-string", "train: {steps: ten}", "train.steps", "integer"),
    ("steps-float", "train: {steps: 10.5}", "train.steps", "integer"),
    ("steps-zero", "train: {steps: 0}", "train.steps", "greater than or equal"),
    ("batch-negative", "train: {batch_size: -4}", "train.batch_size", "greater than or equal"),
    ("steps-bool", "train: {steps: true}", "train.steps", "integer"),
    ("section-not-mapping", "train: 5", "train", "mapping"),
    ("top-not-mapping", "- a\n- b", "(top level)", "mapping"),
    ("bad-precision", "train: {precision: fp8}", "train.precision", "'auto', 'fp32' or 'bf16'"),
    ("bad-device", "train: {device: tpu}", "train.device", "auto, cpu"),
    ("low-gt-high", "space: {lr_g: {type: loguniform, low: 1e-2, high: 1e-5}}", "space.lr_g.low", "< high"),
    ("log-low-zero", "space: {lr_g: {type: loguniform, low: 0, high: 1e-2}}", "space.lr_g.low", "> 0"),
    ("default-outside", "space: {lr_g: {type: uniform, low: 0.1, high: 0.2, default: 0.5}}", "space.lr_g.default", "[low, high]"),
    ("missing-high", "space: {lr_g: {type: uniform, low: 0.1}}", "space.lr_g.high", "must be given"),
    ("unknown-dist-type", "space: {lr_g: {type: normal, low: 0.1, high: 0.2}}", "space.lr_g.type", "loguniform"),
    ("unknown-param", "space: {learning_rate: 0.001}", "space.learning_rate", "known hyperparameter"),
    ("param-out-of-range", "space: {beta1: 1.5}", "space.beta1", "[0, 1)"),
    ("param-wrong-type", "space: {lr_g: fast}", "space.lr_g", "number"),
    ("when-missing-param", "space: {n_critic: {type: int, low: 1, high: 5, when: {balance: n_critic}}}", "space.n_critic.when.balance", "another parameter"),
    ("when-impossible-value", "space: {balance: {type: categorical, choices: [none, ttur]}, n_critic: {type: int, low: 1, high: 5, when: {balance: n_critic}}}", "space.n_critic.when.balance", "value balance can take"),
    ("unknown-loss", "space: {loss: wasserstein}", "space.loss", "non_saturating, hinge"),
    ("unknown-loss-choice", "space: {loss: {type: categorical, choices: [hinge, bce]}}", "space.loss.choices[1]", "non_saturating"),
    ("unknown-strategy", "space: {balance: two_timescale}", "space.balance", "n_critic"),
    ("int-param-float-dist", "space: {n_critic: {type: uniform, low: 1, high: 5}}", "space.n_critic.type", "int or categorical"),
    ("empty-choices", "space: {loss: {type: categorical, choices: []}}", "space.loss.choices", "non-empty"),
    ("unknown-dataset", "data: {name: imagenet}", "data.name", "digits, mnist"),
    ("bad-image-size", "data: {name: digits, image_size: 28}", "data.image_size", "16, 32, 64, 128"),
    ("missing-data-root", "data: {name: mnist, root: /nonexistent/mnist}", "data.root", "existing folder"),
    ("mlp-on-images", "data: {name: digits}\nmodel: {name: mlp}", "model.name", "auto or one of dcgan, msg, progressive"),
    ("unknown-model", "model: {name: stylegan}", "model.name", "auto, dcgan, msg, progressive, mlp, pacgan_mlp"),
    ("searched-model-on-points", "data: {name: ring8}\nspace: {model: {type: categorical, choices: [mlp, msg]}}",
     "space.model.choices", "auto or one of mlp, pacgan_mlp for the 2D dataset"),
    ("model-named-and-searched", "model: {name: dcgan}\nspace: {model: {type: categorical, choices: [dcgan, msg]}}",
     "space.model", "must not be searched when model.name is set"),
    ("msg-with-depth", "model: {name: msg, depth: 1}", "model.depth", "must be 0 for msg and progressive"),
    ("progressive-compiled", "model: {name: progressive}\ntrain: {compile: true}", "train.compile",
     "must be false for progressive"),
    ("fade-in-over-1", "space: {fade_in: 1.5}", "space.fade_in", "[0, 1]"),
    ("unknown-feature-net", "eval: {feature_net: clip}", "eval.feature_net", "auto, classifier"),
    ("missing-inception-file", "eval: {inception_weights: /nonexistent/pt_inception.pth}", "eval.inception_weights", "existing weights file"),
    ("kid-subset-too-big", "eval: {num_samples: 100, kid_subset_size: 500}", "eval.kid_subset_size", "<= eval.num_samples"),
]


@pytest.mark.parametrize("case_id,text,field,rule", CASES, ids=[c[0] for c in CASES])
def test_bad_space_file_is_one_line_exit_2(tmp_path: Path, capsys, case_id: str, text: str, field: str, rule: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(textwrap.dedent(text))
    err = assert_one_line_error(path, capsys, field, rule)
    assert "Traceback" not in err


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 20


def test_several_problems_give_one_line_each(tmp_path: Path, capsys) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("train: {steps: 0, batch_size: x}\neval: {every: 0}\n")
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert code == 2
    assert sorted(line.split(":")[0] for line in err.splitlines()) == ["eval.every", "train.batch_size", "train.steps"]
    path.write_text("space: {beta1: 2, lr_g: -1, loss: bce}\n")
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert sorted(line.split(":")[0] for line in err.splitlines()) == ["space.beta1", "space.loss", "space.lr_g"]


@pytest.mark.parametrize(
    "raw,field",
    [(b"train: {steps: 10\n", "space.yaml"), (b"\xff\xfe\x00bad", "space.yaml"), (b"a: [1, 2\n", "space.yaml")],
    ids=["unclosed-brace", "not-utf8", "unclosed-list"],
)
def test_unparseable_files(tmp_path: Path, capsys, raw: bytes, field: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_bytes(raw)
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and field in err, err


def test_missing_file(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["validate", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "must exist" in err


def test_bad_override(tmp_path: Path, capsys) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(GOOD)
    code, _, err = run_cli(["validate", str(path), "--set", "train.steps=-1"], capsys)
    assert code == 2 and err.startswith("train.steps:"), err
    code, _, err = run_cli(["validate", str(path), "--set", "nonsense"], capsys)
    assert code == 2 and err.startswith("--set:"), err


def test_good_file_resolves_conditional_params(tmp_path: Path, capsys) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(GOOD)
    code, out, _ = run_cli(["validate", str(path)], capsys)
    assert code == 0
    assert "n_critic: 3" not in out.split("resolved_params:")[1]  # balance defaults to none: n_critic inactive
    code, out, _ = run_cli(["validate", str(path), "--set", "balance=n_critic"], capsys)
    assert code == 0 and "n_critic: 3" in out.split("resolved_params:")[1]


def test_real_process_no_traceback_and_no_torch(tmp_path: Path) -> None:
    """In a real process: exit 2, one line, and validation never imported torch."""
    path = tmp_path / "space.yaml"
    path.write_text("space: {lr_g: {type: loguniform, low: 1e-2, high: 1e-5}}\n")
    probe = (
        "import sys\nfrom gansearch.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nfinally:\n    print('torch' in sys.modules, file=sys.stdout)\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("space.lr_g.low:"), res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize("char", ["\u0085", "\u2028", "\r"])
def test_regression_a_key_with_a_line_break_character_stays_one_line(char: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """Found by the property test: a key holding NEL (U+0085) or LINE SEPARATOR (U+2028) split one error
    over two lines, since str.splitlines() breaks there. The key is now escaped in the message."""
    space = tmp_path / "s.yaml"
    escaped = char.encode("unicode_escape").decode().replace("\\x", "\\u00")  # written as a YAML escape (\uXXXX, \r)
    space.write_text(f'train: {{"step{escaped}s": 10}}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["validate", str(space)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.splitlines()) == 1 and err.count("\n") == 1, repr(err)
    assert err.startswith("train.step") and "unknown key" in err and char not in err


def test_regression_qmc_draws_depend_on_search_seed() -> None:
    """Found by the property test: Optuna's QMCSampler is unscrambled by default, so search.seed changed
    nothing and every qmc study drew the same points. gansearch scrambles it."""
    import optuna

    from gansearch.config import load
    from gansearch.search.plan import SAMPLERS
    from gansearch.search.space import define_by_run

    cfg = load(Path(__file__).resolve().parents[2] / "search_spaces" / "digits.yaml")
    draws = []
    for seed in (0, 0, 1):
        study = optuna.create_study(sampler=SAMPLERS["qmc"](seed, 1, 8))
        fn = define_by_run(cfg.space)
        points = []
        for _ in range(4):
            t = study.ask()
            fn(t)
            points.append(t.params["lr_g"])
            study.tell(t, 1.0)
        draws.append(points)
    # the first trial is Optuna's independent (random) draw in any case; the QMC points are the rest
    assert draws[0] == draws[1] and draws[0][1:] != draws[2][1:]  # the same seed repeats, another seed differs
