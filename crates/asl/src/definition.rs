//! The compiled form of a state machine definition: a flat table of states.
//!
//! Every `States` block (the machine's own, each Parallel branch, each Map item processor) is
//! a [`Block`]; every state of every block sits in one table indexed by [`StateId`].
//! Transitions are resolved ids, so an invalid target cannot be represented.

use crate::choice::Expr;
use crate::intrinsic::Intrinsic;
use crate::path::Path;
use crate::template::Template;
use serde_json::Value;

/// Index of a state in [`Definition`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u32);

/// Index of a `States` block in [`Definition`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

/// The query language of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// JSONPath, the default.
    #[default]
    JsonPath,
    /// JSONata.
    Jsonata,
}

/// A compiled, valid state machine definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The top-level `Comment`.
    pub comment: Option<String>,
    /// The whole execution's `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// The machine's `QueryLanguage`.
    pub query_language: QueryLanguage,
    pub(crate) states: Vec<State>,
    pub(crate) blocks: Vec<Block>,
}

impl Definition {
    /// The machine's own block.
    pub const ROOT: BlockId = BlockId(0);

    /// The state with id `id`.
    pub fn state(&self, id: StateId) -> &State {
        &self.states[id.0 as usize]
    }

    /// The block with id `id`.
    pub fn block(&self, id: BlockId) -> &Block {
        &self.blocks[id.0 as usize]
    }

    /// The machine's `StartAt` state.
    pub fn start_at(&self) -> StateId {
        self.block(Definition::ROOT).start_at
    }

    /// Every state of the machine, nested ones included.
    pub fn states(&self) -> impl Iterator<Item = (StateId, &State)> {
        self.states
            .iter()
            .enumerate()
            .map(|(index, state)| (StateId(index as u32), state))
    }

    /// The number of states, nested ones included.
    pub fn state_count(&self) -> usize {
        self.states.len()
    }
}

/// One `States` block with its `StartAt`.
#[derive(Debug, Clone)]
pub struct Block {
    /// The first state.
    pub start_at: StateId,
    /// The Parallel or Map state that owns the block, `None` for the machine itself.
    pub owner: Option<StateId>,
    /// The block's `QueryLanguage` default for its states.
    pub query_language: QueryLanguage,
}

/// One state, with the fields common to all types.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name, unique in the whole machine.
    pub name: String,
    /// The block the state belongs to.
    pub block: BlockId,
    /// The effective query language.
    pub query_language: QueryLanguage,
    /// Input and output processing.
    pub io: Io,
    /// The state's `Assign`.
    pub assign: Option<Assign>,
    /// Where to go after the state, for types that transition.
    pub transition: Transition,
    /// `Retry`, for Task, Parallel and Map.
    pub retry: Vec<Retrier>,
    /// `Catch`, for Task, Parallel and Map.
    pub catch: Vec<Catcher>,
    /// What the state does.
    pub kind: Kind,
}

/// Where a state goes when it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `Next`.
    Next(StateId),
    /// `End: true`, or a terminal type (Succeed, Fail).
    End,
    /// Choice decides for itself.
    Choice,
}

/// JSONPath `InputPath`/`OutputPath`/`ItemsPath`: a path, or `null`.
#[derive(Debug, Clone)]
pub enum Selector {
    /// Absent: `$`, the whole document.
    Whole,
    /// `null`: an empty object.
    Null,
    /// A path.
    Path(Path),
}

/// JSONPath `ResultPath`.
#[derive(Debug, Clone)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    Replace,
    /// `null`: the result is discarded and the input passes through.
    Discard,
    /// A reference path inside the input.
    Path(Path),
}

/// A value that JSONata mode may compute: a JSON value in which `{% %}` strings are
/// expressions, compiled when the definition is.
pub use crate::jsonata::Template as JsonataTemplate;

pub use crate::jsonata::Expression;

/// Input and output processing of a state.
#[derive(Debug, Clone)]
pub enum Io {
    /// JSONPath mode.
    JsonPath(JsonPathIo),
    /// JSONata mode.
    Jsonata(JsonataIo),
}

/// JSONPath-mode input/output fields.
#[derive(Debug, Clone)]
pub struct JsonPathIo {
    /// `InputPath`.
    pub input_path: Selector,
    /// `Parameters` (or Map's `ItemSelector`, kept on the Map itself).
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `OutputPath`.
    pub output_path: Selector,
}

/// JSONata-mode input/output fields.
#[derive(Debug, Clone)]
pub struct JsonataIo {
    /// `Arguments`.
    pub arguments: Option<JsonataTemplate>,
    /// `Output`.
    pub output: Option<JsonataTemplate>,
}

