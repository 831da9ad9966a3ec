// go_heap - the Go workload of memwatch's scenarios 4 and 5 (docs/scenarios.md).
//
// Go has no libc malloc: its heap grows with anonymous mmap and goes back to
// the OS with madvise, by the background scavenger or at once with
// debug.FreeOSMemory(). Each mode builds a heap, drops every reference, runs
// the GC, then calls FreeOSMemory; it prints what it did and what the runtime
// says (runtime.MemStats) at each step.
//
//	go_heap MODE [OPTIONS]   (or go_heap [OPTIONS] MODE)
//
// Modes:
//
//	channel   fill a buffered channel with N messages of SIZE bytes, drain it, drop it
//	map       fill a global map with N values of SIZE bytes, delete every key (the map stays)
//	recycler  N iterations, each a new 5-10 MiB buffer (deterministic sizes), every page
//	          written, the last KEEP kept; --pool reuses buffers from a free list
//
// Order: -w hand-off, the work, runtime.GC(), the "dropped" point, debug.FreeOSMemory(), the
// "freed" point, the report. The main goroutine stays on one OS thread (LockOSThread), so the
// madvise calls of FreeOSMemory are that thread's: its TID is in the report.
//
// Output: on stderr `ready pid=PID` (-w), then with -W `dropped pid=PID tid=TID` and
// `freed pid=PID tid=TID`, each followed by a wait for a line (or EOF) on stdin. On stdout, at
// the end, one line per step and the total:
//
//	step name=NAME heap_alloc=B heap_inuse=B heap_idle=B heap_released=B heap_sys=B sys=B
//	total mode=MODE n=N size=S bytes=B buffers=K tid=TID
//
// bytes: what the program allocated for its items (requested sizes); buffers: recycler
// buffers allocated (not reused). Build: go build -o go_heap go_heap.go (std only).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

const mib = 1 << 20

var (
	count    = flag.String("n", "", "items or iterations (k, M, G: 10^3, 10^6, 10^9)")
	size     = flag.String("s", "", "bytes per item (K, M, G: 2^10, 2^20, 2^30)")
	keep     = flag.Int("k", 20, "recycler: buffers kept alive")
	pool     = flag.Bool("pool", false, "recycler: reuse buffers from a free list")
	waitFlag = flag.Bool("w", false, "print `ready pid=PID` on stderr, then start on a line on stdin")
	waitEnd  = flag.Bool("W", false, "wait for a line on stdin after the GC and after FreeOSMemory")

	stdin = bufio.NewReader(os.Stdin)
	steps []string

	// the map mode's map: global, so it outlives its keys
	global map[int][]byte
	// keeps written buffers from being optimised away
	sink byte
)

func fail(status int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_heap: "+format+"\n", args...)
	os.Exit(status)
}

// parseNumber reads "10", "10k" (decimal suffixes) or "64K" (binary suffixes).
func parseNumber(s string, binary bool) uint64 {
	mult := uint64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1000
			if binary {
				mult = 1 << 10
			}
		case 'M':
			mult = 1000000
			if binary {
				mult = 1 << 20
			}
		case 'G':
			mult = 1000000000
			if binary {
				mult = 1 << 30
			}
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		fail(2, "not a number: %q", s)
	}
	return v * mult
}

func waitLine() {
	// a line or EOF, as the C workload does
	_, _ = stdin.ReadString('\n')
}

func step(name string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	steps = append(steps, fmt.Sprintf("step name=%s heap_alloc=%d heap_inuse=%d heap_idle=%d "+
		"heap_released=%d heap_sys=%d sys=%d", name, ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle,
		ms.HeapReleased, ms.HeapSys, ms.Sys))
}

// touch writes one byte per page, so every page becomes resident.
func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = byte(i)
	}
	sink += b[len(b)-1]
}

