//! `ItemBatcher`: a distributed Map's children each receive a batch of items,
//! `{"BatchInput": ..., "Items": [...]}`, instead of one item.
//!
//! As AWS's ItemBatcher page describes it: a batch holds at most `MaxItemsPerBatch` items
//! and at most `MaxInputBytesPerBatch` bytes (256 KiB when not given: "the interpreter
//! processes as many items it can process up to 256 KiB in each child workflow execution");
//! with both, the byte limit shortens batches. Items go through `ItemSelector` first, with
//! their own `$$.Map.Item.Index`. The size counted is the child's whole input as compact
//! JSON, `BatchInput` included, which is what the 256 KiB limit on an execution's input
//! measures.
//!
//! Batches are built one at a time, as each child starts, so at most one batch of selected
//! items (bounded by the byte limit) exists beyond what running children hold.

use super::items::Items;
use super::map::{number_field, select_item};
use crate::execution::Frame;
use crate::io;
use crate::run::Run;
use serde_json::{Map as JsonMap, Value};
use steppe_asl::definition::{BatchInput, Dynamic, ItemBatcher, Map};
use steppe_asl::error_name::Failure;
use steppe_asl::{limits, size};

/// `{"Items":[]}`: a batch's bytes before its items.
const EMPTY_BATCH_BYTES: usize = 12;
/// `,"BatchInput":`: the bytes `BatchInput` adds besides its value.
const BATCH_INPUT_KEY_BYTES: usize = 14;

/// A Map's batching, once its limits and `BatchInput` are evaluated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batcher {
    /// Items per batch at most.
    max_items: u64,
    /// Bytes of child input per batch at most.
    max_bytes: usize,
    /// Bytes of a batch with no items: `{"Items":[]}` and `BatchInput`.
    empty_bytes: usize,
    /// `BatchInput`'s value, the same for every batch.
    batch_input: Option<Value>,
    /// A selected item (index, value, size) that did not fit in the previous batch.
    carried: Option<(usize, Value, usize)>,
    /// The items of a batch begun while more items are being read, and its size.
    begun: Vec<Value>,
    begun_bytes: usize,
    /// How many items each batch started so far holds, by slot.
    pub counts: Vec<usize>,
}

/// One batch: the child's input and how many items it holds.
pub(crate) struct Batch {
    pub input: Value,
    pub count: usize,
}

impl Batcher {
    /// Evaluates the limits and `BatchInput` against the Map's effective input.
    pub fn new(
        run: &mut Run<'_>,
        frame: &Frame,
        batcher: &ItemBatcher,
        effective: &Value,
    ) -> Result<Batcher, Failure> {
        let max_items = match &batcher.max_items_per_batch {
            Some(field) => limit(run, frame, field, "MaxItemsPerBatch", u64::MAX >> 12)?,
            None => u64::MAX,
        };
        let max_bytes = match &batcher.max_input_bytes_per_batch {
            Some(field) => limit(
                run,
                frame,
                field,
                "MaxInputBytesPerBatch",
                limits::BATCH_BYTES_MAX,
            )?,
            None => limits::BATCH_BYTES_MAX,
        };
        let batch_input = match &batcher.batch_input {
            None => None,
            Some(BatchInput::JsonPath(template)) => {
                Some(io::evaluate_template(run, frame, effective, template)?)
            }
            Some(BatchInput::Jsonata(template)) => {
                let states = crate::jsonata::states(run, frame);
                Some(crate::jsonata::evaluate(
                    run,
                    frame,
                    template,
                    "BatchInput",
                    &states,
                )?)
            }
        };
        let max_bytes = max_bytes as usize;
        let empty_bytes = EMPTY_BATCH_BYTES
            + batch_input.as_ref().map_or(0, |value| {
                BATCH_INPUT_KEY_BYTES
                    + size::json_bytes_within(value, max_bytes).unwrap_or(max_bytes)
            });
        if empty_bytes > max_bytes {
            let message = format!(
                "The BatchInput leaves no room for items in a batch of at most {max_bytes} bytes (MaxInputBytesPerBatch)"
            );
            return Err(io::runtime_failure(run, frame, &message));
        }
        Ok(Batcher {
            max_items,
            max_bytes,
            empty_bytes,
            batch_input,
            carried: None,
            begun: Vec::new(),
            begun_bytes: 0,
            counts: Vec::new(),
        })
    }
}

