#!/usr/bin/python3
"""make_tree.py ROOT FILES MB: a benchmark tree like BENCHMARKS.md's.

FILES files spread over 150 directories, MB megabytes in all, every other
file incompressible (seeded, so every run builds the same tree)."""
import os
import random
import sys

root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
size = max(1, mb * 1024 * 1024 // files)
text = b"slotd benchmark payload line, compressible on purpose\n" * (size // 54 + 1)
for i in range(files):
    d = os.path.join(root, "d%02d" % (i % 50), "s%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(size) if i % 2 else text[:size])
