//! A replica of one execution that follows its durable input log step by step through the
//! pure engine, checking at each logged input that the stored history is the replay's,
//! event for event, through the running history hash stored with the input
//! (`steppe_store::history_hash`): the hash of the replayed events must equal it (else the
//! server wrote a history its own log does not give, or a replay would not rebuild the
//! execution it ran), and so must the hash of the stored events (else an event was stored
//! other than hashed: damaged on its way to the store).
//!
//! Commits are never undone (the simulator checks that no durable history shrinks), so the
//! replica only moves forward: each step applies the inputs made durable since the last.

use steppe_asl::Definition;
use steppe_engine::{apply, Config, Execution, ExecutionInfo};
use steppe_store::{LoggedInput, MemoryStore, Store, StoredEvent};

/// See the module documentation.
pub struct Replica {
    definition: Definition,
    execution: Execution,
    /// The next logged input to apply.
    next_seq: u64,
    /// The running hash after the inputs applied so far.
    hash: u64,
}

impl Replica {
    /// A replica of the execution `info` names, before its first input.
    pub fn new(
        definition: Definition,
        info: ExecutionInfo,
        input: serde_json::Value,
        seed: u64,
    ) -> Replica {
        Replica {
            definition,
            execution: Execution::new(info, input, Config::standard(), seed),
            next_seq: 0,
            hash: steppe_store::HISTORY_HASH_EMPTY,
        }
    }

    /// Applies the inputs `durable` made durable since the last call, checking each against
    /// the hash stored with it; answers what differs.
    pub fn follow(&mut self, durable: &MemoryStore) -> Result<(), String> {
        let id = self.execution.info.id;
        let inputs = durable.inputs(id).map_err(|error| error.to_string())?;
        for logged in inputs.iter().skip(self.next_seq as usize) {
            self.apply(durable, logged)?;
        }
        Ok(())
    }

    fn apply(&mut self, durable: &MemoryStore, logged: &LoggedInput) -> Result<(), String> {
        let id = self.execution.info.id;
        let seq = logged.seq;
        let transition = apply(
            &self.definition,
            &mut self.execution,
            logged.input.clone().into(),
            logged.now_millis,
        );
        self.next_seq = seq + 1;
        let replayed: Vec<StoredEvent> = transition.events.iter().map(StoredEvent::from).collect();
        let previous = self.hash;
        self.hash = steppe_store::history_hash(previous, &replayed);
        let Some(stored_hash) = logged.history_hash else {
            return Err(format!("input {seq} was stored without a history hash"));
        };
        if stored_hash != self.hash {
            return Err(format!(
                "replaying input {seq} ({:?}) gives the running hash {:016x}, where \
                 {stored_hash:016x} is stored with it",
                logged.input, self.hash
            ));
        }
        let after = replayed.first().map_or(0, |event| event.id - 1);
        let stored = durable
            .history(id, after, false, replayed.len())
            .map_err(|error| error.to_string())?;
        if steppe_store::history_hash(previous, &stored) != stored_hash {
            let differs = stored
                .iter()
                .zip(&replayed)
                .find(|(stored, replayed)| stored != replayed)
                .map(|(stored, replayed)| format!(": stored {stored:?}, replayed {replayed:?}"));
            return Err(format!(
                "the events stored for input {seq} are not those its stored history hash \
                 covers{}",
                differs.unwrap_or_default()
            ));
        }
        Ok(())
    }
}
