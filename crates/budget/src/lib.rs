//! Per-thread memory budgets.
//!
//! Some evaluations cannot be bounded by counting items: a JSONata expression of nested array
//! literals builds gigabytes out of sequences that are each within their limit. This crate
//! bounds them by what they allocate. Linking it installs [`Counting`] as the global allocator:
//! mimalloc, plus a counter that is live only on a thread that has [`arm`]ed a
//! budget. Once the bytes the armed thread has allocated, less what it freed, pass the budget,
//! the allocator calls the [`Exceeded`] it was given — once — and the evaluation stops at its
//! next checkpoint (for JSONata, its cancel token). Allocations are never refused: a refused
//! allocation aborts a Rust process.
//!
//! Only the arming thread's allocations count, so concurrent evaluations on other threads
//! neither share nor disturb a budget. Memory freed on another thread is not credited, which
//! only overstates a short evaluation's use. While no thread is armed, an allocation costs one
//! relaxed atomic load more than mimalloc's; while some thread is, the others also read a
//! thread-local (`examples/overhead.rs` measures both).
//!
//! Why not a crate: `tracking-allocator` tracks groups per thread too, but adds a trailer to
//! every allocation and keeps a `RefCell` stack per thread; a budget needs one counter.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads have a budget armed. While none has, the allocator reads no thread-local
/// at all: one relaxed load of this counter per allocation and per free.
static ARMED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// What an armed thread is told, once, when its budget is passed.
///
/// Called from inside the allocator: it must not allocate, block or panic (an atomic store
/// such as cancelling a token is the intended use).
pub trait Exceeded: Sync {
    /// The budget has been passed.
    fn exceeded(&self);
}

/// The global allocator: [`INNER`], counting for armed threads.
pub struct Counting;

