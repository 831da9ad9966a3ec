#!/usr/bin/env bash
# make bench: what memwatch costs the process it watches, side by side.
#
# Each workload runs under: nothing; the floor, empty BPF programs on exactly
# memwatch's sites (its tracepoints and its chosen uprobe sites), on its
# --no-malloc sites (tracepoints only) and on the naive offset-0 uprobe sites;
# memwatch --no-malloc; memwatch; and, when installed, a bpftrace pointer-map
# script, heaptrack (LD_PRELOAD) and strace -f -e trace=%memory. The forks row
# (forks one after another, each child a malloc+free and its exit, reaped)
# runs under nothing, memwatch -f, memwatch (children only counted) and
# strace -f. The tools run interleaved, round after round, and each number is
# the median of the rounds.
# The work is timed between the workload's "ready" and "done" lines (driver
# time), so loading and attaching are left out of ns/op and shown apart.
# Timings are for reading, never asserted. -b runs an earlier memwatch binary
# too, as memwatch-old, in the same rounds.
#
#   scripts/bench.sh [-r ROUNDS] [-s SCALE] [-w WORKLOAD,...] [-b MEMWATCH] [-o TSV] [-t TSV]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5
SCALE=1
ONLY=""
OUT=.output/bench
TSV=$OUT/results.tsv
DRIVER=$OUT/driver
FLOOR=$OUT/floor
CHANNEL=.output/workloads/channel
MEMWATCH=./memwatch
OLD_MEMWATCH=""

usage() {
	cat <<EOF
usage: scripts/bench.sh [-r ROUNDS] [-s SCALE] [-w WORKLOAD,...] [-b MEMWATCH] [-o TSV] [-t TSV]
  -r ROUNDS    interleaved rounds, the median is shown (default 5, at least 5 for a report)
  -s SCALE     multiply every workload's size (default 1; 0.1 for a quick look)
  -w LIST      only these workloads: malloc batch xthread mmap brk threads4 live1m live10m forks
               attach
  -b MEMWATCH  also run this memwatch binary (an earlier build), as memwatch-old (forks:
               memwatch-old-f, if it has -f)
  -o TSV       raw results, one line per run (default $TSV)
  -t TSV       run nothing: print the table of an earlier run's results
EOF
}

TABLE_ONLY=""
while getopts "r:s:w:b:o:t:h" opt; do
	case $opt in
	t) TABLE_ONLY=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	s) SCALE=$OPTARG ;;
	w) ONLY=",$OPTARG," ;;
	b) OLD_MEMWATCH=$OPTARG ;;
	o) TSV=$OPTARG ;;
	*) usage; [[ $opt == h ]] && exit 0; exit 2 ;;
	esac
