# install_report.awk: the figures of tests/bench/install.sh as markdown.
#   awk -f install_report.awk TOOLS RUNS
# TOOLS: "ID|LABEL|KIND|COMMAND" lines; RUNS: "ROUND ID NANOSECONDS RSS_KB
# USER_S SYS_S" lines.  Prints the table (median wall and its range, medians
# of the per-round paired ratios to bsdtar gzip and to GNU tar --zstd, median
# CPU time, largest peak RSS) and the aims
# of docs/benchmarks.md, each with its figure and whether it is met.  Portable awk
# (Debian's default is mawk: no asort).

function median(v, n,    i, j, x) {
	for (i = 2; i <= n; i++) {
		x = v[i]
		for (j = i - 1; j >= 1 && v[j] > x; j--)
			v[j + 1] = v[j]
		v[j + 1] = x
	}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

# wall(ID): median seconds; -1 when the tool has no run
function wall(id,    r, n, v) {
	n = 0
	for (r = 1; r <= rounds; r++)
		if ((id, r) in t)
			v[++n] = t[id, r] / 1e9
	return n ? median(v, n) : -1
}

# range(ID): "min-max" wall seconds
function range(id,    r, lo, hi) {
	lo = -1
	for (r = 1; r <= rounds; r++)
		if ((id, r) in t) {
			if (lo < 0 || t[id, r] < lo) lo = t[id, r]
			if (t[id, r] > hi) hi = t[id, r]
		}
	return lo < 0 ? "n/a" : sprintf("%.2f-%.2f", lo / 1e9, hi / 1e9)
}

# cpu(ID): median user + system seconds
function cpu(id,    r, n, v) {
	n = 0
	for (r = 1; r <= rounds; r++)
		if ((id, r) in c)
			v[++n] = c[id, r]
	return n ? median(v, n) : -1
}

# ratio(ID, BASE, OFFSET): median over rounds of (ID's time - OFFSET s) / BASE's
function ratio(id, base, off,    r, n, v) {
	n = 0
	for (r = 1; r <= rounds; r++)
		if ((id, r) in t && (base, r) in t)
			v[++n] = (t[id, r] / 1e9 - off) / (t[base, r] / 1e9)
	return n ? median(v, n) : -1
}

function fmt(x, f) { return x < 0 ? "n/a" : sprintf(f, x) }

function aim(what, x, limit) {
	printf "- %s: %s, aim <= %.2f: %s\n", what, fmt(x, "%.2f"), limit,
		x < 0 ? "not measured" : (x <= limit ? "met" : "not met")
}

FNR == NR {
	split($0, f, "|")
	ids[++ntools] = f[1]
	label[f[1]] = f[2]
	next
}
{
	t[$2, $1] = $3
	c[$2, $1] = $5 + $6
	if ($4 > rss[$2]) rss[$2] = $4
	if ($1 > rounds) rounds = $1
}
END {
	print "| tool | wall s | range s | x bsdtar gzip | x tar --zstd | CPU s | peak RSS MiB |"
	print "|---|---|---|---|---|---|---|"
	for (i = 1; i <= ntools; i++) {
		id = ids[i]
		printf "| %s | %s | %s | %s | %s | %s | %s |\n", label[id], fmt(wall(id), "%.2f"),
			range(id), fmt(ratio(id, "bsdtar-gz", 0), "%.2f"), fmt(ratio(id, "tar-zst", 0), "%.2f"),
			fmt(cpu(id), "%.2f"), (id in rss) ? sprintf("%.1f", rss[id] / 1024) : "n/a"
	}
	print ""
	print "Aims (docs/benchmarks.md), paired ratios:"
	print ""
	aim("`slotupd install` gzip from file / bsdtar gzip", ratio("file-gz", "bsdtar-gz", 0), 0.6)
	aim("`slotupd install` gzip from http / bsdtar gzip", ratio("http-gz", "bsdtar-gz", 0), 0.6)
	aim("`slotupd install` zstd from file / `tar --zstd`", ratio("file-zst", "tar-zst", 0), 0.6)
	aim("`slotupd install` zstd from http / `tar --zstd`", ratio("http-zst", "tar-zst", 0), 0.6)
	aim("http / file, gzip", ratio("http-gz", "file-gz", 0), 1.1)
	aim("http / file, zstd", ratio("http-zst", "file-zst", 0), 1.1)
	peak = -1
	for (i = 1; i <= ntools; i++)
		if (ids[i] ~ /^(file|http)-/ && (ids[i] in rss) && rss[ids[i]] / 1024 > peak)
			peak = rss[ids[i]] / 1024
	printf "- peak RSS of `slotupd install`, any row: %s MiB, aim < 16: %s\n", fmt(peak, "%.1f"),
		peak < 0 ? "not measured" : (peak < 16 ? "met" : "not met")
	if (("swu-gz", 1) in t || ("swu-zst", 1) in t) {
		print ""
		print "SWUpdate's `-i` sleeps 1 s before it exits (a 1 s `clock_nanosleep` under strace,"
		print "also with a 100-file image); without that second it would take"
		printf "%s x bsdtar gzip (gzip) and %s x `tar --zstd` (zstd).\n",
			fmt(ratio("swu-gz", "bsdtar-gz", 1), "%.2f"), fmt(ratio("swu-zst", "tar-zst", 1), "%.2f")
	}
}
