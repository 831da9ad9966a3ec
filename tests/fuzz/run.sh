#!/usr/bin/env bash
# Runs each libFuzzer target for a fixed time on a fresh copy of its seed corpus
# (fixtures and a real ELF), printing one TAP line per target. A crash fails it.
#   FUZZ_SECONDS=5 tests/fuzz/run.sh [FUZZER...]   (default: every .output/fuzz/fuzz_*)
set -u
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-5}
(($#)) || set -- .output/fuzz/fuzz_*
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
n=0 failed=0

for fuzzer in "$@"; do
	name=${fuzzer##*/}
	corpus=$seeds/$name
	mkdir -p "$corpus"
	case $name in
	fuzz_status) cp tests/unit/fixtures/status_* "$corpus" ;;
	fuzz_maps) cp tests/unit/fixtures/maps_* tests/unit/fixtures/ldd_* "$corpus" ;;
	fuzz_smaps) head -c 20000 /proc/self/smaps >"$corpus/self" ;;
	fuzz_elf) cp /bin/true "$corpus" ;;
	fuzz_go) cp tests/unit/fixtures/maps_* "$corpus"; printf '\377 Go buildinf:\010\002%16s\010go1.19.8' >"$corpus/buildinfo" ;;
	fuzz_escape) printf '\020\033]0;OWNED\007\033[2J\r\n\233\302\233\377\303(\342\202\\' >"$corpus/names" ;;
	esac
	n=$((n + 1))
	if out=$("$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$seeds/" "$corpus" 2>&1); then
		runs=$(grep -oE 'Done [0-9]+ runs' <<<"$out" | tail -n1)
		echo "ok $n - $name: ${runs:-no crash} in ${seconds}s"
	else
		echo "not ok $n - $name: crashed"
		grep -E 'ERROR|SUMMARY|#[0-9]+ ' <<<"$out" | head -n 20 | sed 's/^/#   /'
		failed=1
	fi
done
echo "1..$n"
exit $failed