done
# the table: medians per workload and tool, ratios within the same rounds
TABLE_AWK=$(cat <<'AWK'

function val(s,   kv) { split(s, kv, "="); return kv[2] + 0 }
function median(key, n,   i, j, t, a) {
	for (i = 0; i < n; i++) a[i] = v[key, i]
	for (i = 1; i < n; i++) for (j = i; j > 0 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
}
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
{
	split($8, f, " ")
	w = $1; t = $2
	if (!(w in seen)) { seen[w] = 1; order[nw++] = w; ops[w] = $4 * $5; unit[w] = $7; kind[w] = $6 }
	if (!((w, t) in nt)) { tord[w, ntools[w]++] = t; nt[w, t] = 0 }
	k = nt[w, t]++
	v[w SUBSEP t SUBSEP "ns", k] = val(f[1]) / ($4 * $5)
	v[w SUBSEP t SUBSEP "attach", k] = val(f[2]) / 1e6
	v[w SUBSEP t SUBSEP "cpu", k] = val(f[3])
	v[w SUBSEP t SUBSEP "elapsed", k] = val(f[1])
	if (val(f[4]) > hwm[w, t]) hwm[w, t] = val(f[4])
	counted[w, t] = $9; want[w, t] = $10
	if ($11 != "-" && $11 + 0 > lost[w, t]) lost[w, t] = $11 + 0
	if ($12 != "-" && $12 + 0 > untracked[w, t]) untracked[w, t] = $12 + 0
	if ($11 != "-") haslost[w, t] = 1
	if ($13 != "" && $13 != "-" && $13 + 0 > kmem[w]) kmem[w] = $13 + 0
	if ($9 != "-" && $9 != $10) mismatch[w, t] = 1
}
END {
	for (i = 0; i < nw; i++) {
		w = order[i]
		for (j = 0; j < ntools[w]; j++) {
			t = tord[w, j]; n = nt[w, t]
			ns[t] = median(w SUBSEP t SUBSEP "ns", n)
			at[t] = median(w SUBSEP t SUBSEP "attach", n)
			cpu[t] = median(w SUBSEP t SUBSEP "cpu", n)
			el[t] = median(w SUBSEP t SUBSEP "elapsed", n)
		}
		printf "\n%s: %d x %s, median of %d (ns per op)\n", w, ops[w], unit[w], nt[w, "base"]
		printf "%-20s %9s %9s %8s %8s %8s %23s %5s %5s %9s %6s %8s %8s\n", "tool", "ns/op", "+ns/op",
		       "x base", "x floor", "x naive", "events counted/expected", "lost", "untr", "cpu/Mev", "cpu%", "peak RSS", "attach"
		for (j = 0; j < ntools[w]; j++) {
			t = tord[w, j]
			own = (t == "memwatch-no-malloc" || t == "strace" || kind[w] == "sys") ? "floor-tp" : "floor"
			fl = (t ~ /^floor/ || t == "base") ? "-" : ratio(ns[t], ns[own])
			nv = (kind[w] == "heap" && t !~ /^(base|floor|memwatch-no-malloc)/) ? ratio(ns[t], ns["floor-naive"]) : "-"
			ev = "-"; cm = "-"; cp = "-"; rss = "-"; att = "-"; lo = "-"; un = "-"
			if (t ~ /^memwatch/) {
				if (counted[w, t] != "-")
					ev = counted[w, t] "/" want[w, t] (mismatch[w, t] ? " MISMATCH" : "")
				if (haslost[w, t]) { lo = lost[w, t] + 0; un = untracked[w, t] + 0 }
				evs = (counted[w, t] != "-" ? counted[w, t] : ops[w])
				# a fork's is in microseconds: said under the table
				cm = kind[w] == "fork" ? "-" : sprintf("%.1fms", cpu[t] / 1e6 / (evs / 1e6))
				cp = sprintf("%.2f", 100 * cpu[t] / el[t])
				rss = sprintf("%.1fM", hwm[w, t] / 1024)
				att = sprintf("%.0fms", at[t])
			} else if (t != "base") {
				att = sprintf("%.0fms", at[t])
			}
			printf "%-20s %9.0f %9.0f %8s %8s %8s %23s %5s %5s %9s %6s %8s %8s\n", t, ns[t], ns[t] - ns["base"],
			       ratio(ns[t], ns["base"]), fl, nv, ev, lo, un, cm, cp, rss, att
		}
		if (w == "malloc" && ns["memwatch"] > 0) {
			printf "  memwatch/floor %.2f (target <= 1.10)", ns["memwatch"] / ns["floor"]
			if ("bpftrace" in ns && ns["bpftrace"] > 0)
				printf ", bpftrace/memwatch %.1fx (target >= 4)", ns["bpftrace"] / ns["memwatch"]
			if ("heaptrack" in ns && ns["heaptrack"] > 0)
				printf ", memwatch/heaptrack %.2f (stretch <= 1)", ns["memwatch"] / ns["heaptrack"]
			printf "\n"
		}
		if (w ~ /^live/ && kmem[w] > 0)
			printf "  memwatch's kernel memory (BPF maps, live table included): %.0f MiB at most\n", kmem[w] / 1048576
		if (w == "brk")
			printf "  --no-malloc: +%.0f ns per brk (target <= 150)\n", ns["memwatch-no-malloc"] - ns["base"]
		if (w == "mmap")
			printf "  --no-malloc: %+.1f%% per iteration (target <= 3%%)\n", 100 * (ns["memwatch-no-malloc"] / ns["base"] - 1)
		if (kind[w] == "fork") {
			printf "  memwatch-f is memwatch -f, memwatch counts the children only; memwatch's own CPU per fork:"
			sep = " "
			for (j = 0; j < ntools[w]; j++) {
				t = tord[w, j]
				if (t ~ /^memwatch/) {
					printf "%s%s %.0f us", sep, t, cpu[t] / ops[w] / 1000
					sep = ", "
				}
			}
			printf "\n"
			for (j = 0; j < ntools[w]; j++) {
				t = tord[w, j]
				if (t ~ /-f$/ && mismatch[w, t])
					printf "  ERROR: %s did not follow every child (its last run: %s of %s): its row measures less than -f\n",
					       t, counted[w, t], want[w, t]
			}
		}
		delete ns; delete at; delete cpu; delete el
	}
	printf "\ncpu/Mev: memwatch's own CPU per million counted events; cpu%%: of one core during the work;\n"
	printf "attach: start to the workload's first instruction of work. Raw runs: %s\n", tsv
}
AWK
)
print_table() {
	awk -F'\t' "$TABLE_AWK" tsv="$1" "$1"
}

if [[ -n $TABLE_ONLY ]]; then
	print_table "$TABLE_ONLY"
	exit 0
fi
if ((EUID != 0)); then
	echo "bench.sh: needs root to load BPF programs" >&2
	exit 1
fi
for f in "$MEMWATCH" "$DRIVER" "$FLOOR" "$CHANNEL" $OLD_MEMWATCH; do
	[[ -x $f ]] || { echo "bench.sh: $f is not built: run make bench" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$TSV")"
: >"$TSV"

# name | N | operations per N | unit | heap or sys | command (started held: -w -W)
WORKLOADS=(
	"malloc|500000|1|malloc(64)+free pair|heap|$DRIVER work -w -W -n {N} malloc"
	"batch|300000|1|item sent and received (boxed)|heap|$CHANNEL -q -w -W -t boxed -n {N} batch"
	"xthread|300000|1|item, producer and consumer threads|heap|$CHANNEL -q -w -W -n {N} xthread"
	"mmap|2000|1|mmap 1 MiB, touch, DONTNEED, munmap|sys|$DRIVER work -w -W -n {N} mmap"
	"brk|300000|1|brk(0) call|sys|$DRIVER work -w -W -n {N} brk"
	"threads4|150000|4|malloc(64)+free pair, 4 threads at once|heap|$DRIVER work -w -W -n {N} threads"
	# memwatch alone with a million blocks live at once (not scaled): nothing lost or untracked
	"live1m|1000000|1|item, all 1M live before any is freed|heap|$CHANNEL -q -w -W -t boxed -n {N} batch"
	"live10m|10000000|1|item, all 10M live before any is freed|heap|$CHANNEL -q -w -W -t boxed -n {N} batch"
	"forks|1000|1|fork, child's malloc+free and exit, reaped|fork|$DRIVER work -w -W -n {N} fork"
)

have() { command -v "$1" >/dev/null 2>&1; }

LIBC=$(ldd "$DRIVER" | awk '/libc\.so/ { print $3; exit }')
sed "s|LIBC|$LIBC|g" tests/bench/ptrmap.bt >"$tmp/ptrmap.bt"

# the tools for a workload, one a line, in the order of a round
tools_for() {
	local name=$1 kind=$2
	if [[ $name == live* ]]; then
		printf '%s\n' base memwatch
		[[ -n $OLD_MEMWATCH ]] && echo memwatch-old
		return 0
	fi
	if [[ $kind == fork ]]; then
		printf '%s\n' base memwatch-f memwatch
		# a build from before -f has no forks row
		[[ -n $OLD_MEMWATCH ]] && "$OLD_MEMWATCH" --help 2>/dev/null | grep -q -- --follow-forks &&
			echo memwatch-old-f
		have strace && echo strace
		return 0
	fi
	printf '%s\n' base floor floor-tp
	[[ $kind == heap ]] && echo floor-naive
	printf '%s\n' memwatch-no-malloc memwatch
	# allocations' stacks: what --stacks (sampled) and --stacks=all cost
	[[ $kind == heap ]] && printf '%s\n' memwatch-sampled memwatch-stacks
	[[ -n $OLD_MEMWATCH ]] && echo memwatch-old
	if [[ $kind == heap ]]; then
		have bpftrace && echo bpftrace
		have heaptrack && echo heaptrack
	else
		have strace && echo strace
	fi
	return 0
}

# run_one TOOL CMD...: one timed run; prints the driver's measurement line
run_one() {
	local tool=$1
	shift
	local -a pre=()
	rm -f "$tmp/time"
	case $tool in
	base) ;;
	floor) pre=("$FLOOR" --sites chosen --) ;;
	floor-tp) pre=("$FLOOR" --sites none --) ;;
	floor-naive) pre=("$FLOOR" --sites naive --) ;;
	memwatch) pre=("$MEMWATCH" --json -o "$tmp/mw.json" --) ;;
	memwatch-f) pre=("$MEMWATCH" -f --json -o "$tmp/mw.json" --) ;;
	memwatch-sampled) pre=("$MEMWATCH" --stacks --json -o "$tmp/mw.json" --) ;;
	memwatch-stacks) pre=("$MEMWATCH" --stacks=all --json -o "$tmp/mw.json" --) ;;
	memwatch-old) pre=("$OLD_MEMWATCH" --json -o "$tmp/mw.json" --) ;;
	memwatch-old-f) pre=("$OLD_MEMWATCH" -f --json -o "$tmp/mw.json" --) ;;
	memwatch-no-malloc) pre=("$MEMWATCH" --no-malloc --json -o "$tmp/mw.json" --) ;;
	heaptrack) pre=(heaptrack -o "$tmp/heaptrack") ;;
	strace) pre=(strace -f -e trace=%memory -o "$tmp/strace.out" --) ;;
	bpftrace)
		"$DRIVER" time -o "$tmp/time" -- bpftrace -c "$*" "$tmp/ptrmap.bt" \
			>"$tmp/out" 2>"$tmp/err" || return 1
		cat "$tmp/time"
		return 0 ;;
	esac
	"$DRIVER" time -o "$tmp/time" -- "${pre[@]}" "$@" >"$tmp/out" 2>"$tmp/err" || return 1
	cat "$tmp/time"
	rm -f "$tmp/heaptrack"* "$tmp/strace.out"
}

