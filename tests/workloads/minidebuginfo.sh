#!/bin/sh
# minidebuginfo.sh IN OUT: OUT is the executable IN stripped of .symtab and its
# DWARF, carrying MiniDebugInfo instead (.gnu_debugdata: an xz-compressed ELF
# file holding the function symbols .dynsym lacks), made as Fedora's
# find-debuginfo makes it. Tools: binutils (objcopy, nm), xz-utils, coreutils.
set -eu
in=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

objcopy --only-keep-debug "$in" "$tmp/debug"
objcopy --strip-all "$in" "$tmp/stripped"
# the functions of the debug part's .symtab that .dynsym does not already name
nm -D --format=posix --defined-only "$tmp/stripped" | awk '{ print $1 }' | sort >"$tmp/dynsyms"
nm --format=sysv --defined-only "$tmp/debug" |
	awk -F '|' '$4 ~ /FUNC/ { sub(/ +$/, "", $1); print $1 }' | sort >"$tmp/funcsyms"
comm -13 "$tmp/dynsyms" "$tmp/funcsyms" >"$tmp/keep"
objcopy -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols="$tmp/keep" "$tmp/debug" "$tmp/mini"
xz "$tmp/mini"
objcopy --add-section .gnu_debugdata="$tmp/mini.xz" "$tmp/stripped" "$out"