/// A state's or catcher's `Assign`.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath mode: a payload template whose fields name the variables.
    JsonPath(Template),
    /// JSONata mode: an object whose values may be expressions.
    Jsonata(JsonataTemplate),
}

/// A number that may come from the definition, a path, or a JSONata expression.
#[derive(Debug, Clone)]
pub enum Dynamic<T> {
    /// A literal in the definition.
    Literal(T),
    /// A `*Path` field.
    Path(Path),
    /// A `{% %}` expression.
    Jsonata(Expression),
}

/// What a state does, by type.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `Pass`.
    Pass(Pass),
    /// `Task`.
    Task(Task),
    /// `Choice`.
    Choice(Choice),
    /// `Wait`.
    Wait(Wait),
    /// `Succeed`.
    Succeed,
    /// `Fail`.
    Fail(Fail),
    /// `Parallel`.
    Parallel(Parallel),
    /// `Map`.
    Map(Box<Map>),
}

impl Kind {
    /// The type name as ASL and history events spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass(_) => "Pass",
            Kind::Task(_) => "Task",
            Kind::Choice(_) => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail(_) => "Fail",
            Kind::Parallel(_) => "Parallel",
            Kind::Map(_) => "Map",
        }
    }
}

/// `Pass` fields.
#[derive(Debug, Clone)]
pub struct Pass {
    /// `Result`.
    pub result: Option<Value>,
}

/// `Task` fields.
#[derive(Debug, Clone)]
pub struct Task {
    /// `Resource`, a constant URI.
    pub resource: String,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout_seconds: Option<Dynamic<u64>>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat_seconds: Option<Dynamic<u64>>,
}

/// `Choice` fields.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `Choices`, in order.
    pub rules: Vec<Rule>,
    /// `Default`.
    pub default: Option<StateId>,
}

/// One compiled top-level Choice rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What the rule tests.
    pub test: RuleTest,
    /// Where to go when it matches.
    pub next: StateId,
    /// The rule's `Assign`.
    pub assign: Option<Assign>,
    /// The rule's JSONata `Output`.
    pub output: Option<JsonataTemplate>,
}

/// A Choice rule's test.
#[derive(Debug, Clone)]
pub enum RuleTest {
    /// JSONPath mode: `Variable` + operator, or `And`/`Or`/`Not`.
    Expr(Expr),
    /// JSONata mode: `Condition`, a boolean or an expression.
    Condition(JsonataTemplate),
}

/// How long a `Wait` state waits.
#[derive(Debug, Clone)]
pub enum Wait {
    /// `Seconds`.
    Seconds(Dynamic<u64>),
    /// `Timestamp`, in epoch milliseconds, or a JSONata expression.
    Timestamp(Dynamic<i64>),
}

/// A `Fail` state's `Error` or `Cause`.
#[derive(Debug, Clone)]
pub enum FailField {
    /// A literal string.
    Literal(String),
    /// `ErrorPath`/`CausePath` as a path.
    Path(Path),
    /// `ErrorPath`/`CausePath` as an intrinsic function call.
    Intrinsic(Intrinsic),
    /// A `{% %}` expression.
    Jsonata(Expression),
}

/// `Fail` fields.
#[derive(Debug, Clone)]
pub struct Fail {
    /// `Error` / `ErrorPath`.
    pub error: Option<FailField>,
    /// `Cause` / `CausePath`.
    pub cause: Option<FailField>,
}

/// `Parallel` fields.
#[derive(Debug, Clone)]
pub struct Parallel {
    /// `Branches`, in order.
    pub branches: Vec<BlockId>,
}

/// `Map` fields.
#[derive(Debug, Clone)]
pub struct Map {
    /// `ItemProcessor` (or `Iterator`).
    pub processor: BlockId,
    /// `ItemsPath` (JSONPath mode).
    pub items_path: Selector,
    /// `Items` (JSONata mode, or a literal array).
    pub items: Option<JsonataTemplate>,
    /// `ItemSelector` (or `Parameters`) in JSONPath mode.
    pub item_selector: Option<Template>,
    /// `ItemSelector` in JSONata mode.
    pub item_selector_jsonata: Option<JsonataTemplate>,
    /// `MaxConcurrency` / `MaxConcurrencyPath`; 0 means no limit.
    pub max_concurrency: Dynamic<u64>,
    /// `ToleratedFailurePercentage` / `...Path`.
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    /// `ToleratedFailureCount` / `...Path`.
    pub tolerated_failure_count: Option<Dynamic<i64>>,
    /// `ProcessorConfig.Mode` is `DISTRIBUTED`.
    pub distributed: bool,
    /// `ProcessorConfig.ExecutionType` is `EXPRESS` (distributed maps): each child may run
    /// for at most AWS's Express limit of five minutes.
    pub express_children: bool,
    /// `Label` (distributed maps): names the map run; the state's name when absent.
    pub label: Option<String>,
    /// `ItemBatcher` (distributed maps only).
    pub item_batcher: Option<ItemBatcher>,
    /// `ItemReader` (distributed maps only): the items come from Amazon S3, not the input.
    pub item_reader: Option<ItemReader>,
    /// `ResultWriter` (distributed maps only), as far as steppe carries it out.
    pub result_writer: Option<ResultWriter>,
}

