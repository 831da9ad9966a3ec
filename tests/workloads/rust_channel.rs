//! rust_channel - the Rust programs of memwatch's scenarios 1 and 2 (docs/scenarios.md), std only.
//!
//! Items go through a real `std::sync::mpsc` channel: `u64` values (`-t value`: the channel's
//! own 504-byte blocks of 31 slots) or `Box<u64>` (`-t boxed`: also one `malloc(8)` per message,
//! freed by the receiver).
//!
//!     rust_channel MODE [OPTIONS]
//!
//! Modes:
//!     paired   one thread: send, receive, send, receive... (RSS stays low)
//!     batch    one thread: send all N, then receive all N (RSS stays high with boxed items)
//!     threads  main starts worker1, which starts worker2...; each worker does a batch, then joins
//!              its child; main joins worker1, then does its own batch (per-thread arenas)
//!
//! Options: -n N (k, M, G: 10^3, 10^6, 10^9; default 1M), -t value|boxed (default boxed),
//! -T THREADS (threads mode: main plus THREADS-1 workers, default 3), -w (print `ready pid=PID`
//! on stderr, then start on a line or EOF on stdin), -W (after the work: print `done pid=PID` on
//! stderr, then go on on a line or EOF), -q (only the total line).
//!
//! What it did: a counting global allocator (around the system allocator, so every call still
//! reaches libc's malloc family) counts, per thread, the calls made while the thread works on
//! its channel: from creating it to dropping it. `realloc` counts as a free plus an allocation,
//! as memwatch counts it. The report, on stdout at the end, in the order threads finished:
//!
//!     thread tid=TID role=ROLE allocs=A alloc_bytes=B frees=F free_bytes=G
//!     total mode=MODE type=TYPE n=N allocs=A alloc_bytes=B frees=F free_bytes=G
//!
//! A `-n 0` run still creates and drops its channels, so the item work is the difference between
//! an N run and a 0 run. Nothing allocated outside those windows depends on N: the report is
//! formatted straight into stdout's fixed buffer.
//!
//! Build: rustc --edition 2021 -O rust_channel.rs
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;

extern "C" {
    // glibc 2.30 on; std already links libc
    fn gettid() -> i32;
}

#[derive(Clone, Copy, Default)]
struct Counts {
    allocs: u64,
    alloc_bytes: u64,
    frees: u64,
    free_bytes: u64,
}

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNTS: Cell<Counts> = const { Cell::new(Counts { allocs: 0, alloc_bytes: 0, frees: 0, free_bytes: 0 }) };
}

struct Counting;

