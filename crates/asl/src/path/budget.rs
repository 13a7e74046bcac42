//! Bounded evaluation of indefinite paths.
//!
//! `serde_json_path` builds the whole node list of every segment, duplicates included, and
//! chained deep scans multiply them: `$..a..a..a` over 2.4 KB nested 120 deep selects 288,000
//! nodes, whose copies took 4.9 GB. It offers no budget, so a path is split into its top-level
//! segments when it is parsed, and each prefix (`$..a`, `$..a..a`, ...) is a query of its own.
//! Before a segment runs, an upper bound of the nodes it will visit is computed from the nodes
//! the previous prefix selected; evaluation stops with [`LimitExceeded::Visits`] when the sum
//! passes [`PATH_VISITS_MAX`]. The answer, when there is one, is `serde_json_path`'s own.

use super::LimitExceeded;
use crate::limits::PATH_VISITS_MAX;
use serde_json::Value;
use serde_json_path::JsonPath;

/// One top-level segment of an indefinite path, with the query that ends with it.
#[derive(Clone)]
pub(super) struct Step {
    /// `$` and every segment up to and including this one.
    prefix: JsonPath,
    shape: Shape,
}

/// What a segment may select from one node, for the bound.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Shape {
    /// `..`: the selectors apply to the node and every node below it.
    descendant: bool,
    selectors: Vec<Selector>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Selector {
    /// A name or an index: at most one node.
    One,
    /// A wildcard or a slice: at most every child.
    Children,
    /// A filter, run once per child. Its own queries may deep-scan `depth` times, over the
    /// child or, when it names `$`, over the whole document; `unions` counts its commas.
    Filter { depth: u32, root: bool, unions: u32 },
}

/// Splits `rest` (the path after its root, which `serde_json_path` accepted as `$rest`) into
/// steps. A prefix that does not parse (a split we got wrong) makes the whole path one step
/// with the most expensive shape its text allows.
pub(super) fn steps(rest: &str) -> Vec<Step> {
    let ends = segment_ends(rest);
    let mut steps = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        let Ok(prefix) = JsonPath::parse(&format!("${}", &rest[..end])) else {
            return fallback(rest);
        };
        steps.push(Step {
            prefix,
            shape: shape(&rest[start..end]),
        });
        start = end;
    }
    steps
}

fn fallback(rest: &str) -> Vec<Step> {
    let whole = JsonPath::parse(&format!("${rest}")).unwrap_or_default();
    let filter = filter_shape(rest);
    vec![Step {
        prefix: whole,
        shape: Shape {
            descendant: true,
            selectors: vec![filter],
        },
    }]
}

/// Evaluates `steps` over `document`; [`LimitExceeded::Visits`] as soon as the bound of the
/// next step passes what is left of [`PATH_VISITS_MAX`]. Also returns the visits the bounds
/// allowed, which is at least the number of nodes selected.
pub(super) fn select<'a>(
    steps: &[Step],
    document: &'a Value,
) -> Result<(Vec<&'a Value>, usize), LimitExceeded> {
    let mut selected = vec![document];
    let mut left = PATH_VISITS_MAX;
    let mut document_nodes = None;
    for step in steps {
        for node in &selected {
            let mut bound = Bound {
                left,
                document,
                document_nodes: &mut document_nodes,
            };
            bound.segment(&step.shape, node)?;
            left = bound.left;
        }
        selected = step.prefix.query(document).all();
    }
    Ok((selected, PATH_VISITS_MAX - left))
}

/// What is left of the visit budget while one step's bound is computed.
struct Bound<'d, 'a> {
    left: usize,
    document: &'a Value,
    /// The document's node count, counted once, the first time a filter names `$`.
    document_nodes: &'d mut Option<usize>,
}

impl Bound<'_, '_> {
    fn spend(&mut self, visits: usize) -> Result<(), LimitExceeded> {
        self.left = self.left.checked_sub(visits).ok_or(LimitExceeded::Visits)?;
        Ok(())
    }

    /// Spends a bound of what `shape` visits from `node`.
    fn segment(&mut self, shape: &Shape, node: &Value) -> Result<(), LimitExceeded> {
        if !shape.descendant {
            self.spend(1)?;
            return self.selectors(shape, node);
        }
        let mut pending = vec![node];
        while let Some(next) = pending.pop() {
            self.spend(1)?;
            self.selectors(shape, next)?;
            pending.extend(children(next));
        }
        Ok(())
    }

