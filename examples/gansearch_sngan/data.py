"""A dataset loader plug-in: `data.name: gansearch_sngan.data:digits_rgb`.

gansearch calls it with the keyword arguments it declares among `root` (data.root) and `image_size`
(data.image_size), and loads every item of the map-style torch Dataset it returns: images (C, H, W) in
[-1, 1], here with their labels, so the digit classifier can measure distances. This one builds RGB
digits from scikit-learn's 8x8 set (no download): each digit tinted by its class, at `image_size`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class DigitsRGB(Dataset):
    def __init__(self, image_size: int) -> None:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
        hue = torch.tensor([[1.0, 0.4, 0.2], [0.2, 1.0, 0.4], [0.3, 0.5, 1.0], [1.0, 1.0, 0.3], [1.0, 0.3, 1.0],
                            [0.3, 1.0, 1.0], [0.9, 0.6, 0.3], [0.6, 0.3, 0.9], [0.5, 0.9, 0.5], [0.9, 0.9, 0.9]])
        labels = torch.tensor(d.target, dtype=torch.long)
        self.images = (x * hue[labels].view(-1, 3, 1, 1)).clamp(0, 1) * 2 - 1  # (N, 3, S, S) in [-1, 1]
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


def digits_rgb(image_size: int = 32) -> Dataset:
    return DigitsRGB(image_size)
