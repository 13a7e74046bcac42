//! A Map's items waiting to start, in order. Items are taken in index order as their
//! children (or batches) start, so only those not yet taken are held: a distributed Map
//! reading from S3 adds each page at the back and holds a bounded window of the object.

use crate::execution::MapItem;
use serde_json::Value;
use std::collections::VecDeque;

/// The items of a Map not taken yet, from index `base` on, with their keys when the Map
/// iterates a JSON object's key-value pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Items {
    /// The index of the first item held.
    base: usize,
    /// The items held, from `base` on.
    held: VecDeque<(Value, Option<String>)>,
}

impl Items {
    /// The items `values`, with `keys` by index (empty over an array).
    pub fn new(values: Vec<Value>, keys: Vec<String>) -> Items {
        let mut items = Items::default();
        items.extend(values, keys);
        items
    }

    /// How many items the Map has had so far, taken or not.
    pub fn len(&self) -> usize {
        self.base + self.held.len()
    }

    /// How many items wait to be taken.
    pub fn waiting(&self) -> usize {
        self.held.len()
    }

    /// Adds items after the last, with their keys (none over an array).
    pub fn extend(&mut self, values: Vec<Value>, keys: Vec<String>) {
        let mut keys = keys.into_iter();
        self.held
            .extend(values.into_iter().map(|value| (value, keys.next())));
    }

    /// Takes item `index`, dropping any held before it; `None` when it is not held (taken
    /// already, or not had yet).
    pub fn take(&mut self, index: usize) -> Option<MapItem> {
        while self.base < index && !self.held.is_empty() {
            self.held.pop_front();
            self.base += 1;
        }
        if self.base != index {
            return None;
        }
        let (value, key) = self.held.pop_front()?;
        self.base += 1;
        Some(MapItem { index, key, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_taken_in_order_and_only_the_waiting_ones_are_held() {
        let mut items = Items::new(vec![json!(1), json!(2)], Vec::new());
        assert_eq!(items.take(0).map(|item| item.value), Some(json!(1)));
        items.extend(vec![json!(3)], Vec::new());
        assert_eq!((items.len(), items.waiting()), (3, 2));
        // Skipping an index drops the item before it.
        let third = items.take(2).expect("item 2 is held");
        assert_eq!((third.index, third.value), (2, json!(3)));
        assert_eq!((items.len(), items.waiting()), (3, 0));
        assert!(items.take(1).is_none());
        assert!(items.take(3).is_none());
    }

    #[test]
    fn keys_follow_their_items() {
        let mut items = Items::new(vec![json!(1), json!(2)], vec!["a".into(), "b".into()]);
        assert_eq!(
            items.take(1).and_then(|item| item.key),
            Some("b".to_string())
        );
    }
}
