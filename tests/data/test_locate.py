"""Names and missing files fail early with messages that say what to do; `locate` needs no torch."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from gansearch.config import names
from gansearch.config.schema import DataConfig
from gansearch.data import load_dataset, locate
from gansearch.errors import ConfigError, DataNotFoundError, GansearchError


def test_unknown_name_lists_valid_ones() -> None:
    for call in (locate, load_dataset):
        with pytest.raises(ConfigError) as err:
            call(DataConfig(name="mnsit"))
        msg = str(err.value)
        assert msg.startswith("data.name:") and "'mnsit'" in msg
        assert all(name in msg for name in names.DATASETS)


@pytest.mark.parametrize(("name", "hints"), [
    ("mnist", ["train-images-idx3-ubyte", "MNIST/raw", "download=True"]),
    ("fashion-mnist", ["apt-get install dataset-fashion-mnist", "FashionMNIST/raw", "train-labels-idx1-ubyte"]),
    ("cifar10", ["cifar-10-batches-py", "data_batch_1", "CIFAR10"]),
    ("image-folder", ["<class>"]),
])
def test_missing_files_say_where_and_how(name: str, hints: list[str], tmp_path: Path) -> None:
    cfg = DataConfig(name=name, root=str(tmp_path))
    for call in (locate, load_dataset):
        with pytest.raises(DataNotFoundError) as err:
            call(cfg)
        msg = str(err.value)
        assert str(tmp_path) in msg and all(h in msg for h in hints), msg


def test_root_required_where_there_is_no_default() -> None:
    for name in ("mnist", "cifar10", "image-folder"):
        with pytest.raises(DataNotFoundError, match="data.root is not set"):
            locate(DataConfig(name=name))


def test_present_data_locates(tmp_path: Path) -> None:
    for name in ("digits", "ring8", "grid25"):
        locate(DataConfig(name=name))  # nothing to find: bundled or generated
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")
    locate(DataConfig(name="mnist", root=str(tmp_path)))


def test_bad_idx_file_names_the_file(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc")  # labels magic where images belong
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(GansearchError, match=r"train-images-idx3-ubyte\.gz: not an idx file with magic 0x0803"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + b"".join((d).to_bytes(4, "big") for d in (3, 2, 2)) + bytes(12))
    with pytest.raises(GansearchError, match=r"train-labels-idx1-ubyte: idx header says \(3,\)"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_locate_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import gansearch.data.locate\n"
        "from gansearch.data import locate\n"
        "from gansearch.config.schema import DataConfig\n"
        "locate(DataConfig(name='digits'))\n"
        f"try:\n    locate(DataConfig(name='mnist', root={str(tmp_path)!r}))\n"
        "except Exception as e:\n    print(type(e).__name__)\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["DataNotFoundError", "False", "False"]
