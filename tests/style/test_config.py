"""Bad style-transfer space files: exit 2 and ONE line naming the field, the rule and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import assert_one_line_error, run_cli
from gansearch.config import load
from gansearch.config.metrics import headline, known_metrics
from gansearch.config.style import STYLE_HPARAMS

ROOT = Path(__file__).resolve().parents[2]


BASE = "task: style_transfer\nstyle: {content: sklearn:china.jpg, style: sklearn:flower.jpg}\n"
# (id, yaml text, the field path the one line starts with, a piece of the rule)
CASES = [
    ("no-style-section", "task: style_transfer\n", "style", "must be set for task style_transfer"),
    ("style-without-task", "style: {content: sklearn:china.jpg, style: sklearn:flower.jpg}\n", "style",
     "must be unset for task gan"),
    ("unknown-task", "task: texture\n", "task", "'gan' or 'style_transfer'"),
    ("gan-param-in-style-space", BASE + "space: {lr_g: 0.1}\n", "space.lr_g",
     "known hyperparameter of task style_transfer (content_weight, style_weight"),
    ("style-param-in-gan-space", "space: {style_weight: 3}\n", "space.style_weight", "known hyperparameter ("),
    ("bad-optimizer", BASE + "space: {optimizer: sgd}\n", "space.optimizer", "adam, lbfgs"),
    ("bad-layer-set", BASE + "space: {style_layers: {type: categorical, choices: [gatys, relu9_9]}}\n",
     "space.style_layers.choices[1]", "gatys, low, high"),
    ("negative-weight", BASE + "space: {tv_weight: -1}\n", "space.tv_weight", "[0, 1e+06]"),
    ("tiny-image", BASE + "space: {image_size: 8}\n", "space.image_size", "integer in [16, 1024]"),
    ("unknown-builtin", "task: style_transfer\nstyle: {content: sklearn:lena.png, style: sklearn:flower.jpg}\n",
     "style.content", "sklearn:china.jpg, sklearn:flower.jpg"),
    ("missing-image", "task: style_transfer\nstyle: {content: sklearn:china.jpg, style: /nonexistent/s.jpg}\n",
     "style.style", "existing image file"),
    ("missing-content", "task: style_transfer\nstyle: {style: sklearn:flower.jpg}\n", "style.content", "must be set"),
    ("same-seeds", BASE.replace("}", ", feature_seed: 3, measure_seed: 3}"), "style.measure_seed",
     "must differ from style.feature_seed"),
    ("missing-weights", BASE.replace("}", ", feature_weights: /nonexistent/vgg19.pth}"), "style.feature_weights",
     "existing weights file"),
    ("data-section", BASE + "data: {name: digits}\n", "data", "must not be set for task style_transfer"),
    ("unknown-style-key", BASE.replace("}", ", contnet: x}"), "style.contnet", "unknown key (allowed: content, style"),
    ("measure-size-small", BASE.replace("}", ", measure_size: 4}"), "style.measure_size", "greater than or equal to 16"),
    ("root-with-content", "task: style_transfer\nstyle: {root: /tmp, content: sklearn:china.jpg}\n", "style.content",
     "must be unset with style.root"),
]


@pytest.mark.parametrize("case_id,text,field,rule", CASES, ids=[c[0] for c in CASES])
def test_bad_style_space_is_one_line_exit_2(tmp_path: Path, capsys, case_id: str, text: str, field: str, rule: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    assert_one_line_error(path, capsys, field, rule)


def test_root_must_hold_an_image_folder_pair(tmp_path: Path, capsys, images: tuple[Path, Path]) -> None:
    root = tmp_path / "pair"
    (root / "content").mkdir(parents=True)
    path = tmp_path / "space.yaml"
    path.write_text(f"task: style_transfer\nstyle: {{root: {root}}}\n")
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and err.startswith("style.root: must hold a content/ folder with an image"), err
    (root / "content" / "a.png").write_bytes(images[0].read_bytes())
    (root / "style").mkdir()
    (root / "style" / "b.png").write_bytes(images[1].read_bytes())
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert code == 0, err


def test_search_section_rules(tmp_path: Path, capsys) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(BASE + "search: {metric: fd_classifier}\n")
    code, _, err = run_cli(["run", str(path), "--out", str(tmp_path / "s"), "--dry-run"], capsys)
    assert code == 2 and err.startswith("search.metric: must be a metric of style_transfer runs"), err
    assert "transfer_score, content_distance, style_distance" in err
    path.write_text(BASE + "space: {lr: {type: loguniform, low: 0.001, high: 0.1}}\n"
                    "search: {scheduler: pbt, num_trials: 4, pbt: {perturbation_interval: 250, mutate: [lr]}}\n")
    code, _, err = run_cli(["run", str(path), "--out", str(tmp_path / "s"), "--dry-run"], capsys)
    assert code == 2 and err.startswith("search.scheduler: must not be pbt for task style_transfer"), err


def test_shipped_space_file_and_its_names() -> None:
    cfg = load(ROOT / "search_spaces" / "style-transfer.yaml")
    assert cfg.task == "style_transfer" and headline(cfg) == "transfer_score"
    assert known_metrics(cfg)["transfer_score"] == "min" and known_metrics(cfg)["converge_step"] == "min"
    assert set(cfg.space) <= set(STYLE_HPARAMS)
    # one name per concept: the task table of the search names the same tasks as the schema
    from gansearch.config.style import TASKS
    from gansearch.search.tasks import TASKS as TRAINERS

    assert tuple(TRAINERS) == TASKS
