#!/usr/bin/python3
"""make_tree.py ROOT FILES MB [TOP]: a benchmark tree like BENCHMARKS.md's.

FILES files spread over TOP top directories (default 50) of 3 subdirectories
each, MB MiB in all, every other file incompressible (seeded, so every run
builds the same tree).  BENCHMARKS.md's install tree is FILES=10000 MB=200
TOP=200: 10,000 files in 800 directories, 213 MB by `du -sb`."""
import os
import random
import sys

root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 50
rnd = random.Random(42)
size = max(1, mb * 1024 * 1024 // files)
text = b"slotd benchmark payload line, compressible on purpose\n" * (size // 54 + 1)
for i in range(files):
    d = os.path.join(root, "d%02d" % (i % top), "s%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(size) if i % 2 else text[:size])