func runChannel(n, size uint64) uint64 {
	ch := make(chan []byte, n)
	for i := uint64(0); i < n; i++ {
		b := make([]byte, size)
		b[0] = byte(i)
		ch <- b
	}
	for i := uint64(0); i < n; i++ {
		b := <-ch
		sink += b[0]
	}
	return n * size
}

func runMap(n, size uint64) uint64 {
	global = make(map[int][]byte)
	for i := 0; i < int(n); i++ {
		b := make([]byte, size)
		b[0] = byte(i)
		global[i] = b
	}
	for i := 0; i < int(n); i++ {
		delete(global, i)
	}
	return n * size
}

// bufferSize is the i-th buffer's size: 5 MiB to 10 MiB in 1/8 MiB steps, the same every run.
func bufferSize(i uint64) uint64 {
	return 5*mib + (i*37%41)*mib/8
}

func runRecycler(n uint64) (uint64, uint64) {
	var kept, free [][]byte
	var bytes, buffers uint64
	for i := uint64(0); i < n; i++ {
		var b []byte
		if *pool {
			if len(free) > 0 {
				b = free[len(free)-1]
				free = free[:len(free)-1]
			} else {
				b = make([]byte, 10*mib)
				bytes += 10 * mib
				buffers++
			}
			b = b[:bufferSize(i)]
		} else {
			b = make([]byte, bufferSize(i))
			bytes += bufferSize(i)
			buffers++
		}
		touch(b)
		kept = append(kept, b)
		if len(kept) > *keep {
			if *pool {
				free = append(free, kept[0][:cap(kept[0])])
			}
			kept[0] = nil
			kept = kept[1:]
		}
	}
	return bytes, buffers
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go_heap channel|map|recycler [OPTIONS]\n")
		flag.PrintDefaults()
	}
	// the mode first, as for the C workload, or after the options
	args := os.Args[1:]
	mode := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	flag.CommandLine.Parse(args)
	if mode == "" && flag.NArg() == 1 {
		mode = flag.Arg(0)
	} else if flag.NArg() != 0 || mode == "" {
		flag.Usage()
		os.Exit(2)
	}
	defaults := map[string][2]string{
		"channel":  {"1M", "128"},
		"map":      {"1M", "128"},
		"recycler": {"60", "0"},
	}
	def, ok := defaults[mode]
	if !ok {
		fail(2, "unknown mode %q", mode)
	}
	if *count == "" {
		*count = def[0]
	}
	if *size == "" {
		*size = def[1]
	}
	n := parseNumber(*count, false)
	sz := parseNumber(*size, true)
	if mode != "recycler" && sz == 0 {
		fail(2, "size must be at least 1")
	}

	// the madvise calls of FreeOSMemory run on the calling goroutine's thread: keep it one
	runtime.LockOSThread()
	tid := syscall.Gettid()
	pid := os.Getpid()
	if *waitFlag {
		fmt.Fprintf(os.Stderr, "ready pid=%d\n", pid)
		waitLine()
	}
	step("start")

	var bytes, buffers uint64
	switch mode {
	case "channel":
		bytes = runChannel(n, sz)
	case "map":
		bytes = runMap(n, sz)
	case "recycler":
		bytes, buffers = runRecycler(n)
	}
	step("worked")
	runtime.GC()
	step("dropped")
	if *waitEnd {
		fmt.Fprintf(os.Stderr, "dropped pid=%d tid=%d\n", pid, tid)
		waitLine()
	}
	debug.FreeOSMemory()
	step("freed")
	if *waitEnd {
		fmt.Fprintf(os.Stderr, "freed pid=%d tid=%d\n", pid, tid)
		waitLine()
	}
	fmt.Println(strings.Join(steps, "\n"))
	fmt.Printf("total mode=%s n=%d size=%d bytes=%d buffers=%d tid=%d map_len=%d\n", mode, n, sz,
		bytes, buffers, tid, len(global))
	runtime.KeepAlive(global)
}
