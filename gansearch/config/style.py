"""The style-transfer task (`task: style_transfer`): its `style` section, its searchable hyperparameters
and the rules that span them. Pure data, like the rest of `config`: no torch here.

One name per concept, as for the GAN: `content_weight` in YAML is `content_weight` in the trainer, the
Optuna trial, the MLflow param and the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from gansearch.config.hparams import HParam
from gansearch.errors import ConfigError

TASKS: tuple[str, ...] = ("gan", "style_transfer")

# VGG-19's `features` in torchvision's order (the index of each name is its index in `vgg19().features`,
# so a torchvision weights file loads key for key).
VGG19_LAYERS: tuple[str, ...] = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1",
)
# The layer sets a space may choose between (categorical `content_layers` / `style_layers`).
CONTENT_LAYER_SETS: dict[str, tuple[str, ...]] = {
    "relu2_2": ("relu2_2",), "relu3_2": ("relu3_2",), "relu4_2": ("relu4_2",),  # Gatys et al.: relu4_2
}
STYLE_LAYER_SETS: dict[str, tuple[str, ...]] = {
    "gatys": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),  # Gatys et al. 2016
    "low": ("relu1_1", "relu2_1", "relu3_1"),
    "high": ("relu3_1", "relu4_1", "relu5_1"),
}
# What the measuring net reads: fixed for every trial, so distances compare across the study.
MEASURE_CONTENT_LAYERS: tuple[str, ...] = ("relu3_2", "relu4_2")
MEASURE_STYLE_LAYERS: tuple[str, ...] = STYLE_LAYER_SETS["gatys"]

# Photos scikit-learn ships (sklearn.datasets.load_sample_image): usable offline on any machine.
BUILTIN_PREFIX = "sklearn:"
BUILTIN_IMAGES: tuple[str, ...] = ("china.jpg", "flower.jpg")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

STYLE_HPARAMS: dict[str, HParam] = {
    "content_weight": HParam("float", 1.0, 0.0, 1e6, doc="weight of the content loss"),
    "style_weight": HParam("float", 1.0, 0.0, 1e6, doc="weight of the style (Gram) loss"),
    "tv_weight": HParam("float", 0.1, 0.0, 1e6, doc="weight of the total-variation loss"),
    "content_layers": HParam("choice", "relu4_2", choices=tuple(CONTENT_LAYER_SETS), doc="content layer set"),
    "style_layers": HParam("choice", "gatys", choices=tuple(STYLE_LAYER_SETS), doc="style layer set"),
    "lr": HParam("float", 0.02, 0.0, 100.0, low_open=True, doc="step size of the image's optimizer"),
    "optimizer": HParam("choice", "adam", choices=("adam", "lbfgs"), doc="Adam, or L-BFGS (one iteration a step)"),
    "init": HParam("choice", "content", choices=("content", "noise"), doc="start from the content or seeded noise"),
    "image_size": HParam("int", 64, 16, 1024, doc="pixels per side of the optimised image"),
}


class StyleConfig(BaseModel):
    """`style:` — the two images, the net optimised against and the net that measures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: StrictStr | None = Field(None, description="image file, folder holding one image, or sklearn:<name>")
    style: StrictStr | None = Field(None, description="image file, folder holding one image, or sklearn:<name>")
    root: StrictStr | None = Field(None, description="an ImageFolder pair: root/content/<image>, root/style/<image>")
    feature_weights: StrictStr | None = Field(None, description="torchvision vgg19 weights file; None: random VGG-19")
    feature_seed: StrictInt = Field(0, ge=0, le=2**63 - 1, description="seed of the random VGG-19 optimised against")
    measure_weights: StrictStr | None = Field(None, description="weights of the measuring VGG-19; None: random")
    measure_seed: StrictInt = Field(1, ge=0, le=2**63 - 1, description="seed of the random measuring VGG-19")
    measure_size: StrictInt = Field(64, ge=16, le=1024, description="pixels per side the distances are measured at")
    converge_rtol: StrictFloat = Field(0.02, gt=0.0, lt=1.0, description="converge_step's relative tolerance")


