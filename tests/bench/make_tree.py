#!/usr/bin/python3
"""make_tree.py ROOT FILES MB [TOP]: the reference benchmark tree of docs/benchmarks.md.

FILES files spread over TOP top directories (default 50) of 3 subdirectories
each, MB MiB in all, every other file incompressible random bytes, the others
letters drawn at skewed odds that gzip shrinks to about 31 % (as it does
binaries; a repeated line would shrink 1000-fold and leave the decompressor
idle).  Seeded, so every run builds the same tree.  docs/benchmarks.md's install
tree is FILES=10000 MB=200 TOP=200: 10,000 files in 800 directories, 213 MB
by `du -sb`, tar.gz 137 MB (this tree's: 139 MB)."""
import os
import random
import sys

root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 50
rnd = random.Random(42)
size = max(1, mb * 1024 * 1024 // files)
# 16 slots: e 6, t 5, a 3, o 1, i 1 (2.0 bits of entropy a byte)
letters = bytes(b"eeeeeetttttaaaoi"[i % 16] for i in range(256))
for i in range(files):
    d = os.path.join(root, "d%02d" % (i % top), "s%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        data = rnd.randbytes(size)
        f.write(data if i % 2 else data.translate(letters))
