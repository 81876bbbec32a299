"""Write datasets/vertical_edge.safetensors: the lecture's hand-set vertical-edge filter
[[1, 0, -1], [1, 0, -1], [1, 0, -1]] as the weight of the layer named `edge` (shape
(filters 1, channels 1, 3, 3)), loaded by specs/edge_filter.toml through train.init_from.

    python datasets/make_vertical_edge.py
"""

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

VERTICAL_EDGE = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float32)

if __name__ == "__main__":
    save_file({"edge.weight": VERTICAL_EDGE.reshape(1, 1, 3, 3)},
              str(Path(__file__).with_name("vertical_edge.safetensors")))