def user_path(text: str) -> Path:
    """`~` expanded where it can be (a `~name` of no known user stays as written, and then won't exist)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def _kind(path: Path) -> str | None:
    """"file", "dir" or None (missing, unreadable, or a name no filesystem takes: a NUL byte, too long)."""
    try:
        return "file" if path.is_file() else "dir" if path.is_dir() else None
    except (OSError, ValueError):
        return None


def image_source(cfg: StyleConfig, which: str) -> str:
    """Where the `which` ("content" or "style") image comes from: a builtin name, a file or a folder."""
    given = getattr(cfg, which)
    if given is not None:
        return given
    assert cfg.root is not None
    return str(user_path(cfg.root) / which)


def image_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    except OSError:
        return []


def _check_image(where: str, source: str) -> ConfigError | None:
    if source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_IMAGES:
            valid = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_IMAGES)
            return ConfigError(where, f"must be one of the images scikit-learn ships ({valid})", source)
        return None
    p = user_path(source)
    kind = _kind(p)
    if kind == "dir":
        return None if image_files(p) else ConfigError(where, "must be a folder holding an image ("
                                                       + ", ".join(IMAGE_EXTENSIONS) + ")", source)
    if kind != "file":
        return ConfigError(where, "must be an existing image file, a folder holding one, or sklearn:<name>", source)
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        return ConfigError(where, "must be an image file (" + ", ".join(IMAGE_EXTENSIONS) + ")", source)
    return None


def check_style(cfg: Any) -> list[ConfigError]:
    """Rules of `task` and the `style` section (cfg: a SpaceFile as validated from the YAML)."""
    errs: list[ConfigError] = []
    s = cfg.style
    if cfg.task != "style_transfer":
        if s is not None:
            errs.append(ConfigError("style", f"must be unset for task {cfg.task} (set task: style_transfer)", None,
                                    show_value=False))
        return errs
    for section in ("data", "model"):
        if section in cfg.model_fields_set:
            errs.append(ConfigError(section, "must not be set for task style_transfer (the images come from "
                                    "the style section)", None, show_value=False))
    if s is None:
        return errs + [ConfigError("style", "must be set for task style_transfer (content and style images)",
                                   None, show_value=False)]
    if s.root is not None:
        for which in ("content", "style"):
            if getattr(s, which) is not None:
                errs.append(ConfigError(f"style.{which}", "must be unset with style.root (an ImageFolder pair "
                                        "root/content, root/style)", getattr(s, which)))
        if errs or _kind(user_path(s.root)) != "dir":
            return errs or [ConfigError("style.root", "must be an existing folder", s.root)]
    for which in ("content", "style"):
        if s.root is None and getattr(s, which) is None:
            errs.append(ConfigError(f"style.{which}", "must be set (an image file, a folder holding one, "
                                    "or sklearn:china.jpg / sklearn:flower.jpg), or give style.root", None))
            continue
        source = image_source(s, which)
        if s.root is not None and not (_kind(Path(source)) == "dir" and image_files(Path(source))):
            errs.append(ConfigError("style.root", f"must hold a {which}/ folder with an image (an ImageFolder pair "
                                    "root/content/<image>, root/style/<image>)", s.root))
            continue
        err = _check_image(f"style.{which}", source)
        if err is not None:
            errs.append(err)
    for name in ("feature_weights", "measure_weights"):
        path = getattr(s, name)
        if path is not None and _kind(user_path(path)) != "file":
            errs.append(ConfigError(f"style.{name}", "must be an existing weights file (torchvision's vgg19, "
                                    "never downloaded)", path))
    if s.feature_weights is None and s.measure_weights is None and s.feature_seed == s.measure_seed:
        errs.append(ConfigError("style.measure_seed", "must differ from style.feature_seed (the measuring net "
                                "must not be the net the image is optimised against)", s.measure_seed))
    if s.feature_weights is not None and s.measure_weights is not None and \
            user_path(s.feature_weights).resolve() == user_path(s.measure_weights).resolve():
        errs.append(ConfigError("style.measure_weights", "must differ from style.feature_weights (the measuring "
                                "net must not be the net the image is optimised against)", s.measure_weights))
    return errs