# counted events from memwatch's summary: heap "allocs+known frees", sys "traced syscalls",
# fork the children watched with -f (every one, or the row measures less than -f's cost),
# else those counted as not followed
mw_counts() {
	python3 - "$tmp/mw.json" "$1" "$2" <<'EOF'
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
p = summary["process"]
s = p["syscalls"]
t = summary["total"]
if sys.argv[2] == "heap":
    counted = p["alloc_calls"] + p["free_calls"] - p["free_unknown_calls"]
elif sys.argv[2] == "fork":
    counted = t["processes"] - 1 if sys.argv[3].endswith("-f") else t["forks_not_followed"]
else:
    counted = s["mmap"] + s["madvise"] + s["munmap"] + s["brk"]
# --stacks: its records that found the ring buffer full are lost events too
lost = p["lost_events"] + summary.get("stacks", {}).get("lost", 0)
print(counted, lost, p["untracked_allocs"], p.get("kernel_memory_peak_bytes", 0))
EOF
}

# what the workload says it did: heap allocs+frees, sys its syscalls, fork its forks
expected() {
	local kind=$1
	awk -v kind="$kind" '/^total / {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print (kind == "heap") ? v["allocs"] + v["frees"] : (kind == "fork") ? v["forks"] : v["syscalls"]
	}' "$tmp/out"
}

scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { x = int(n * s); print x < 1 ? 1 : x }'; }

echo "memwatch bench: $(nproc) cores, Linux $(uname -r | cut -d- -f1), $(ldd --version | head -1 | awk '{ print $NF }' | sed 's/^/glibc /'), $ROUNDS rounds, scale $SCALE"
missing=""
have bpftrace || missing+=" bpftrace"
have heaptrack || missing+=" heaptrack"
have strace || missing+=" strace"
[[ -n $missing ]] && echo "not installed, left out:$missing"

for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name n mult unit kind cmd <<<"$w"
	[[ -n $ONLY && $ONLY != *",$name,"* ]] && continue
	[[ $name == live* ]] || n=$(scaled "$n")
	read -ra argv0 <<<"${cmd//\{N\}/0}"
	read -ra argv <<<"${cmd//\{N\}/$n}"
	printf '%s: %s x %s...' "$name" "$n" "$unit" >&2
	mapfile -t tools < <(tools_for "$name" "$kind")
	# memwatch's count of an empty run: what the process does besides the work
	declare -A zero=()
	for tool in "${tools[@]}"; do
		[[ $tool == memwatch* ]] || continue
		run_one "$tool" "${argv0[@]}" >/dev/null || { echo "bench.sh: $tool failed on $name" >&2; cat "$tmp/err" >&2; exit 1; }
		read -r zero[$tool] _ <<<"$(mw_counts "$kind" "$tool")"
	done
	for ((r = 0; r < ROUNDS; r++)); do
		# each round starts one tool later: no tool always runs first
		for ((i = 0; i < ${#tools[@]}; i++)); do
			tool=${tools[(i + r) % ${#tools[@]}]}
			line=$(run_one "$tool" "${argv[@]}") || { echo "bench.sh: $tool failed on $name" >&2; cat "$tmp/err" >&2; exit 1; }
			counted=- lost=- untracked=- want=- kmem=-
			if [[ $tool == memwatch* ]]; then
				read -r counted lost untracked kmem <<<"$(mw_counts "$kind" "$tool")"
				counted=$((counted - ${zero[$tool]}))
				want=$(expected "$kind")
				[[ $tool == memwatch-no-malloc && $kind == heap ]] && counted=- want=-
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$tool" "$r" \
				"$n" "$mult" "$kind" "$unit" "$line" "$counted" "$want" "$lost" "$untracked" \
				"$kmem" >>"$TSV"
		done
		printf ' %d' $((r + 1)) >&2
	done
	echo >&2
done

print_table "$TSV"

# memwatch -p of a busy target: its start to counting, apart from the table
if [[ -z $ONLY || $ONLY == *",attach,"* ]]; then
	echo
	tests/bench/attach_busy.py -r "$ROUNDS" memwatch="$MEMWATCH" \
		${OLD_MEMWATCH:+memwatch-old="$OLD_MEMWATCH"}
fi
