"""Find a dataset's files without importing torch, so `gansearch validate` can check data in a second.

Every miss raises DataNotFoundError naming each place looked at and how to get the files. A plug-in
dataset (`data.name: package.module:function`, `data/plugin.py`) is imported instead, which runs the
user's module (usually importing torch). `check_feature_net` holds the rule that image data feeds the
feature net its distances need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gansearch.config.names import DATASETS, POINT_DATASETS, feature_net_rule
from gansearch.config.plugins import is_plugin
from gansearch.config.schema import DataConfig
from gansearch.errors import ConfigError, DataNotFoundError

IDX_STEMS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# torchvision's MNIST/FashionMNIST download into root/<Folder>/raw/
TORCHVISION_FOLDERS: dict[str, str] = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
# used when data.root is not given
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),  # Debian package dataset-fashion-mnist
    "mnist": (),
}
HOW_TO_GET: dict[str, str] = {
    "mnist": (
        "put train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] (and t10k-* for a test set) in "
        "data.root, or run torchvision.datasets.MNIST(root, download=True) on a machine with network "
        "and point data.root at that root"
    ),
    "fashion-mnist": (
        "run `apt-get install dataset-fashion-mnist` (files land in /usr/share/datasets/fashion-mnist), "
        "or put train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] (and t10k-*) in data.root, "
        "or run torchvision.datasets.FashionMNIST(root, download=True) on a machine with network"
    ),
    "cifar10": (
        "run torchvision.datasets.CIFAR10(root, download=True) on a machine with network (or unpack "
        "cifar-10-python.tar.gz) and point data.root at the folder holding cifar-10-batches-py/"
    ),
    "image-folder": "set data.root to a folder with one sub-folder of images per class (root/<class>/<img>.png)",
}
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def check_name(name: str) -> None:
    """Unknown dataset names fail with the list of valid ones (optuna style); an import path passes."""
    if name not in DATASETS and not is_plugin(name):
        raise ConfigError("data.name", f"unknown dataset; valid names: {', '.join(DATASETS)}, or a plug-in's "
                          "import path package.module:function", name)


def locate(cfg: DataConfig) -> None:
    """Raise DataNotFoundError unless the files `load_dataset(cfg)` needs are present; a plug-in must
    import and take the parameters gansearch gives (ConfigError), but is not called here."""
    check_name(cfg.name)
    if is_plugin(cfg.name):
        from gansearch.data.plugin import check_callable

        check_callable(cfg)
    elif cfg.name in ("mnist", "fashion-mnist"):
        idx_files(cfg)
    elif cfg.name == "cifar10":
        cifar_dir(cfg)
    elif cfg.name == "image-folder":
        image_folder_root(cfg)
    # digits ships with scikit-learn; ring8/grid25 are generated


def _missing(cfg: DataConfig, looked: list[str]) -> DataNotFoundError:
    places = "; ".join(looked) if looked else "(nowhere: data.root is not set)"
    return DataNotFoundError(
        f"data.root: must hold the {cfg.name} files, got {cfg.root!r}. Looked in: {places}. To get it: {HOW_TO_GET[cfg.name]}"
    )


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_dirs(cfg: DataConfig) -> list[Path]:
    """Folders that may hold idx files, in the order they are tried."""
    if cfg.root is None:
        return [Path(p) for p in SYSTEM_DIRS[cfg.name]]
    root = Path(cfg.root).expanduser()
    sub = TORCHVISION_FOLDERS[cfg.name]
    return [root, root / sub / "raw", root / sub]


def idx_files(cfg: DataConfig) -> dict[str, Path | None]:
    """Paths of train/test images and labels (keys train_images, ...); test ones may be None."""
    looked = []
    for folder in idx_dirs(cfg):
        files = {f"{split}_{kind}": _find(folder, stem)
                 for split, stems in IDX_STEMS.items() for kind, stem in zip(("images", "labels"), stems)}
        if files["train_images"] and files["train_labels"]:
            if not (files["test_images"] and files["test_labels"]):
                files["test_images"] = files["test_labels"] = None
            return files
        looked.append(f"{folder} (expects {IDX_STEMS['train'][0]}[.gz] and {IDX_STEMS['train'][1]}[.gz])")
    raise _missing(cfg, looked)


def cifar_dir(cfg: DataConfig) -> Path:
    """The cifar-10-batches-py folder: data.root/cifar-10-batches-py or data.root itself."""
    looked = []
    if cfg.root is not None:
        root = Path(cfg.root).expanduser()
        for folder in (root / "cifar-10-batches-py", root):
            if all((folder / name).is_file() for name in CIFAR_TRAIN):
                return folder
            looked.append(f"{folder} (expects {', '.join(CIFAR_TRAIN)}, {CIFAR_TEST})")
    raise _missing(cfg, looked)


def image_folder_root(cfg: DataConfig) -> Path:
    """data.root, checked to hold at least one class folder with an image in it."""
    if cfg.root is None:
        raise _missing(cfg, [])
    root = Path(cfg.root).expanduser()
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in sub.rglob("*") if f.is_file()):
                return root
    raise _missing(cfg, [f"{root} (expects {root}/<class>/<image>{'|'.join(IMAGE_EXTENSIONS)})"])


def image_folder_classes(root: Path) -> list[str]:
    """The class sub-folders of an image folder that hold at least one image (names, sorted)."""
    return [sub.name for sub in sorted(p for p in root.iterdir() if p.is_dir())
            if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in sub.rglob("*") if f.is_file())]


def check_feature_net(cfg: Any) -> None:
    """Image data must feed the feature net its distances (FD/KD) need: labels of 2 or more classes for
    the dataset's classifier (eval.feature_net classifier, or auto without eval.inception_weights), else
    Inception weights. One ConfigError line at eval.feature_net otherwise, before anything trains.

    `cfg` is a SpaceFile (data and eval sections). Call it after `locate(cfg.data)`, for task gan only (a
    style space has no dataset); 2-D points need no feature net (they are scored by mode coverage).
    Built-in labelled sets pass at once; an image folder's class sub-folders are counted (no torch); a
    plug-in is called and its item 0 checked (`plugin.probe`, which also reports a broken plug-in), even
    when Inception measures it."""
    if getattr(cfg, "task", "gan") != "gan":
        return
    d, ev = cfg.data, cfg.eval
    if d.name in POINT_DATASETS:
        return
    needs_labels = ev.feature_net == "classifier" or (ev.feature_net == "auto" and ev.inception_weights is None)
    has: str | None = None
    if is_plugin(d.name):
        from gansearch.data.plugin import probe

        item = probe(d)
        if not item.labelled:
            has = (f"the plug-in data.name {d.name} has no labels (its items are images of shape "
                   f"{tuple(item.shape)}, not (image, label) pairs)")
    elif d.name == "image-folder" and needs_labels:
        root = image_folder_root(d)
        classes = image_folder_classes(root)
        if len(classes) < 2:
            shown = ", ".join(classes[:3])
            has = (f"the image folder {root} has {len(classes)} class sub-folder{'s' if len(classes) != 1 else ''}"
                   f" with images ({shown}): a class is a sub-folder, and a classifier needs 2 or more")
    if needs_labels and has is not None:
        raise ConfigError("eval.feature_net", feature_net_rule(ev.feature_net, has), ev.feature_net,
                          show_value=False)
