//! What the counting allocator costs a thread with no budget armed: nanoseconds per
//! allocation and free through the global allocator (`Counting`), straight through the
//! allocator underneath it (mimalloc), and through `System` (glibc's malloc), in alternating
//! rounds of one run. `cargo run --release -p steppe-budget --example overhead`

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;
use std::time::Instant;

const PAIRS: usize = 20_000_000;

fn round(name: &str, alloc: unsafe fn(Layout) -> *mut u8, free: unsafe fn(*mut u8, Layout)) -> f64 {
    let started = Instant::now();
    for n in 0..PAIRS {
        let layout = Layout::from_size_align(16 + (n % 8) * 16, 8).unwrap();
        // SAFETY: a non-zero layout, freed with the same layout by the same allocator.
        unsafe {
            let pointer = alloc(layout);
            std::hint::black_box(pointer);
            free(pointer, layout);
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / PAIRS as f64;
    println!("{name}: {ns:.2} ns per allocation and free");
    ns
}

unsafe fn global_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: as the caller's.
    unsafe { std::alloc::alloc(layout) }
}
unsafe fn global_free(pointer: *mut u8, layout: Layout) {
    // SAFETY: as the caller's.
    unsafe { std::alloc::dealloc(pointer, layout) }
}
unsafe fn mimalloc_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: as the caller's.
    unsafe { MiMalloc.alloc(layout) }
}
unsafe fn mimalloc_free(pointer: *mut u8, layout: Layout) {
    // SAFETY: as the caller's.
    unsafe { MiMalloc.dealloc(pointer, layout) }
}
unsafe fn system_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: as the caller's.
    unsafe { System.alloc(layout) }
}
unsafe fn system_free(pointer: *mut u8, layout: Layout) {
    // SAFETY: as the caller's.
    unsafe { System.dealloc(pointer, layout) }
}

fn main() {
    let (mut counting, mut mimalloc, mut system) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..5 {
        counting = counting.min(round("counting (disarmed)", global_alloc, global_free));
        mimalloc = mimalloc.min(round("mimalloc", mimalloc_alloc, mimalloc_free));
        system = system.min(round("system", system_alloc, system_free));
    }
    println!(
        "best of 5: counting {counting:.2} ns, mimalloc {mimalloc:.2} ns: {:.2} ns ({:.1}%) more per allocation and free; system {system:.2} ns",
        counting - mimalloc,
        (counting / mimalloc - 1.0) * 100.0
    );
}