    fn selectors(&mut self, shape: &Shape, node: &Value) -> Result<(), LimitExceeded> {
        for selector in &shape.selectors {
            match *selector {
                Selector::One => self.spend(1)?,
                Selector::Children => self.spend(children(node).count())?,
                Selector::Filter {
                    depth,
                    root,
                    unions,
                } => {
                    for child in children(node) {
                        let scanned = if root {
                            self.document_nodes()?
                        } else {
                            self.count(child)?
                        };
                        let mut visits = scanned.saturating_mul(unions as usize + 1);
                        for _ in 0..depth {
                            visits = visits.saturating_mul(scanned);
                        }
                        self.spend(visits)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn document_nodes(&mut self) -> Result<usize, LimitExceeded> {
        if let Some(count) = *self.document_nodes {
            return Ok(count);
        }
        let count = self.count(self.document)?;
        *self.document_nodes = Some(count);
        Ok(count)
    }

    /// The nodes at and below `value`, counted only as far as the budget reaches.
    fn count(&self, value: &Value) -> Result<usize, LimitExceeded> {
        let mut count = 0usize;
        let mut pending = vec![value];
        while let Some(next) = pending.pop() {
            count += 1;
            if count > self.left {
                return Err(LimitExceeded::Visits);
            }
            pending.extend(children(next));
        }
        Ok(count)
    }
}

fn children(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => Box::new(std::iter::empty()),
    }
}

/// The byte offsets in `rest` where each top-level segment ends. A segment starts at a `.`,
/// `..` or `[` outside brackets, parentheses and string literals.
fn segment_ends(rest: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut scan = Scan::default();
    let mut previous = None;
    for (at, c) in rest.char_indices() {
        let top = scan.depth == 0 && scan.quote.is_none();
        let starts = top
            && match c {
                '.' => previous != Some('.'),
                '[' => previous != Some('.'),
                _ => false,
            };
        if starts && at > 0 {
            ends.push(at);
        }
        scan.push(c);
        previous = top.then_some(c);
    }
    if !rest.is_empty() {
        ends.push(rest.len());
    }
    ends
}

/// Where a left-to-right scan is: bracket depth, and the string literal it is inside.
#[derive(Default)]
struct Scan {
    depth: usize,
    quote: Option<char>,
    escaped: bool,
}

impl Scan {
    /// Moves past `c`; `true` when `c` is outside string literals (quotes included).
    fn push(&mut self, c: char) -> bool {
        if let Some(open) = self.quote {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == open {
                self.quote = None;
            }
            return false;
        }
        match c {
            '\'' | '"' => self.quote = Some(c),
            '[' | '(' => self.depth += 1,
            ']' | ')' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        true
    }
}

/// The shape of one segment's text: `.name`, `.*`, `..name`, `..*`, `[...]` or `..[...]`.
fn shape(segment: &str) -> Shape {
    let segment = segment.trim();
    let (descendant, body) = match segment.strip_prefix("..") {
        Some(body) => (true, body),
        None => (false, segment.strip_prefix('.').unwrap_or(segment)),
    };
    let selectors = match body.strip_prefix('[') {
        Some(inner) => split_selectors(inner.strip_suffix(']').unwrap_or(inner))
            .into_iter()
            .map(selector)
            .collect(),
        None if body.trim() == "*" => vec![Selector::Children],
        None => vec![Selector::One],
    };
    Shape {
        descendant,
        selectors,
    }
}

/// The selectors of a bracketed segment, split at its top-level commas.
fn split_selectors(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut scan = Scan::default();
    let mut start = 0;
    for (at, c) in inner.char_indices() {
        if c == ',' && scan.depth == 0 && scan.quote.is_none() {
            parts.push(&inner[start..at]);
            start = at + 1;
        }
        scan.push(c);
    }
    parts.push(&inner[start..]);
    parts
}

fn selector(text: &str) -> Selector {
    let text = text.trim();
    if text.starts_with('?') {
        return filter_shape(text);
    }
    let unquoted = !text.starts_with(['\'', '"']);
    if text == "*" || (unquoted && text.contains(':')) {
        Selector::Children
    } else {
        Selector::One
    }
}

/// A filter's shape: its deep scans, whether it names the root, and its commas, counted
/// outside string literals.
fn filter_shape(text: &str) -> Selector {
    let (mut depth, mut unions, mut root) = (0u32, 0u32, false);
    let mut scan = Scan::default();
    let mut previous = None;
    for c in text.chars() {
        if scan.push(c) {
            match c {
                '.' if previous == Some('.') => {
                    depth += 1;
                    previous = None;
                    continue;
                }
                '$' => root = true,
                ',' => unions += 1,
                _ => {}
            }
            previous = Some(c);
        } else {
            previous = None;
        }
    }
    Selector::Filter {
        depth,
        root,
        unions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rest: &str, expected: &[&str]) {
        let ends = segment_ends(rest);
        let mut start = 0;
        let found: Vec<&str> = ends
            .iter()
            .map(|&end| {
                let segment = &rest[start..end];
                start = end;
                segment
            })
            .collect();
        assert_eq!(found, expected, "{rest}");
    }

    #[test]
    fn paths_split_into_top_level_segments() {
        check("..a..a..a", &["..a", "..a", "..a"]);
        check(".a.b[0]", &[".a", ".b", "[0]"]);
        check("..[*]['x.y'].*", &["..[*]", "['x.y']", ".*"]);
        check("[?(@.a[0] == '].[')]..b", &["[?(@.a[0] == '].[')]", "..b"]);
        check("[?(@..a)][1:2]", &["[?(@..a)]", "[1:2]"]);
        check("", &[]);
    }

    #[test]
    fn segments_have_shapes() {
        let one = |descendant, selectors: &[Selector]| Shape {
            descendant,
            selectors: selectors.to_vec(),
        };
        assert_eq!(shape("..a"), one(true, &[Selector::One]));
        assert_eq!(shape(".*"), one(false, &[Selector::Children]));
        assert_eq!(
            shape("['a', 1, *, 1:3, '::']"),
            one(
                false,
                &[
                    Selector::One,
                    Selector::One,
                    Selector::Children,
                    Selector::Children,
                    Selector::One
                ]
            )
        );
        assert_eq!(
            shape("..[?(@..a..b == $.c || @['x,y'])]"),
            one(
                true,
                &[Selector::Filter {
                    depth: 2,
                    root: true,
                    unions: 0
                }]
            )
        );
    }
}
