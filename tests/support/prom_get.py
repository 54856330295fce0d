#!/usr/bin/python3
"""prom_get.py FILE [METRIC{labels}]: reads a Prometheus text file strictly.

Every line must be a comment (# HELP / # TYPE) or `name{label="v",...} value`
with a number for value, or the script fails naming the line.  With METRIC
(exactly as the sample writes it, labels in their order), prints its value;
without, prints every sample as `key value`.  Exit 1 when METRIC is absent."""
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?) (\S+)$')

samples = {}
with open(sys.argv[1], encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"{sys.argv[1]}:{number}: not a sample: {line!r}")
        float(m.group(2))
        if m.group(1) in samples:
            sys.exit(f"{sys.argv[1]}:{number}: {m.group(1)} twice")
        samples[m.group(1)] = m.group(2)
if len(sys.argv) > 2:
    if sys.argv[2] not in samples:
        sys.exit(1)
    print(samples[sys.argv[2]])
else:
    for key, value in samples.items():
        print(key, value)
