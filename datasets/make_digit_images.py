"""Write the bundled digits (datasets/digits.csv) out as 8x8 grayscale PNG files, one
sub-folder per digit: the image-folder layout `specs/digits_images.toml` reads.

    python datasets/make_digit_images.py [OUT_DIR]     # default: datasets/digit_images/

Pixel values 0..16 become 0..255 (x 16, 16 -> 255). Needs Pillow (`pip install 'netspec[images]'`).
The tests call `write_digit_images` to build the folder in a temporary directory.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_digit_images(out_dir: Path, csv_path: Path = HERE / "digits.csv", limit: int | None = None,
                       mode: str = "L") -> int:  # fmt: skip
    """Write PNGs under out_dir/<digit>/NNNN.png (mode "L" or "RGB"); returns how many."""
    from PIL import Image

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    for k, row in enumerate(rows):
        pixels = np.array([float(row[f"p{i}"]) for i in range(64)]).reshape(8, 8)
        img = Image.fromarray(np.clip(pixels * 16, 0, 255).astype(np.uint8), "L").convert(mode)
        folder = Path(out_dir) / row["digit"]
        folder.mkdir(parents=True, exist_ok=True)
        img.save(folder / f"{k:04d}.png")
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "digit_images"
    print(f"wrote {write_digit_images(target)} images to {target}")
