//! Every service limit the definition language and the engine enforce, in one place.
//!
//! Values are AWS's documented quotas (see `shared/reference/sfn-surface.md` section 4)
//! or, where AWS documents none, a bound we chose so that no input can make us loop or
//! allocate without end.

/// Maximum size of any payload (state input/output, execution input/output), in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// Maximum length of a state name, in Unicode scalar values.
pub const STATE_NAME_CHARS_MAX: usize = 80;
/// Maximum number of events in one execution's history.
pub const HISTORY_EVENTS_MAX: u64 = 25_000;
/// Maximum nesting depth of intrinsic function calls.
pub const INTRINSIC_NESTING_MAX: usize = 10;
/// Maximum nesting of brackets and parentheses in a JSONPath that is not a plain field/index
/// path. Ours: the RFC 9535 parser we use backtracks, so its time doubles with each filter
/// nested in a filter; real paths nest two or three deep.
pub const PATH_NESTING_MAX: usize = 10;
/// Maximum number of nodes one JSONPath selection may visit, counted as an upper bound before
/// each top-level segment runs. Ours: Jayway has none, but a 256 KiB input has at most
/// 131,072 nodes, so only chained deep scans, unions and filters that repeat nodes come near
/// it (`$..a..a..a` over an input nested 120 deep: 4.9 GB of copies before it was bounded).
pub const PATH_VISITS_MAX: usize = 1_000_000;
/// Maximum size of what one indefinite JSONPath selects, in bytes of JSON: the payload limit,
/// since every field a path fills ends in a payload (AWS's `States.DataLimitExceeded`).
pub const PATH_SELECTION_BYTES_MAX: usize = PAYLOAD_BYTES_MAX;
/// Maximum number of items in one sequence a JSONata expression builds (range, map, filter,
/// wildcard, descendants, ...), for Step Functions' evaluations. Ours: jsonata-js refuses
/// ranges over 10^7 items (D2014) and AWS documents a memory limit per expression without its
/// size; an output holds at most 131,072 items (256 KiB), so a million leaves room for
/// intermediates while `[1..10000000]` fails at once instead of allocating a gigabyte.
pub const JSONATA_SEQUENCE_ITEMS_MAX: usize = 1_000_000;
/// Maximum memory one JSONata evaluation may hold at once, in bytes: what its thread allocates
/// less what it frees (`steppe-budget`), from its bindings to its converted result. Ours: AWS
/// documents a memory limit without its size; a sequence at `JSONATA_SEQUENCE_ITEMS_MAX` takes
/// about 60 MiB with its copies, while nested literal arrays of ranges, which no sequence
/// limit sees, reached gigabytes within the one-second time bound before this one.
pub const JSONATA_BYTES_MAX: usize = 256 << 20;
/// Maximum number of items `States.ArrayRange` may produce.
pub const ARRAY_RANGE_ITEMS_MAX: usize = 1000;
/// Maximum size of the arguments of one intrinsic function call, and of its result, in bytes
/// of JSON. Ours: AWS documents none (Jackson shares one node where `States.Array($, $)`
/// repeats it, we copy), and a state's whole data is bounded by the variables' total.
pub const INTRINSIC_VALUES_BYTES_MAX: usize = VARIABLES_TOTAL_BYTES_MAX;
/// Maximum length of the input string of `States.Base64Encode`/`Base64Decode`/`Hash`.
pub const INTRINSIC_STRING_CHARS_MAX: usize = 10_000;
/// Maximum nesting depth of JSON values and definitions we accept.
pub const JSON_DEPTH_MAX: usize = 256;
/// Maximum size of a definition document, in bytes (AWS: 1 MiB).
pub const DEFINITION_BYTES_MAX: usize = 1024 * 1024;
/// Maximum total size of the diagnostics one compilation keeps (locations and messages), in
/// bytes; errors beyond it are counted but not kept. Ours: no real definition comes near it.
pub const DIAGNOSTICS_BYTES_MAX: usize = 1024 * 1024;
/// Maximum length of a variable name, in Unicode scalar values.
pub const VARIABLE_NAME_CHARS_MAX: usize = 80;
/// Maximum size of a single variable's value, in bytes.
pub const VARIABLE_BYTES_MAX: usize = 256 * 1024;
/// Maximum size of all values assigned by one `Assign`, in bytes.
pub const ASSIGN_BYTES_MAX: usize = 256 * 1024;
/// Maximum total size of all variables of one execution, in bytes.
pub const VARIABLES_TOTAL_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Largest `TimeoutSeconds`, `HeartbeatSeconds`, `IntervalSeconds` and `MaxAttempts` AWS accepts.
pub const SECONDS_MAX: u64 = 99_999_999;
/// Largest `MaxDelaySeconds` of a retrier.
pub const MAX_DELAY_SECONDS_MAX: u64 = 31_622_400;
/// Default `TimeoutSeconds` of a Task state, as AWS documents it.
pub const TASK_TIMEOUT_SECONDS_DEFAULT: u64 = 99_999_999;
/// Maximum duration of an Express execution, in seconds.
pub const EXPRESS_DURATION_SECONDS_MAX: u64 = 300;
/// Maximum duration of a Standard execution, in seconds (one year).
pub const STANDARD_DURATION_SECONDS_MAX: u64 = 366 * 24 * 3600;
/// Maximum number of concurrently running iterations of an inline Map state (AWS runs at most 40).
pub const INLINE_MAP_CONCURRENCY_MAX: usize = 40;
/// Maximum number of concurrently running child executions of a distributed Map (AWS's
/// `MaxConcurrency` limit in distributed mode).
pub const DISTRIBUTED_MAP_CONCURRENCY_MAX: usize = 10_000;
/// How many times one Map Run may be redriven (AWS's hard limit; past it, a redrive of its
/// parent fails the Map with `States.Runtime`).
pub const MAP_RUN_REDRIVES_MAX: u32 = 1_000;
/// `ItemBatcher.MaxInputBytesPerBatch` at most, and a batch's size when none is given (256 KiB).
pub const BATCH_BYTES_MAX: u64 = PAYLOAD_BYTES_MAX as u64;
/// `ItemReader.ReaderConfig.MaxItems` at most.
pub const READER_MAX_ITEMS_MAX: u64 = 100_000_000;
/// steppe's own bound on the items a distributed Map holds after reading them from its
/// `ItemReader` and before starting their children: it asks for the next page of items
/// only while fewer than this many wait, so it holds at most this many plus one page
/// (1,000 items or 1 MiB, `steppe_tasks::s3::items::PAGE_ITEMS_MAX`/`PAGE_BYTES_MAX`),
/// whatever the object's size.
pub const ITEM_READER_WAITING_ITEMS_MAX: usize = 1_000;
/// A `ResultWriter` export's result files are written while the Map Run runs: a file's
/// text goes to S3 as a part of a multipart upload each time this much of it is held
/// (S3's smallest part but the last, 5 MiB).
pub const RESULT_WRITER_PART_BYTES: usize = 5 * 1024 * 1024;
/// steppe's own bound on the result text a distributed Map holds per result file
/// (SUCCEEDED, FAILED) while a part is on its way: past it, no child starts until the part
/// is written. A Map Run with a `ResultWriter` holds at most this much per file, plus the
/// entries of the children running at once, whatever its number of children.
pub const RESULT_WRITER_HELD_BYTES_MAX: usize = 2 * RESULT_WRITER_PART_BYTES;
/// The most parts of one result file (S3's most parts of a multipart upload): with parts of
/// at least [`RESULT_WRITER_PART_BYTES`], 50 GiB, past which the export fails.
pub const RESULT_WRITER_PARTS_MAX: u32 = 10_000;
