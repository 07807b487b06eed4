"""Plug-in datasets (`data.name: package.module:function`, gansearch/data/plugin.py) and the feature-net
rule `gansearch validate` enforces (gansearch.data.check_feature_net): real module files on sys.path, real
PNG folders, real `gansearch` processes; no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gansearch.config import load
from gansearch.config.schema import DataConfig
from gansearch.data import Dataset, check_feature_net, load_dataset, locate
from gansearch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

# The plug-in module every test writes under a fresh name (a module imported once stays in sys.modules).
PLUGIN = '''
from pathlib import Path

import torch


class Pairs(torch.utils.data.Dataset):
    """Map-style: (image, label) pairs, or bare images without labels."""

    def __init__(self, x, y=None):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if self.y is None:
            return self.x[i]
        return self.x[i], int(self.y[i])


def patterns(n, size, classes=3, channels=1, seed=0):
    """Class k: a bright band in the k-th third of the rows, on noise; in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.rand(n, channels, size, size, generator=g) * 0.6 - 1.0
    band = max(1, size // classes)
    for i in range(n):
        k = int(y[i])
        x[i, :, k * band:(k + 1) * band] += 1.4
    return x.clamp(-1, 1), y


def labelled(root, image_size=16):
    """The tensors a test saved under data.root, at whatever size they were saved."""
    images = torch.load(Path(root) / "images.pt", weights_only=True)
    labels = torch.load(Path(root) / "labels.pt", weights_only=True)
    return Pairs(images, labels)


def sized(image_size):
    x, y = patterns(72, image_size)  # 72: the 64-d classifier features' covariance stays full-rank
    return Pairs(x, y)


def unlabelled():
    return Pairs(patterns(8, 16)[0])


def oblong():
    """12 x 20: a white 12 x 12 centre between black 4-column margins."""
    x = torch.full((4, 1, 12, 20), -1.0)
    x[..., 4:16] = 1.0
    return Pairs(x, [0, 1, 0, 1])


def numpy_labels():
    import numpy as np
    x, _ = patterns(6, 16)
    return [(x[i], np.int64(7 + i % 2)) for i in range(6)]


def raises():
    raise ValueError("no files here\\nsecond line")


def generator():
    return (torch.zeros(1, 16, 16) for _ in range(3))


def number():
    return 42


def iterable():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([torch.zeros(1, 16, 16)] * 3)
    return Stream()


def no_len():
    class Only(torch.utils.data.Dataset):
        def __getitem__(self, i):
            return torch.zeros(1, 16, 16)
    return Only()


def one_item():
    return [torch.zeros(1, 16, 16)]


def uint8_images():
    return [torch.zeros(1, 16, 16, dtype=torch.uint8)] * 3


def flat_images():
    return [torch.zeros(16, 16)] * 3


def four_channels():
    return [torch.zeros(4, 16, 16)] * 3


def numpy_images():
    import numpy as np
    return [np.zeros((1, 16, 16), dtype=np.float32)] * 3


def triples():
    return [(torch.zeros(1, 16, 16), 0, "extra")] * 3


def float_labels():
    return [(torch.zeros(1, 16, 16), 0.5)] * 3


def unit_range():
    return [torch.linspace(0, 255, 256).reshape(1, 16, 16)] * 3  # 0..255, not [-1, 1]


def with_nan():
    x = torch.zeros(3, 1, 16, 16)
    x[2, 0, 3, 3] = float("nan")
    return list(x)


def mixed_shapes():
    return [torch.zeros(1, 16, 16), torch.zeros(1, 16, 16), torch.zeros(1, 17, 17)]


def mixed_labels():
    return [(torch.zeros(1, 16, 16), 0), torch.zeros(1, 16, 16), (torch.zeros(1, 16, 16), 1)]


def index_error():
    class Short(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            if i >= 3:
                raise IndexError(f"index {i} out of range")
            return torch.zeros(1, 16, 16)
    return Short()


def needs_more(n):
    return Pairs(patterns(n, 16)[0])
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """(module name, folder holding it), the folder on sys.path; the module is imported on first use."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    name = f"gs_plugin_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("GANSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    return name, folder


def save_data(root: Path, images: torch.Tensor, labels: torch.Tensor) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    torch.save(images, root / "images.pt")
    torch.save(labels, root / "labels.pt")
    return root


def some_data(n: int = 30, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g) * 2 - 1, torch.arange(n) % 3


def one_line(e: pytest.ExceptionInfo, field: str, name: str) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(field + ":") and repr(name) in msg, msg
    return msg


# ---- loading into the record ------------------------------------------------------------------------

def test_labelled_plugin_loads_into_the_record(plugin: tuple[str, Path], tmp_path: Path) -> None:
    mod, _ = plugin
    images, labels = some_data()
    root = save_data(tmp_path / "data", images, labels)
    cfg = DataConfig(name=f"{mod}:labelled", root=str(root), image_size=16)
    locate(cfg)
    ds = load_dataset(cfg)
    assert isinstance(ds, Dataset) and ds.kind == "image" and ds.name == cfg.name
    assert ds.shape == (1, 16, 16) and ds.train.dtype == torch.float32
    assert torch.equal(ds.train, images)  # at image_size already: every pixel passes unchanged
    assert torch.equal(ds.train_labels, labels) and ds.train_labels.dtype == torch.int64
    assert ds.num_classes == 3 and ds.test is None and ds.test_labels is None
    a = ds.sample(8, torch.Generator().manual_seed(1))
    assert a.shape == (8, 1, 16, 16) and torch.equal(a, ds.sample(8, torch.Generator().manual_seed(1)))

    # the fingerprint: 16 hex, stable, and new when one pixel, one label, the size or the cap changes
    fp = ds.fingerprint
    assert len(fp) == 16 and load_dataset(cfg).fingerprint == fp
    pixel = images.clone()
    pixel[7, 0, 3, 4] = -pixel[7, 0, 3, 4] if pixel[7, 0, 3, 4] != 0 else 0.5
    save_data(root, pixel, labels)
    assert load_dataset(cfg).fingerprint != fp
    label = labels.clone()
    label[0] = 2
    save_data(root, images, label)
    assert load_dataset(cfg).fingerprint != fp
    save_data(root, images, labels)
    assert load_dataset(cfg).fingerprint == fp
    assert load_dataset(cfg.model_copy(update={"image_size": 32})).fingerprint != fp
    capped = load_dataset(cfg.model_copy(update={"max_samples": 10}))
    assert capped.train.shape == (10, 1, 16, 16) and capped.fingerprint != fp
    # the cap is the fixed draw the built-in loaders make: each kept image with its own label
    match = (capped.train[:, None] == images[None]).flatten(2).all(2).float().argmax(1)
    assert torch.equal(images[match], capped.train) and torch.equal(labels[match], capped.train_labels)


def test_labels_become_classes_in_order(plugin: tuple[str, Path]) -> None:
    ds = load_dataset(DataConfig(name=f"{plugin[0]}:numpy_labels"))  # numpy ints 7 and 8
    assert ds.train_labels.tolist() == [0, 1, 0, 1, 0, 1] and ds.num_classes == 2


def test_image_size_is_passed_when_declared(plugin: tuple[str, Path]) -> None:
    ds = load_dataset(DataConfig(name=f"{plugin[0]}:sized", image_size=32))
    assert ds.shape == (1, 32, 32) and ds.train.shape[0] == 72 and ds.num_classes == 3


def test_other_sizes_are_resized_and_cropped(plugin: tuple[str, Path], tmp_path: Path) -> None:
    mod, _ = plugin
    images, labels = some_data(size=20)
    root = save_data(tmp_path / "data", images, labels)
    ds = load_dataset(DataConfig(name=f"{mod}:labelled", root=str(root), image_size=16))
    assert ds.shape == (1, 16, 16) and ds.train.min() >= -1 and ds.train.max() <= 1
    assert not torch.equal(ds.train, images[..., :16, :16])
    wide = load_dataset(DataConfig(name=f"{mod}:oblong", image_size=16))  # 12 x 20: shorter side, centre crop
    assert wide.shape == (1, 16, 16) and wide.train.min() >= -1 and wide.train.max() <= 1
    assert wide.train.mean() > 0.7  # the margins cropped off (squashed to 16 x 16 it would be ~0.2)


def test_unlabelled_plugin_loads_without_classes(plugin: tuple[str, Path]) -> None:
    ds = load_dataset(DataConfig(name=f"{plugin[0]}:unlabelled"))
    assert ds.train.shape == (8, 1, 16, 16) and ds.train_labels is None and ds.num_classes is None


def test_trains_and_scores_fd_classifier(plugin: tuple[str, Path], tmp_path: Path) -> None:
    from gansearch.trainer import train

    tiny = ["train.steps=20", "train.checkpoint_every=20", "train.batch_size=16", "eval.every=20",
            "eval.num_samples=128", "eval.kid_subset_size=64", "eval.grid=16", "model.g_width=16",
            "model.d_width=16", "eval.oscillation_window=16", f"data.name={plugin[0]}:sized", "data.image_size=16"]
    cfg = load(ROOT / "search_spaces" / "digits.yaml", tiny)
    summary = train(cfg, tmp_path / "run")
    assert summary["status"] == "completed" and summary["steps"] == 20
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [0, 20]
    for r in recs:
        assert np.isfinite(r["fd_classifier"]) and r["fd_classifier"] > 0
        assert r["eval.feature_net"] == f"classifier-cnn-v1/{plugin[0]}:sized"
    assert 0 <= recs[-1]["eval.feature_net_accuracy"] <= 1  # measured on a held-out tenth (no test split)


# ---- a broken plug-in is one line naming data.name ----------------------------------------------------

@pytest.mark.parametrize(("fn", "rule"), [
    ("missing_function", "must name a function of"),
    ("raises", "must return a dataset (calling it raised ValueError: no files here)"),
    ("generator", "must return a map-style dataset (with __len__ and __getitem__; it returned a generator)"),
    ("number", "it returned an int"),
    ("iterable", "it returned a Stream"),
    ("no_len", "it returned an Only"),
    ("one_item", "must hold at least 2 items (it holds 1)"),
    ("uint8_images", "item 0 is a uint8 tensor of shape (1, 16, 16)"),
    ("flat_images", "item 0 is a float32 tensor of shape (16, 16)"),
    ("four_channels", "with C 1 or 3"),
    ("numpy_images", "item 0 is a numpy float32 array"),
    ("triples", "item 0 is a tuple of 3"),
    ("float_labels", "labels must be ints (item 0's label is a float)"),
    ("unit_range", "images must lie in [-1, 1] (min 0, max 255;"),
    ("with_nan", "images must be finite"),
    ("mixed_shapes", "items must all have one shape (item 0 is (1, 16, 16), item 2 is (1, 17, 17))"),
    ("mixed_labels", "items must all carry a label or none (item 0 has one, item 1 has none)"),
    ("index_error", "must return item 3 of its 5 (ds[3] raised IndexError: index 3 out of range)"),
    ("needs_more", "must take no required parameter other than root and image_size (it requires n)"),
])
def test_broken_plugin_is_one_line(plugin: tuple[str, Path], fn: str, rule: str) -> None:
    name = f"{plugin[0]}:{fn}"
    with pytest.raises(ConfigError) as e:
        load_dataset(DataConfig(name=name))
    assert rule in one_line(e, "data.name", name)


def test_not_importable_is_refused_by_locate(plugin: tuple[str, Path]) -> None:
    for name in ("gs_no_such_module_anywhere:data", f"{plugin[0]}:missing_function"):
        with pytest.raises(ConfigError) as e:
            locate(DataConfig(name=name))
        one_line(e, "data.name", name)


def test_required_root_needs_data_root(plugin: tuple[str, Path]) -> None:
    name = f"{plugin[0]}:labelled"
    with pytest.raises(ConfigError) as e:
        locate(DataConfig(name=name))
    msg = str(e.value)
    assert msg.startswith("data.root: must be set") and name in msg and "\n" not in msg


# ---- the feature-net rule -----------------------------------------------------------------------------

def one_class_folder(root: Path) -> Path:
    """root/only/<i>.png: real PNGs, all of one class."""
    (root / "only").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8), "L").save(root / "only" / f"{i}.png")
    (root / "notes").mkdir()  # a sub-folder without images is no class
    (root / "notes" / "readme.txt").write_text("not an image")
    return root


def space_file(path: Path, data: dict, **eval_: object) -> Path:
    body = {"data": {"image_size": 16, **data}, "model": {"name": "auto"},
            "eval": dict(eval_), "space": {"lr_g": 2e-4}}
    path.write_text(yaml.safe_dump(body))
    return path


def gansearch(args: list[str], pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "gansearch", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300, check=False)


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, lines
    assert lines[0].startswith("eval.feature_net: needs labels (a classifier) or eval.inception_weights "
                               "(Inception) to measure distances; "), lines[0]
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_rule_in_process(plugin: tuple[str, Path], tmp_path: Path) -> None:
    """check_feature_net on each kind of data, with and without Inception weights."""
    weights = tmp_path / "pt_inception.pth"
    weights.write_bytes(b"dummy: validation only checks the file exists")

    def cfg(data: dict, **eval_: object):
        return load(space_file(tmp_path / f"{uuid.uuid4().hex}.yaml", data, **eval_))

    for ok in ({"name": "digits"}, {"name": "ring8", "image_size": 16}, {"name": f"{plugin[0]}:sized"}):
        check_feature_net(cfg(ok))
    folder = one_class_folder(tmp_path / "imgs")
    for data in ({"name": f"{plugin[0]}:unlabelled"}, {"name": "image-folder", "root": str(folder)}):
        with pytest.raises(ConfigError) as e:
            check_feature_net(cfg(data))
        assert str(e.value).startswith("eval.feature_net: needs labels") and "\n" not in str(e.value)
        check_feature_net(cfg(data, inception_weights=str(weights)))  # Inception measures it
        check_feature_net(cfg(data, inception_weights=str(weights), feature_net="inception"))
        with pytest.raises(ConfigError, match=r"^eval.feature_net: classifier needs labels of 2 or more classes"):
            check_feature_net(cfg(data, inception_weights=str(weights), feature_net="classifier"))
    (folder / "second").mkdir()
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8), "L").save(folder / "second" / "0.png")
    check_feature_net(cfg({"name": "image-folder", "root": str(folder)}))  # two classes now
    # a broken plug-in is reported here too, even when Inception would measure it
    with pytest.raises(ConfigError, match=r"^data.name: the plug-in's items must be"):
        check_feature_net(cfg({"name": f"{plugin[0]}:uint8_images"}, inception_weights=str(weights)))


def test_validate_refuses_an_unlabelled_plugin(plugin: tuple[str, Path], tmp_path: Path) -> None:
    mod, folder = plugin
    space = space_file(tmp_path / "plug.yaml", {"name": f"{mod}:unlabelled"})
    line = assert_refused(gansearch(["validate", str(space)], folder), f"{mod}:unlabelled", "no labels")
    assert "(1, 16, 16)" in line
    weights = tmp_path / "pt_inception.pth"
    weights.write_bytes(b"dummy")
    ok = space_file(tmp_path / "plug-inception.yaml", {"name": f"{mod}:unlabelled"}, inception_weights=str(weights))
    proc = gansearch(["validate", str(ok)], folder)
    assert proc.returncode == 0 and proc.stderr.strip().endswith("is valid"), proc.stderr[-2000:]


def test_validate_refuses_a_one_class_image_folder(tmp_path: Path) -> None:
    root = one_class_folder(tmp_path / "imgs")
    space = space_file(tmp_path / "folder.yaml", {"name": "image-folder", "root": str(root)})
    assert_refused(gansearch(["validate", str(space)]), str(root), "1 class sub-folder with images (only)")
    weights = tmp_path / "pt_inception.pth"
    weights.write_bytes(b"dummy")
    ok = space_file(tmp_path / "folder-inception.yaml", {"name": "image-folder", "root": str(root)},
                    inception_weights=str(weights))
    proc = gansearch(["validate", str(ok)])
    assert proc.returncode == 0 and proc.stderr.strip().endswith("is valid"), proc.stderr[-2000:]


def test_validate_names_a_plugin_that_does_not_import(tmp_path: Path) -> None:
    space = space_file(tmp_path / "gone.yaml", {"name": "gs_no_such_module_anywhere:data"})
    proc = gansearch(["validate", str(space)])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("data.name: must be an importable") and "gs_no_such_module_anywhere:data" in lines[0]


def test_the_worked_example_loader_loads_through_the_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/gansearch_sngan/data.py: labelled RGB digits at data.image_size, through load_dataset."""
    from gansearch.config.schema import DataConfig
    from gansearch.data import load_dataset

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "examples"))
    d = load_dataset(DataConfig(name="gansearch_sngan.data:digits_rgb", image_size=16))
    assert d.shape == (3, 16, 16) and d.num_classes == 10 and len(d.train) == 1797
    assert float(d.train.min()) >= -1.0 and float(d.train.max()) <= 1.0
    assert sorted(set(d.train_labels.tolist())) == list(range(10))
