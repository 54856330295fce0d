# tests/bench/common.sh: what every benchmark script starts with.  Sourced
# with the script's arguments (RELEASE_BUILD_DIR OUTDIR); sets build, out
# (created) and top as absolute paths, and the tree the install and extract
# benchmarks share, so their figures stay comparable: files (BENCH_FILES,
# 10000), mb (BENCH_MB, 200), dirs (top directories for make_tree.py, 200),
# runs (BENCH_RUNS, 3).  The defaults are BENCHMARKS.md's tree: 10,000 files
# in 800 directories, 213 MB, half incompressible.  BENCH_QUICK=1: 500 files
# in 40 directories, 10 MB, one run; quick says whether it was asked.
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
files=${BENCH_FILES:-10000}
mb=${BENCH_MB:-200}
dirs=200
runs=${BENCH_RUNS:-3}
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then files=500; mb=10; dirs=10; runs=1; fi