fn record(alloc: Option<usize>, free: Option<usize>) {
    // try_with: never fails for these const, drop-free cells, even while a thread exits
    let _ = COUNTING.try_with(|on| {
        if !on.get() {
            return;
        }
        let _ = COUNTS.try_with(|c| {
            let mut v = c.get();
            if let Some(size) = alloc {
                v.allocs += 1;
                v.alloc_bytes += size as u64;
            }
            if let Some(size) = free {
                v.frees += 1;
                v.free_bytes += size as u64;
            }
            c.set(v);
        });
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            record(Some(layout.size()), None);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            record(Some(layout.size()), None);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        record(None, Some(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            record(Some(new_size), Some(layout.size()));
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Paired,
    Batch,
    Threads,
}

#[derive(Clone, Copy, PartialEq)]
enum ItemType {
    Value,
    Boxed,
}

#[derive(Clone, Copy)]
struct Options {
    mode: Mode,
    item: ItemType,
    count: u64,
    threads: usize,
    wait_start: bool,
    wait_end: bool,
    quiet: bool,
}

/// A finished thread's account; a fixed table, so reporting allocates nothing that depends on N.
#[derive(Clone, Copy)]
struct Record {
    tid: i32,
    role: usize, // 0 main, k workerk
    counts: Counts,
}

const MAX_THREADS: usize = 64;

static FINISHED: Mutex<([Option<Record>; MAX_THREADS], usize)> = Mutex::new(([None; MAX_THREADS], 0));

fn usage_error(msg: &str) -> ! {
    eprintln!("rust_channel: {}", msg);
    std::process::exit(2);
}

fn parse_count(s: &str) -> u64 {
    let (digits, mult) = match s.chars().last() {
        Some('k') | Some('K') => (&s[..s.len() - 1], 1_000),
        Some('M') => (&s[..s.len() - 1], 1_000_000),
        Some('G') => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    match digits.parse::<u64>() {
        Ok(v) => v * mult,
        Err(_) => usage_error(&format!("not a count: {:?}", s)),
    }
}

/// The command line, read from /proc/self/cmdline into a stack buffer: `std::env::args` copies
/// each argument to the heap, and `-n 1000000` against `-n 0` would then differ in bytes
/// allocated outside the counted work.
fn parse_options() -> Options {
    let mut buf = [0u8; 4096];
    let mut len = 0;
    let mut file = std::fs::File::open("/proc/self/cmdline")
        .unwrap_or_else(|e| usage_error(&format!("/proc/self/cmdline: {}", e)));
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => usage_error(&format!("/proc/self/cmdline: {}", e)),
        }
    }
    if len == buf.len() {
        usage_error("command line too long");
    }
    let text = &buf[..len.saturating_sub(1)];
    let mut args = text
        .split(|&b| b == 0)
        .skip(1)
        .map(|a| std::str::from_utf8(a).unwrap_or_else(|_| usage_error("arguments must be UTF-8")));
    let mut o = Options {
        mode: Mode::Batch,
        item: ItemType::Boxed,
        count: 1_000_000,
        threads: 3,
        wait_start: false,
        wait_end: false,
        quiet: false,
    };
    let mut mode = None;
    while let Some(arg) = args.next() {
        let mut value = || match args.next() {
            Some(v) => v,
            None => usage_error(&format!("{} needs a value", arg)),
        };
        match arg {
            "-n" | "--count" => o.count = parse_count(value()),
            "-t" | "--type" => {
                o.item = match value() {
                    "value" => ItemType::Value,
                    "boxed" => ItemType::Boxed,
                    other => usage_error(&format!("unknown type {:?}", other)),
                }
            }
            "-T" | "--threads" => {
                o.threads = match value().parse::<usize>() {
                    Ok(n) if (1..=MAX_THREADS).contains(&n) => n,
                    _ => usage_error("-T takes 1..64"),
                }
            }
            "-w" | "--wait" => o.wait_start = true,
            "-W" | "--wait-end" => o.wait_end = true,
            "-q" | "--quiet" => o.quiet = true,
            "paired" | "batch" | "threads" if mode.is_none() => {
                mode = Some(match arg {
                    "paired" => Mode::Paired,
                    "batch" => Mode::Batch,
                    _ => Mode::Threads,
                })
            }
            other => usage_error(&format!("unknown argument {:?}", other)),
        }
    }
    match mode {
        Some(m) => o.mode = m,
        None => usage_error(
            "usage: rust_channel paired|batch|threads [-n N] [-t value|boxed] [-T N] [-w] [-W] [-q]",
        ),
    }
    o
}

/// Waits for a line or EOF on stdin.
fn wait_line() {
    let mut byte = [0u8; 1];
    let mut stdin = std::io::stdin();
    while let Ok(1) = stdin.read(&mut byte) {
        if byte[0] == b'\n' {
            break;
        }
    }
}

fn set_counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

/// Sends and receives `n` items through a new channel, in pairs or all sends first.
fn channel_work<T: Send>(n: u64, paired: bool, make: impl Fn(u64) -> T, read: impl Fn(T) -> u64) -> u64 {
    let (tx, rx) = mpsc::channel::<T>();
    let mut sum = 0u64;
    if paired {
        for i in 0..n {
            tx.send(make(i)).unwrap();
            sum = sum.wrapping_add(read(rx.recv().unwrap()));
        }
    } else {
        for i in 0..n {
            tx.send(make(i)).unwrap();
        }
        for _ in 0..n {
            sum = sum.wrapping_add(read(rx.recv().unwrap()));
        }
    }
    // dropping both ends frees the channel and its last block
    drop(tx);
    drop(rx);
    sum
}

/// One thread's item work, counted from the channel's creation to its drop; then recorded.
fn work(o: &Options, role: usize, paired: bool) {
    // SAFETY: gettid has no preconditions
    let tid = unsafe { gettid() };
    COUNTS.with(|c| c.set(Counts::default()));
    set_counting(true);
    let sum = match o.item {
        ItemType::Value => channel_work(o.count, paired, |i| i, |v| v),
        ItemType::Boxed => channel_work(o.count, paired, |i| Box::new(i), |b| *b),
    };
    set_counting(false);
    black_box(sum);
    if o.count > 0 {
        let want = o.count * (o.count - 1) / 2;
        if sum != want {
            eprintln!("rust_channel: received a sum of {}, expected {}", sum, want);
            std::process::exit(1);
        }
    }
    let counts = COUNTS.with(|c| c.get());
    let mut finished = FINISHED.lock().unwrap();
    let slot = finished.1;
    finished.0[slot] = Some(Record { tid, role, counts });
    finished.1 += 1;
}

/// Worker `role` of the chain: starts the next one, does its batch, joins its child.
fn worker(o: Options, role: usize) {
    let child = if role + 1 < o.threads {
        Some(spawn_worker(o, role + 1))
    } else {
        None
    };
    work(&o, role, false);
    if let Some(c) = child {
        c.join().unwrap();
    }
}

fn spawn_worker(o: Options, role: usize) -> thread::JoinHandle<()> {
    // the kernel keeps 15 characters of a thread name
    thread::Builder::new()
        .name(format!("mw-worker{}", role))
        .spawn(move || worker(o, role))
        .unwrap_or_else(|e| {
            eprintln!("rust_channel: cannot start a thread: {}", e);
            std::process::exit(1)
        })
}

fn main() {
    let o = parse_options();
    let pid = std::process::id();
    if o.wait_start {
        eprintln!("ready pid={}", pid);
        wait_line();
    }
    match o.mode {
        Mode::Paired => work(&o, 0, true),
        Mode::Batch => work(&o, 0, false),
        Mode::Threads => {
            if o.threads > 1 {
                spawn_worker(o, 1).join().unwrap();
            }
            work(&o, 0, false);
        }
    }
    if o.wait_end {
        eprintln!("done pid={}", pid);
        wait_line();
    }

    let finished = FINISHED.lock().unwrap();
    let mut total = Counts::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in finished.0[..finished.1].iter().flatten() {
        let c = r.counts;
        total.allocs += c.allocs;
        total.alloc_bytes += c.alloc_bytes;
        total.frees += c.frees;
        total.free_bytes += c.free_bytes;
        if o.quiet {
            continue;
        }
        let _ = if r.role == 0 {
            writeln!(out, "thread tid={} role=main allocs={} alloc_bytes={} frees={} free_bytes={}",
                     r.tid, c.allocs, c.alloc_bytes, c.frees, c.free_bytes)
        } else {
            writeln!(out, "thread tid={} role=worker{} allocs={} alloc_bytes={} frees={} free_bytes={}",
                     r.tid, r.role, c.allocs, c.alloc_bytes, c.frees, c.free_bytes)
        };
    }
    let mode = match o.mode {
        Mode::Paired => "paired",
        Mode::Batch => "batch",
        Mode::Threads => "threads",
    };
    let item = if o.item == ItemType::Boxed { "boxed" } else { "value" };
    let _ = writeln!(out, "total mode={} type={} n={} allocs={} alloc_bytes={} frees={} free_bytes={}",
                     mode, item, o.count, total.allocs, total.alloc_bytes, total.frees, total.free_bytes);
    let _ = out.flush();
}
