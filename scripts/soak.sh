#!/usr/bin/env bash
# Soak: memwatch watches, for a while (default 10 minutes), a process that never
# stops allocating, freeing and starting threads; memwatch's own RSS is sampled
# every 10 seconds and must stay flat.
#   sudo scripts/soak.sh [SECONDS]
# Exits 1 if memwatch's RSS at the end is more than 10% above its RSS after warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
make -s all

/usr/bin/python3 -c '
import threading
def work():
    blocks = [bytearray(1000) for _ in range(1000)]
while True:
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
' &
target=$!
trap 'kill $target 2>/dev/null || true' EXIT
# attach once the loader has mapped libc, not while the fork is still exec'ing
until grep -q 'libc\.so' "/proc/$target/maps" 2>/dev/null; do sleep 0.1; done

timeout -s INT "$seconds" ./memwatch --json -o /dev/null -p "$target" &
mw=$!
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$mw/status" 2>/dev/null; }

sleep 10	# warm-up: maps, buffers and the first rows are allocated
first=$(rss)
last=$first
while kill -0 "$mw" 2>/dev/null; do
	now=$(rss) && [[ -n $now ]] && last=$now && echo "$(date +%T) memwatch rss $now kB"
	sleep 10
done
wait "$mw" || true
echo "memwatch rss: ${first} kB after warm-up, ${last} kB at the end"
((last * 10 <= first * 11))
