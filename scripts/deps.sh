#!/usr/bin/env bash
# Installs memwatch's build and test dependencies from Debian packages.
# Idempotent: when everything is present it only checks, in well under a second.
#   scripts/deps.sh          install what is missing
#   scripts/deps.sh --check  exit 1 (listing them) if something is missing
#   --bench                  also the peers make bench compares against
set -euo pipefail

check=""
bench=""
for arg in "$@"; do
	case $arg in
	--check) check=1 ;;
	--bench) bench=1 ;;
	*) echo "usage: scripts/deps.sh [--check] [--bench]" >&2; exit 2 ;;
	esac
done

packages=(
	make gcc clang pkg-config	# build
	g++				# the C++ workload of the --stacks language tests
	bpftool libbpf-dev libelf-dev zlib1g-dev	# BPF skeletons and loader
	libdw-dev libiberty-dev		# --stacks: unwinding and symbols (elfutils), demangling
	# --pprof: protoc-c and its library, pprof's profile.proto (compiled to C at build time)
	protobuf-c-compiler libprotobuf-c-dev golang-github-google-pprof-dev
	libncurses-dev			# the live view (ncursesw)
	libcapstone-dev			# decoding prologues to choose uprobe sites
	libmicrohttpd-dev		# --listen: the metrics endpoint's HTTP server
	python3 tmux gdb		# integration test drivers; tmux runs the live view,
					# gdb holds memwatch at each stage of its attach
	util-linux strace		# test_privilege: setpriv; a run that writes no file
	binutils xz-utils		# the sites workload stripped, split, with MiniDebugInfo
	libc6-dev libclang-rt-14-dev	# the static workload; libFuzzer and sanitizer runtimes
	golang-go musl-tools		# the Go workload; the static musl workload
	libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0	# preloaded allocators under test
	debhelper dpkg-dev lintian	# test_package: the .deb, built and checked
	bash-completion			# test_completion: the functions the completion uses
	prometheus			# test_metrics: a real Prometheus scrapes --listen; promtool
	postgresql-15 postgresql-client-15	# test_cgroup: a real server's processes, pgbench
)
[[ $bench ]] && packages+=(bpftrace heaptrack)

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if [[ $check ]]; then
	((${#missing[@]} == 0)) && exit 0
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi

((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null; then
	echo "deps.sh: no apt-get here; install these packages by hand: ${missing[*]}" >&2
	exit 1
fi
if ((EUID != 0)); then
	echo "deps.sh: installing ${missing[*]} needs root: run 'sudo scripts/deps.sh'" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
