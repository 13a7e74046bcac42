//! The writer thread a backend commits through, with group commit: what both `store-sqlite`
//! and `store-postgres` run, so that the queue, its bound and its batching are one piece of
//! code.
//!
//! [`Store::submit`](crate::Store::submit) puts a group on a [`Queue`] of at most
//! [`SUBMIT_QUEUE_MAX`] groups (past it, the caller waits for room: backpressure; a `done`
//! callback submitting from the writer thread itself fails instead of waiting for itself).
//! [`run`] takes whatever is queued, up to the backend's `group_max` groups, commits it in one
//! go through the backend's [`Commit`] and calls each group's `done` with its own result.
//! Retention's deletions go through the same queue, between groups, in commits of their own.

use crate::{Done, Error, Write};
use std::cell::Cell;
use std::sync::{mpsc, Mutex, MutexGuard};

/// One submitted group of writes and its callback.
pub type Group = (Vec<Write>, Done);

/// The most groups waiting for the writer; past it, `submit` waits for room.
pub const SUBMIT_QUEUE_MAX: usize = 8192;

thread_local! {
    /// Whether this thread runs a writer (its callbacks must not wait for its own queue).
    static ON_WRITER: Cell<bool> = const { Cell::new(false) };
}

/// What a backend does with what the writer takes off the queue.
pub trait Commit {
    /// Commits `groups` together where they apply; answers each group's result, in order.
    fn commit(&mut self, groups: &[Group]) -> Vec<Result<(), Error>>;
    /// [`Store::delete_closed_before`](crate::Store::delete_closed_before), in a transaction of
    /// its own.
    fn delete_closed(&mut self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error>;
}

enum Job {
    Group(Group),
    DeleteClosed {
        cutoff_millis: i64,
        limit: usize,
        reply: mpsc::SyncSender<Result<Vec<u64>, Error>>,
    },
}

/// The sending side; see the module documentation.
pub struct Queue {
    /// `None` once closed.
    sender: Mutex<Option<mpsc::SyncSender<Job>>>,
    /// The backend's name, for the full-queue error ("SQLite", "PostgreSQL").
    backend: &'static str,
}

/// The writer's side of a [`Queue`], for [`run`].
pub struct Receiver(mpsc::Receiver<Job>);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A new queue for `backend`'s writer.
pub fn queue(backend: &'static str) -> (Queue, Receiver) {
    let (sender, receiver) = mpsc::sync_channel(SUBMIT_QUEUE_MAX);
    let queue = Queue {
        sender: Mutex::new(Some(sender)),
        backend,
    };
    (queue, Receiver(receiver))
}

impl Queue {
    /// Queues a group; `done` hears of it once it is committed or has failed.
    pub fn submit(&self, writes: Vec<Write>, done: Done) {
        let sender = lock(&self.sender).clone();
        let Some(sender) = sender else {
            return done(Err(Error::Closed));
        };
        let job = Job::Group((writes, done));
        let refused = if ON_WRITER.with(Cell::get) {
            match sender.try_send(job) {
                Ok(()) => return,
                Err(mpsc::TrySendError::Full(job)) => (job, true),
                Err(mpsc::TrySendError::Disconnected(job)) => (job, false),
            }
        } else {
            match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => (job, false),
            }
        };
        if let (Job::Group((_, done)), full) = refused {
            done(Err(if full {
                Error::Database(format!(
                    "the {} store's queue is full ({SUBMIT_QUEUE_MAX} groups)",
                    self.backend
                ))
            } else {
                Error::Closed
            }));
        }
    }

    /// Has the writer delete closed executions, between groups, and waits for it.
    pub fn delete_closed(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        let sender = lock(&self.sender).clone().ok_or(Error::Closed)?;
        let (reply, answer) = mpsc::sync_channel(1);
        sender
            .send(Job::DeleteClosed {
                cutoff_millis,
                limit,
                reply,
            })
            .map_err(|_| Error::Closed)?;
        answer.recv().unwrap_or(Err(Error::Closed))
    }

    /// Takes no more work: [`run`] returns once it has committed what is queued.
    pub fn close(&self) {
        drop(lock(&self.sender).take());
    }
}

/// Runs a writer until its queue is closed: takes what is queued, up to `group_max` groups
/// at a time, commits them through `backend` and calls back each group.
pub fn run(receiver: Receiver, group_max: usize, backend: &mut impl Commit) {
    ON_WRITER.with(|on_writer| on_writer.set(true));
    let receiver = receiver.0;
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::DeleteClosed {
                cutoff_millis,
                limit,
                reply,
            } => {
                let _ = reply.send(backend.delete_closed(cutoff_millis, limit));
            }
            Job::Group(first) => {
                let mut groups = vec![first];
                while groups.len() < group_max {
                    match receiver.try_recv() {
                        Ok(Job::Group(group)) => groups.push(group),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let results = backend.commit(&groups);
                for ((_, done), result) in groups.into_iter().zip(results) {
                    done(result);
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