/// `ResultWriter`: how the children's outputs are shaped, and whether they are exported to
/// Amazon S3 (then the Map's output is `{MapRunArn, ResultWriterDetails}`).
#[derive(Debug, Clone)]
pub struct ResultWriter {
    /// `WriterConfig.Transformation`.
    pub transformation: ResultTransformation,
    /// `Resource` `arn:aws:states:::s3:putObject` with its `Parameters`/`Arguments`.
    pub export: Option<ResultExport>,
}

/// Where and how a `ResultWriter` exports the results.
#[derive(Debug, Clone)]
pub struct ResultExport {
    /// `Parameters` (JSONPath mode): `Bucket` and `Prefix`.
    pub parameters: Option<Template>,
    /// `Arguments` (JSONata mode).
    pub arguments: Option<JsonataTemplate>,
    /// `WriterConfig.OutputType` is `JSONL` (else JSON).
    pub jsonl: bool,
}

/// How a `ResultWriter`'s `WriterConfig` shapes the children's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultTransformation {
    /// `NONE` (the default of an export): each child execution's record, its metadata with
    /// its input and output unchanged, as its DescribeExecution shows it.
    None,
    /// `COMPACT`: the outputs as they are.
    Compact,
    /// `FLATTEN`: an output that is an array gives its elements.
    Flatten,
}

/// `ItemReader`: where a distributed Map reads its items, as far as steppe carries it out
/// (`s3:getObject` with `InputType` CSV, JSON or JSONL; `s3:listObjectsV2` without a
/// `Transformation`).
#[derive(Debug, Clone)]
pub struct ItemReader {
    /// `arn:aws:states:::s3:getObject` or `arn:aws:states:::s3:listObjectsV2`.
    pub resource: String,
    /// `Parameters` (JSONPath mode): `Bucket`, `Key` or `Prefix`.
    pub parameters: Option<Template>,
    /// `Arguments` (JSONata mode).
    pub arguments: Option<JsonataTemplate>,
    /// `ReaderConfig` without `MaxItems`/`MaxItemsPath`, as written.
    pub reader_config: Value,
    /// `MaxItems` / `MaxItemsPath` / `{% %}`: read at most this many items (0: all).
    pub max_items: Option<Dynamic<u64>>,
}

/// `ItemBatcher`: a distributed Map's child receives `{"Items": [...], "BatchInput": ...}`
/// instead of one item. At least one of the two limits is given.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `MaxItemsPerBatchPath` / `{% %}`: at most this many items.
    pub max_items_per_batch: Option<Dynamic<u64>>,
    /// `MaxInputBytesPerBatch` / `...Path` / `{% %}`: at most this many bytes of child input.
    pub max_input_bytes_per_batch: Option<Dynamic<u64>>,
    /// `BatchInput`, added to every batch.
    pub batch_input: Option<BatchInput>,
}

/// `ItemBatcher.BatchInput` in the Map's query language.
#[derive(Debug, Clone)]
pub enum BatchInput {
    /// A payload template (JSONPath).
    JsonPath(Template),
    /// A JSONata value.
    Jsonata(JsonataTemplate),
}

/// One `Retry` entry.
#[derive(Debug, Clone)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3).
    pub max_attempts: u64,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy` is `FULL`.
    pub jitter_full: bool,
}

/// One `Catch` entry.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `Next`.
    pub next: StateId,
    /// `ResultPath` (JSONPath mode).
    pub result_path: ResultPath,
    /// `Output` (JSONata mode).
    pub output: Option<JsonataTemplate>,
    /// `Assign`.
    pub assign: Option<Assign>,
}

/// Whether an `ErrorEquals` list matches `error`, with AWS's wildcard rules.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    use crate::error_name::{is_terminal, ALL, TASK_FAILED, TIMEOUT};
    error_equals.iter().any(|name| {
        name == error
            || (name == ALL && !is_terminal(error))
            || (name == TASK_FAILED && error != TIMEOUT && !is_terminal(error))
    })
}
