//! What the engine's test files share.

use steppe_engine::ExecutionInfo;

/// A fixed execution, started at epoch millisecond 1,000.
pub fn info() -> ExecutionInfo {
    ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        name: "e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        region: "us-east-1".into(),
        start_time_millis: 1_000,
        redrive_count: 0,
        id: 0,
    }
}
