#!/usr/bin/python3
"""delta_tree.py: trees for the delta-update tests and benchmark.

    delta_tree.py make DIR FILES MB [SEED]   FILES files of MB MiB in all under DIR/data,
                                             sizes spread 1/4x .. 7/4x the mean, half
                                             incompressible, half letters (as make_tree.py)
    delta_tree.py change DIR PERCENT [SEED]  rewrites PERCENT % of DIR's files (all but
                                             DIR/bin and DIR/behaviour: the agent's)
                                             (a new random region each; every 10th one
                                             also grows by 1 KiB); prints how many

Seeded: the same arguments give the same tree."""
import os
import random
import sys

letters = bytes(b"eeeeeetttttaaaoi"[i % 16] for i in range(256))


def files_of(root):
    out = []
    for d, dirs, names in os.walk(root):
        if d == root:
            dirs[:] = [x for x in dirs if x != "bin"]
            names = [x for x in names if x != "behaviour"]
        out += [os.path.join(d, n) for n in names if not os.path.islink(os.path.join(d, n))]
    return sorted(out)


def make(root, files, mb, seed):
    rnd = random.Random(seed)
    mean = max(1024, mb * 1024 * 1024 // files)
    for i in range(files):
        d = os.path.join(root, "data", "d%02d" % (i % 20))
        os.makedirs(d, exist_ok=True)
        data = rnd.randbytes(rnd.randint(mean // 4, mean * 7 // 4))
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(data if i % 2 else data.translate(letters))


def change(root, percent, seed):
    rnd = random.Random(seed)
    paths = files_of(root)
    picked = rnd.sample(paths, max(1, len(paths) * percent // 100))
    for n, p in enumerate(picked):
        with open(p, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            at = rnd.randrange(0, max(1, size - 64))
            f.seek(at)
            f.write(rnd.randbytes(min(64, size)))
            if n % 10 == 0:
                f.seek(0, 2)
                f.write(rnd.randbytes(1024))
    print(len(picked))


if sys.argv[1] == "make":
    make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
         int(sys.argv[5]) if len(sys.argv) > 5 else 1)
else:
    change(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