/// The allocator underneath the counting: mimalloc (see ARCHITECTURE.md, "Dependencies").
static INNER: MiMalloc = MiMalloc;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One thread's budget. `target` is set while armed; it points at the [`Exceeded`] borrowed by
/// the live [`Armed`] guard, whose lifetime keeps it valid.
struct Account {
    target: Cell<Option<*const (dyn Exceeded + 'static)>>,
    limit: Cell<usize>,
    used: Cell<usize>,
    peak: Cell<usize>,
    fired: Cell<bool>,
}

thread_local! {
    static ACCOUNT: Account = const {
        Account {
            target: Cell::new(None),
            limit: Cell::new(0),
            used: Cell::new(0),
            peak: Cell::new(0),
            fired: Cell::new(false),
        }
    };
}

#[allow(unsafe_code)] // calls the armed `Exceeded` through its raw pointer
fn charge(bytes: usize) {
    if ARMED_THREADS.load(Ordering::Relaxed) == 0 {
        return;
    }
    // `try_with`: a thread being torn down has no account, and allocates uncounted.
    let _ = ACCOUNT.try_with(|account| {
        let Some(target) = account.target.get() else {
            return;
        };
        let used = account.used.get().saturating_add(bytes);
        account.used.set(used);
        if used > account.peak.get() {
            account.peak.set(used);
        }
        if used > account.limit.get() && !account.fired.get() {
            account.fired.set(true);
            // SAFETY: `target` is only set by `arm`, from a reference that outlives the
            // `Armed` guard, and is cleared by that guard's drop on this same thread (the guard
            // is not `Send`); so while it is set, it points at a live `Exceeded`.
            unsafe { (*target).exceeded() };
        }
    });
}

fn credit(bytes: usize) {
    if ARMED_THREADS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let _ = ACCOUNT.try_with(|account| {
        if account.target.get().is_some() {
            account.used.set(account.used.get().saturating_sub(bytes));
        }
    });
}

// SAFETY: every method forwards to `INNER` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds as it does for `INNER`; the counting around it neither
// allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received; the caller upholds `alloc`'s contract.
        let pointer = unsafe { INNER.alloc(layout) };
        if !pointer.is_null() {
            charge(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let pointer = unsafe { INNER.alloc_zeroed(layout) };
        if !pointer.is_null() {
            charge(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        credit(layout.size());
        // SAFETY: `pointer` came from this allocator, which is `INNER`, with `layout`.
        unsafe { INNER.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `pointer` came from this allocator, which is `INNER`, with `layout`.
        let moved = unsafe { INNER.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size > layout.size() {
                charge(new_size - layout.size());
            } else {
                credit(layout.size() - new_size);
            }
        }
        moved
    }
}

/// A budget armed on the current thread; dropping it disarms it (and restores a budget armed
/// further out, so arming nests).
pub struct Armed<'a> {
    previous: Saved,
    /// Ties the guard to the thread that armed it and to the borrowed [`Exceeded`].
    _marker: PhantomData<(*const (), &'a ())>,
}

struct Saved {
    target: Option<*const (dyn Exceeded + 'static)>,
    limit: usize,
    used: usize,
    peak: usize,
    fired: bool,
}

/// Arms a budget of `limit_bytes` on this thread: from now until the guard drops, once the
/// bytes this thread allocates (less what it frees) pass `limit_bytes`, `target.exceeded()` is
/// called once.
pub fn arm<'a>(limit_bytes: usize, target: &'a dyn Exceeded) -> Armed<'a> {
    let pointer: *const (dyn Exceeded + 'a) = target;
    // SAFETY: only the lifetime is erased. The pointer is dereferenced only while the
    // returned guard, which borrows `target` for 'a, is alive (its drop clears it).
    #[allow(unsafe_code)]
    let pointer: *const (dyn Exceeded + 'static) = unsafe { std::mem::transmute(pointer) };
    let previous = ACCOUNT.with(|account| Saved {
        target: account.target.replace(Some(pointer)),
        limit: account.limit.replace(limit_bytes),
        used: account.used.replace(0),
        peak: account.peak.replace(0),
        fired: account.fired.replace(false),
    });
    // Counted after the account is set: this thread's own loads see its own store.
    ARMED_THREADS.fetch_add(1, Ordering::Relaxed);
    Armed {
        previous,
        _marker: PhantomData,
    }
}

impl Armed<'_> {
    /// Whether the budget has been passed since it was armed.
    pub fn exceeded(&self) -> bool {
        ACCOUNT.with(|account| account.fired.get())
    }

    /// The most this thread had allocated (less freed) at any moment since it was armed.
    pub fn peak_bytes(&self) -> usize {
        ACCOUNT.with(|account| account.peak.get())
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        ARMED_THREADS.fetch_sub(1, Ordering::Relaxed);
        let _ = ACCOUNT.try_with(|account| {
            account.target.set(self.previous.target);
            account.limit.set(self.previous.limit);
            account.used.set(self.previous.used);
            account.peak.set(self.previous.peak);
            account.fired.set(self.previous.fired);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Calls(AtomicUsize);

    impl Exceeded for Calls {
        fn exceeded(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn passing_the_budget_calls_back_once() {
        let calls = Calls::default();
        let armed = arm(1 << 20, &calls);
        let small = vec![0u8; 1000];
        assert!(!armed.exceeded());
        let big: Vec<Vec<u8>> = (0..4).map(|_| vec![1u8; 1 << 19]).collect();
        assert!(armed.exceeded());
        assert!(armed.peak_bytes() >= 4 << 19);
        drop((small, big));
        assert_eq!(calls.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn freed_memory_is_credited() {
        let calls = Calls::default();
        let armed = arm(1 << 20, &calls);
        for _ in 0..64 {
            let block = vec![1u8; 1 << 19];
            std::hint::black_box(&block);
        }
        assert!(
            !armed.exceeded(),
            "64 freed half-megabytes never held more than one"
        );
        assert_eq!(calls.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn other_threads_do_not_count_and_disarming_stops_counting() {
        let calls = Calls::default();
        {
            let armed = arm(1 << 20, &calls);
            std::thread::spawn(|| std::hint::black_box(vec![1u8; 8 << 20]))
                .join()
                .unwrap();
            assert!(!armed.exceeded());
        }
        std::hint::black_box(vec![1u8; 8 << 20]);
        assert_eq!(calls.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn arming_nests() {
        let outer_calls = Calls::default();
        let inner_calls = Calls::default();
        let outer = arm(64 << 20, &outer_calls);
        {
            let inner = arm(1 << 20, &inner_calls);
            std::hint::black_box(vec![1u8; 2 << 20]);
            assert!(inner.exceeded());
        }
        assert!(!outer.exceeded());
        assert_eq!(outer_calls.0.load(Ordering::Relaxed), 0);
        assert_eq!(inner_calls.0.load(Ordering::Relaxed), 1);
    }
}
