"""Write datasets/reviews.csv: GENERATED short "movie reviews" with a sentiment label, for the
text example (`specs/reviews_lstm.toml`). No small real text set with a clear licence ships in a
package this project installs, so this one is made here: each review mixes neutral filler
words with one to three sentiment words (one in five reviews is negated with "not", which
flips its label), so a bag of words is not enough and word order matters. 600 rows, seed 0.

    python datasets/make_reviews.py
"""

from pathlib import Path

import numpy as np

rng = np.random.default_rng(0)
POS = "good great excellent wonderful lovely superb enjoyable brilliant charming moving".split()
NEG = "bad awful terrible boring poor dull horrible weak tedious clumsy".split()
FILL = ("the movie film plot acting story cast music ending it was and quite really very a this "
        "with its").split()  # fmt: skip
rows = ["review,sentiment"]
for _ in range(600):
    positive = bool(rng.random() < 0.5)
    words = list(rng.choice(FILL, rng.integers(3, 10)))
    for _ in range(rng.integers(1, 4)):
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POS if positive else NEG)))
    if rng.random() < 0.2:  # "not <sentiment word>" flips the label
        k = next(i for i, w in enumerate(words) if w in POS + NEG)
        words.insert(k, "not")
        positive = not positive
    text = " ".join(words).capitalize() + rng.choice([".", "!", "..."])
    rows.append(f'"{text}",{"positive" if positive else "negative"}')
out = Path(__file__).resolve().parent / "reviews.csv"
out.write_text("\n".join(rows) + "\n")
print(f"{out.name}: {len(rows) - 1} reviews")