/// Builds the next batch from `items` from `*next_index` on (and the carried item), applying
/// the Map's `ItemSelector` to each item as it joins. `None` when no item is left, or when
/// the items run out before the batch is full and more will come (`complete` false): the
/// batch begun waits in `batcher` for them.
pub(crate) fn next_batch(
    run: &mut Run<'_>,
    frame: &mut Frame,
    map: &Map,
    batcher: &mut Batcher,
    (items, complete): (&mut Items, bool),
    next_index: &mut usize,
    effective: &Value,
) -> Result<Option<Batch>, Failure> {
    let mut batch = std::mem::take(&mut batcher.begun);
    let mut bytes = match batch.is_empty() {
        true => batcher.empty_bytes,
        false => batcher.begun_bytes,
    };
    while (batch.len() as u64) < batcher.max_items {
        let (index, value, item_bytes) = match batcher.carried.take() {
            Some(carried) => carried,
            None if *next_index < items.len() => {
                let index = *next_index;
                *next_index += 1;
                let Some(item) = items.take(index) else {
                    unreachable!("items not started are held")
                };
                let value = select_item(run, frame, map, effective, item)?;
                // Past the limit the exact size does not matter: the item cannot join.
                let item_bytes =
                    size::json_bytes_within(&value, batcher.max_bytes).unwrap_or(usize::MAX);
                (index, value, item_bytes)
            }
            None if complete => break,
            None => {
                batcher.begun = batch;
                batcher.begun_bytes = bytes;
                return Ok(None);
            }
        };
        let comma = usize::from(!batch.is_empty());
        let fits = item_bytes
            .checked_add(bytes + comma)
            .is_some_and(|total| total <= batcher.max_bytes);
        if !fits {
            if batch.is_empty() {
                let message = format!(
                    "The item at index {index} does not fit in a batch of at most {} bytes (MaxInputBytesPerBatch)",
                    batcher.max_bytes
                );
                return Err(io::runtime_failure(run, frame, &message));
            }
            batcher.carried = Some((index, value, item_bytes));
            break;
        }
        bytes += item_bytes + comma;
        batch.push(value);
    }
    if batch.is_empty() {
        return Ok(None);
    }
    let count = batch.len();
    let mut input = JsonMap::new();
    if let Some(batch_input) = &batcher.batch_input {
        input.insert("BatchInput".to_string(), batch_input.clone());
    }
    input.insert("Items".to_string(), Value::Array(batch));
    batcher.counts.push(count);
    Ok(Some(Batch {
        input: Value::Object(input),
        count,
    }))
}

/// A batch limit: a positive integer of at most `max`, from the literal, `{key}Path` (a
/// number or a numeric string, as in the Map's other `*Path` fields) or `{% %}`.
fn limit(
    run: &mut Run<'_>,
    frame: &Frame,
    field: &Dynamic<u64>,
    key: &str,
    max: u64,
) -> Result<u64, Failure> {
    let kind = if max == limits::BATCH_BYTES_MAX {
        format!("positive integer of at most {max}")
    } else {
        "positive integer".to_string()
    };
    let parse = |value: &Value| {
        super::map::integer(value)
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| (1..=max).contains(n))
    };
    number_field(run, frame, field, key, &kind, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_batch_byte_counts_match_the_json_text() {
        let empty = serde_json::json!({"Items": []});
        assert_eq!(size::json_bytes(&empty), EMPTY_BATCH_BYTES);
        let with_input = serde_json::json!({"BatchInput": 1, "Items": []});
        assert_eq!(
            size::json_bytes(&with_input),
            EMPTY_BATCH_BYTES + BATCH_INPUT_KEY_BYTES + 1
        );
    }
}
