//! Deliberate faults, compiled only with the `fault-injection` feature: tests of what surrounds
//! the engine (the server's quarantine of a failing execution, the simulation) need an `apply`
//! that panics on demand, and no valid input makes the real engine panic.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ARMED: AtomicBool = AtomicBool::new(false);
static PANIC_STATES: Mutex<Option<BTreeSet<String>>> = Mutex::new(None);

/// From now on, entering a state named `state_name` (in any execution of this process) panics.
pub fn panic_on_entering(state_name: &str) {
    let mut states = PANIC_STATES.lock().unwrap_or_else(|p| p.into_inner());
    states
        .get_or_insert_with(BTreeSet::new)
        .insert(state_name.to_string());
    ARMED.store(true, Ordering::Release);
}

/// Entering `state_name` no longer panics.
pub fn disarm(state_name: &str) {
    let mut states = PANIC_STATES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(states) = states.as_mut() {
        states.remove(state_name);
    }
}

/// Panics if entering `state_name` was armed to.
pub(crate) fn entering(state_name: &str) {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let states = PANIC_STATES.lock().unwrap_or_else(|p| p.into_inner());
    if states
        .as_ref()
        .is_some_and(|states| states.contains(state_name))
    {
        drop(states);
        panic!("fault injected: entering state {state_name}");
    }
}
