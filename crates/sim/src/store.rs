//! A store the simulator controls: reads go to a [`MemoryStore`] that holds what is durable;
//! a submitted group waits, in memory, until the simulator commits it, fails it, or drops
//! it in a crash (before the durable point) or commits it silently first (after it).
//! On a simulated cluster each node has one, over its handle on the shared store
//! (`FaultStore<NodeStore>`, see `shared.rs`), so that its commits are fenced.

use std::sync::{Arc, Mutex, MutexGuard};
use steppe_store::{Done, Error, HookedStore, MemoryStore, Store, Write};

/// Groups submitted and not yet committed, failed or lost, oldest first.
type Waiting = Arc<Mutex<Vec<(Vec<Write>, Done)>>>;

/// See the module documentation.
pub struct FaultStore<S = MemoryStore> {
    store: Arc<HookedStore<S>>,
    waiting: Waiting,
}

impl Default for FaultStore {
    /// A store holding nothing.
    fn default() -> FaultStore {
        FaultStore::over(MemoryStore::new())
    }
}

impl FaultStore {
    /// What is durable.
    pub fn durable(&self) -> &MemoryStore {
        self.store.inner()
    }
}

impl<S: Store> FaultStore<S> {
    /// Groups submitted to `inner` wait for the simulator.
    pub fn over(inner: S) -> FaultStore<S> {
        let waiting = Waiting::default();
        let submitted = waiting.clone();
        let store = HookedStore::new(
            inner,
            Box::new(move |_inner, writes, done| lock(&submitted).push((writes, done))),
        );
        FaultStore {
            store: Arc::new(store),
            waiting,
        }
    }

    /// The store the server runs on.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The store groups commit to.
    pub fn inner(&self) -> &S {
        self.store.inner()
    }

    /// How many groups wait for the simulator.
    pub fn waiting(&self) -> usize {
        lock(&self.waiting).len()
    }

    /// Commits the `index`th waiting group (it may still fail on a conflict, as in a
    /// database), answering its submitter.
    pub fn commit(&self, index: usize) {
        let (writes, done) = lock(&self.waiting).remove(index);
        self.inner().submit(writes, done);
    }

    /// Fails the `index`th waiting group without committing it.
    pub fn fail(&self, index: usize) {
        let (_, done) = lock(&self.waiting).remove(index);
        done(Err(Error::Database(
            "the simulator failed this commit".into(),
        )));
    }

    /// A crash: the groups `durable` picks (by position) are committed with no one told,
    /// the rest are lost.
    pub fn crash(&self, durable: impl Fn(usize) -> bool) {
        let waiting = std::mem::take(&mut *lock(&self.waiting));
        for (index, (writes, done)) in waiting.into_iter().enumerate() {
            if durable(index) {
                self.inner().submit(writes, Box::new(|_| {}));
            }
            drop(done);
        }
    }
}

fn lock(waiting: &Waiting) -> MutexGuard<'_, Vec<(Vec<Write>, Done)>> {
    waiting
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
