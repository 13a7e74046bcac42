//! `steppe run`'s task options: mocks, local functions and connections, turned into the
//! task handler for one execution.

use anyhow::Result;
use std::path::PathBuf;
use steppe_tasks::services::Services;
use steppe_tasks::{http::Connections, lambda::Functions, mock::MockConfig, Config, Integrations};

/// Where Task states' work comes from.
#[derive(clap::Args, Debug, Default)]
pub struct TaskArgs {
    /// A Step Functions Local mock configuration file (MockConfigFile.json).
    #[arg(long, requires = "test_case")]
    pub mock_config: Option<PathBuf>,
    /// The mock test case to run (under the state machine's name in the mock file).
    #[arg(long, requires = "mock_config")]
    pub test_case: Option<String>,
    /// The state machine's name, for the mock file and the ARNs (default: the definition file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// A functions file mapping Lambda function names to local commands or endpoints.
    #[arg(long)]
    pub functions: Option<PathBuf>,
    /// A connections file supplying the HTTP Task's EventBridge connections.
    #[arg(long)]
    pub connections: Option<PathBuf>,
    /// Send AWS service integrations (SQS, SNS, EventBridge, DynamoDB, aws-sdk:*) to this
    /// endpoint, e.g. LocalStack's http://localhost:4566.
    #[arg(long, env = "STEPPE_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    /// One service's endpoint, SERVICE=URL (e.g. sqs=http://localhost:9324); repeatable.
    #[arg(long = "service-endpoint", value_name = "SERVICE=URL")]
    pub service_endpoints: Vec<String>,
    /// Serve Amazon S3 (aws-sdk:s3:*) from local folders: bucket NAME is the folder DIR/NAME
    /// and a key its path below it. Wins over --aws-endpoint and --service-endpoint s3=URL.
    #[arg(long, value_name = "DIR")]
    pub s3_dir: Option<PathBuf>,
    /// A host, IP address or CIDR range the HTTP Task and API Gateway calls may reach although
    /// it is refused by default (link-local and cloud metadata addresses); repeatable.
    #[arg(long = "http-allow", value_name = "HOST|CIDR")]
    pub http_allow: Vec<String>,
    /// A host, IP address or CIDR range the HTTP Task and API Gateway calls may not reach;
    /// repeatable; comes before --http-allow.
    #[arg(long = "http-deny", value_name = "HOST|CIDR")]
    pub http_deny: Vec<String>,
}

/// The task handler for one execution of the state machine `state_machine_name`.
pub fn handler(
    args: &TaskArgs,
    state_machine_name: &str,
    info: &steppe_engine::ExecutionInfo,
) -> Result<Integrations> {
    let mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(test_case)) => {
            Some(MockConfig::load(path)?.test_case(state_machine_name, test_case)?)
        }
        _ => None,
    };
    let functions = args.functions.as_deref().map(Functions::load).transpose()?;
    let connections = match &args.connections {
        Some(path) => Connections::load(path)?,
        None => Connections::default(),
    };
    let mut services = Services::new(
        &info.region,
        args.aws_endpoint.as_deref(),
        &args.service_endpoints,
    )?;
    services.s3_dir = args.s3_dir.clone();
    let destinations =
        steppe_tasks::destinations::Destinations::new(&args.http_allow, &args.http_deny)
            .map_err(|why| anyhow::anyhow!("--http-allow/--http-deny: {why}"))?;
    Ok(Integrations::new(Config {
        mocks,
        functions,
        connections,
        services,
        destinations,
        execution_arn: Some(info.execution_arn.clone()),
    }))
}
