//! rust_sites - the Rust call sites of memwatch's --stacks language tests (test_stacks_langs.py),
//! std only: two functions that exist in the release build (`#[inline(never)]`), each allocating
//! a known count and size through Rust's default global allocator (glibc's malloc):
//!
//!     send_blocks::<Block>  N x Box<Block> (48 bytes), each sent through a std::sync::mpsc
//!                           channel to a thread that drops it          (frees N, live 0)
//!     keep_blocks           N x Box<[u8; 200]>, kept until exit        (live N x 200)
//!
//!     rust_sites N [gate]
//!
//! `gate` waits for its standard input to end before the work, as the sites workload does, so
//! that a test lets it go once memwatch has read the process's modules. At the end it prints
//! `rust_sites n=N block=48 kept=200`.
//!
//! Build (release, no forced frame pointers): rustc --edition 2021 -C opt-level=3 rust_sites.rs;
//! with -C symbol-mangling-version=v0 for the v0 variant, where the generic function's name
//! carries its type argument.
use std::hint::black_box;
use std::io::Read;
use std::sync::mpsc;
use std::thread;

const KEPT: usize = 200;

/// What send_blocks allocates: 48 bytes, 8-aligned, so Box::new is malloc(48); only its size
/// matters, its contents are never read.
#[derive(Default)]
#[allow(dead_code)]
struct Block([u64; 6]);

#[inline(never)]
fn send_blocks<T: Default + Send>(tx: &mpsc::Sender<Box<T>>, n: usize) {
    for _ in 0..n {
        tx.send(Box::new(T::default())).expect("the receiver hung up");
    }
}

#[inline(never)]
fn drain<T>(rx: mpsc::Receiver<Box<T>>) -> usize {
    rx.iter().count()
}

/// The vector's own buffer is one more allocation, of 8 x N bytes, at another call.
#[inline(never)]
fn keep_blocks(n: usize) -> Vec<Box<[u8; KEPT]>> {
    let mut kept = Vec::with_capacity(n);
    for i in 0..n {
        kept.push(Box::new([i as u8; KEPT]));
    }
    kept
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: rust_sites N [gate]");
            std::process::exit(2);
        }
    };
    if args.next().as_deref() == Some("gate") {
        let mut buf = [0u8; 64];
        while matches!(std::io::stdin().read(&mut buf), Ok(len) if len > 0) {}
    }

    let (tx, rx) = mpsc::channel::<Box<Block>>();
    let consumer = thread::spawn(move || drain(rx));
    send_blocks(&tx, n);
    drop(tx);
    let received = consumer.join().expect("the consumer panicked");
    assert_eq!(received, n);

    // never freed: the blocks stay live, and the optimizer cannot drop them unused
    let kept = black_box(keep_blocks(n));
    std::mem::forget(kept);
    println!("rust_sites n={} block={} kept={}", n, std::mem::size_of::<Block>(), KEPT);
}
