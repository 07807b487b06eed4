"""Any folder of class sub-folders (torchvision ImageFolder), held in memory as one tensor.

Grey stays 1 channel when every image is grey, so a folder of sketches doesn't triple its cost.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gansearch.config.schema import DataConfig
from gansearch.data.dataset import Dataset, cap_indices, file_stamp, fingerprint, make_image_dataset, to_signed
from gansearch.data.locate import image_folder_root
from gansearch.errors import GansearchError

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _open(path: str):  # -> PIL.Image.Image
    """Open lazily; the mode is read before any conversion so grey folders can be detected."""
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()
    return img


def load_image_folder(cfg: DataConfig, device: torch.device) -> Dataset:
    """Resize the shorter side to image_size, center-crop, labels = class folders; capped by max_samples."""
    import torchvision.transforms.functional as TF
    from torchvision.datasets import ImageFolder

    root = image_folder_root(cfg)
    try:
        folder = ImageFolder(str(root), loader=_open)
    except (FileNotFoundError, RuntimeError) as exc:
        raise GansearchError(f"{root}: not an image folder ({exc})") from exc
    keep = cap_indices(len(folder.samples), cfg.max_samples)
    order = range(len(folder.samples)) if keep is None else keep.tolist()
    samples = [folder.samples[i] for i in order]  # cap before decoding: big folders load only what's kept
    images = [_open(path) for path, _ in samples]
    grey = all(img.mode in GREY_MODES for img in images)
    tensors = []
    for img in images:
        img = img.convert("L" if grey else "RGB")
        img = TF.resize(img, cfg.image_size, antialias=True)
        img = TF.center_crop(img, [cfg.image_size, cfg.image_size])
        tensors.append(TF.pil_to_tensor(img))
    train = to_signed(torch.stack(tensors).float() / 255.0)
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    stamps = [[str(Path(p).relative_to(root)), *file_stamp(Path(p))[1:]] for p, _ in folder.samples]
    fp = fingerprint(cfg.name, root=str(root.resolve()), files=stamps, image_size=cfg.image_size,
                     max_samples=cfg.max_samples, grey=grey)
    # the cap was applied above; pass None so it is not applied twice
    return make_image_dataset(cfg.name, train, labels, None, None, len(folder.classes), fp, None, device)
