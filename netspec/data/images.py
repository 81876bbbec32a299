"""Image folders: `[data] path = "images/"` with one sub-folder per class (as Keras'
`image_dataset_from_directory` and torchvision's `ImageFolder`).

- Files: .png, .jpg/.jpeg, .bmp, decoded with Pillow (the optional extra `images`); hidden files
  (names starting with ".") are skipped, anything else in a class folder is a located error.
- Each image becomes `model.input_shape` = [channels, height, width] (channels first), channels
  1 (Pillow mode "L") or 3 ("RGB"); other 8-bit modes are converted (alpha is dropped), 16-bit
  and floating-point images are an error. With `resize = true` (default) a different size is
  resized with Pillow's bilinear filter (antialiased when shrinking); with `resize = false` it is
  an error naming the file.
- Pixel values are scaled to [0, 1] and, with `standardize = true`, standardized per channel
  (statistics of the train split). Both are one Standardizer on raw 0..255 values (mean*255,
  std*255), so the exported ONNX model takes raw pixel values and does the scaling itself.
- Class names are the sub-folder names, sorted (or `data.classes`, which must name them all).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .dataset import Dataset, Splits
from .source import display_name, fail, name_list
from .split import split_indices
from .standardize import Standardizer

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
_HIGH_DEPTH = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise fail("data.path", "reading images needs Pillow: pip install 'netspec[images]'") from None
    return Image


def image_shape(spec) -> tuple[int, int, int]:
    """(channels, height, width) from model.input_shape; anything else is an error."""
    shape = spec.model.input_shape
    ok = len(shape) == 3 and all(isinstance(d, int) for d in shape) and shape[0] in (1, 3)
    if not ok:
        raise fail(spec.data.path, f"an image folder needs model.input_shape = [channels, height, width] with "
                   f"channels 1 (grayscale) or 3 (RGB) and fixed sizes, got {shape}")  # fmt: skip
    return shape[0], shape[1], shape[2]


def _is_candidate(p: Path) -> bool:
    return p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])


def _image_files(folder: Path) -> list[Path]:
    """Every non-hidden file below `folder` (sorted); a file that is not an image is an error."""
    files = sorted(p for p in folder.rglob("*") if _is_candidate(p))
    for p in files:
        if p.suffix.lower() not in EXTENSIONS:
            raise fail(display_name(p), f"not an image file (extension {p.suffix or '(none)'!r}); an image "
                       f"folder holds {', '.join(EXTENSIONS)} files (move other files out of it)")  # fmt: skip
    return files


def decode(path: Path, shape: tuple[int, int, int], resize: bool) -> np.ndarray:
    """One image file -> float32 (channels, height, width) of 0..255 values."""
    Image = _pil()
    file = display_name(path)
    channels, height, width = shape
    try:
        with Image.open(path) as im:
            im.load()
            mode, size = im.mode, im.size
            if mode in _HIGH_DEPTH:
                raise fail(file, f"a {'16-bit' if mode.startswith('I') else 'floating-point'} image (Pillow mode "
                           f"{mode!r}); netspec reads 8-bit images: save it as 8-bit grayscale or RGB")  # fmt: skip
            im = im.convert("L" if channels == 1 else "RGB")
            if size != (width, height):
                if not resize:
                    raise fail(file, f"the image is {size[0]}x{size[1]} pixels (width x height), but "
                               f"model.input_shape needs {width}x{height}; resize the file, or set "
                               "data.resize = true (bilinear)")  # fmt: skip
                im = im.resize((width, height), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:  # UnidentifiedImageError: OSError
        raise fail(file, f"not a readable image ({str(exc) or type(exc).__name__})") from None
    return arr[None] if arr.ndim == 2 else np.transpose(arr, (2, 0, 1))


def decode_all(files: list[Path], shape, resize: bool, progress: Callable | None = None) -> np.ndarray:
    out = np.empty((len(files), *shape), dtype=np.float32)
    every = max(1, len(files) // 100)
    for k, p in enumerate(files):
        out[k] = decode(p, shape, resize)
        if progress is not None and ((k + 1) % every == 0 or k + 1 == len(files)):
            progress(k + 1, len(files), "images")
    return out


def class_folders(root: Path, spec) -> tuple[list[str], list[list[Path]]]:
    """(class names, files per class) of an image folder."""
    file = display_name(root)
    if not root.exists():
        raise fail(file, "folder not found")
    if not root.is_dir():
        raise fail(file, "is a file; data.path of an image folder names a folder with one sub-folder per class")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise fail(file, "no class sub-folders: put the images of each class in a sub-folder named after the class")
    names = [str(c) for c in spec.data.classes] if spec.data.classes is not None else found
    if sorted(names) != found:
        raise fail(file, f"data.classes ({name_list(names)}) must name every class sub-folder ({name_list(found)})")
    files = [_image_files(root / n) for n in names]
    for n, f in zip(names, files):
        if not f:
            raise fail(display_name(root / n), "the class folder holds no images")
    return names, files


def _check_classes(names: list[str], spec, n_outputs: int | None, file: str) -> None:
    if spec.train.task != "classification":
        raise fail(file, 'an image folder gives class labels: use train.loss = "cross_entropy" '
                   '(or "binary_cross_entropy" for two classes)')  # fmt: skip
    if spec.train.loss == "binary_cross_entropy" and len(names) != 2:
        raise fail(file, f"binary_cross_entropy needs exactly 2 class folders, found {len(names)}: {name_list(names)}")
    if spec.train.loss == "cross_entropy" and n_outputs is not None and n_outputs != len(names):
        raise fail(file, f"{len(names)} class folders ({name_list(names)}) but the model has {n_outputs} "
                   f"output units: set the last layer's units = {len(names)}")  # fmt: skip


def _targets(idx: np.ndarray, spec, dtype) -> np.ndarray:
    return idx[:, None].astype(dtype) if spec.train.loss == "binary_cross_entropy" else idx


def pixel_standardizer(x_train: np.ndarray | None, standardize: bool, channels: int) -> Standardizer:
    """Scaling to [0, 1], then (optionally) per-channel standardization, as one Standardizer
    on raw 0..255 values."""
    mean = np.zeros((channels, 1, 1))
    std = np.ones((channels, 1, 1))
    if standardize and x_train is not None:
        fitted = Standardizer.fit(x_train.astype(np.float64) / 255.0, (0, 2, 3))
        mean, std = fitted.mean, fitted.std
    return Standardizer(mean * 255.0, std * 255.0)


def _apply(ds: Dataset | None, st: Standardizer) -> Dataset | None:
    return None if ds is None else Dataset(st.apply(ds.x), ds.y, None, names=ds.names)


def load_image_splits(spec, spec_dir: Path, dtype, n_outputs, progress=None) -> Splits:
    data = spec.data
    root = Path(spec_dir) / data.path
    shape = image_shape(spec)
    names, files = class_folders(root, spec)
    _check_classes(names, spec, n_outputs, display_name(root))
    flat = [p for f in files for p in f]
    idx = np.concatenate([np.full(len(f), c, dtype=np.int64) for c, f in enumerate(files)])
    x = decode_all(flat, shape, data.resize, progress).astype(dtype, copy=False)
    full = Dataset(x, _targets(idx, spec, dtype), None, names=[str(p.relative_to(root)) for p in flat])
    tr, va, te = split_indices(len(full), data.split.val, data.split.test, spec.seed, data.ordered_split,
                               display_name(root), "images")  # fmt: skip
    train = full.take(tr)
    st = pixel_standardizer(train.x, data.standardize, shape[0])
    val = full.take(va) if va.size else None
    test = full.take(te) if te.size else None
    return Splits(_apply(train, st), _apply(val, st), _apply(test, st), names, st, spec.train.task)


def load_image_inputs(path: Path, spec, standardizer, class_names, require_targets: bool, dtype, progress=None):
    """New images for predict / eval: one file, a folder of class sub-folders (labelled), or a
    folder of image files (unlabelled). `standardizer` None leaves raw 0..255 values (ONNX)."""
    shape = image_shape(spec)
    file = display_name(path)
    if path.is_file():
        if path.suffix.lower() not in EXTENSIONS:
            raise fail(file, f"not an image file (extension {path.suffix or '(none)'!r}); expected {', '.join(EXTENSIONS)}")
        files, y_idx, root = [path], None, path.parent
    elif path.is_dir():
        subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        root = path
        if subdirs:  # labelled: one sub-folder per class, named as in training
            known = list(class_names or [])
            unknown = sorted(p.name for p in subdirs if p.name not in known)
            if unknown:
                raise fail(display_name(path / unknown[0]), f"class folder {unknown[0]!r} was not a class in training "
                           f"(classes: {name_list(known)})")  # fmt: skip
            files, labels = [], []
            for c, n in enumerate(known):
                got = _image_files(path / n) if (path / n).is_dir() else []
                files += got
                labels += [c] * len(got)
            y_idx = np.asarray(labels, dtype=np.int64)
        else:
            files, y_idx = _image_files(path), None
        if not files:
            raise fail(file, "no images found")
    else:
        raise fail(file, "file or folder not found")
    if require_targets and y_idx is None:
        raise fail(file, "evaluation needs labelled images: a folder with one sub-folder per class")
    x = decode_all(files, shape, spec.data.resize, progress)
    if standardizer is not None:
        x = standardizer.apply(x)
    y = None if y_idx is None else _targets(y_idx, spec, dtype)
    return Dataset(x.astype(dtype, copy=False), y, None, names=[str(p.relative_to(root)) for p in files])
