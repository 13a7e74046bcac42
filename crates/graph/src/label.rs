//! Readable edge labels: Choice rules as short expressions, Catch entries as error lists.
//!
//! `{"Variable": "$.total", "NumericGreaterThanEquals": 1000}` reads `$.total >= 1000`;
//! `And`/`Or`/`Not` nest with parentheses; JSONata conditions show their expression.

use serde_json::Value;
use steppe_asl::choice::{Comparison, Expr, Operand, Operator};
use steppe_asl::definition::{JsonataTemplate, RuleTest};

/// The label of a Choice rule.
pub fn rule(test: &RuleTest) -> String {
    match test {
        RuleTest::Expr(expr) => expr_text(expr, false),
        RuleTest::Condition(template) => match template.as_expression() {
            Some(expression) => expression.text().trim().to_string(),
            None => match template {
                JsonataTemplate::Constant(value) => value.to_string(),
                _ => "Condition".to_string(),
            },
        },
    }
}

/// The label of a Catch edge.
pub fn catch(error_equals: &[String]) -> String {
    format!("Catch {}", error_equals.join(", "))
}

/// What a Task does, read from its `Resource`: the integration and how the state waits for
/// it (`· job`: `.sync`, runs the job to its end; `· callback`: `.waitForTaskToken`), for the
/// caption under its name. `arn:aws:states:::lambda:invoke.waitForTaskToken` reads
/// `Lambda invoke · callback`.
pub fn task_caption(resource: &str) -> String {
    let (base, wait) = if let Some(base) = resource.strip_suffix(".waitForTaskToken") {
        (base, Some("callback"))
    } else if let Some((base, _)) = resource
        .split_once(".sync:")
        .or_else(|| resource.strip_suffix(".sync").map(|base| (base, "")))
    {
        (base, Some("job"))
    } else {
        (resource, None)
    };
    let parts: Vec<&str> = base.split(':').collect();
    let service = parts.get(2).copied().unwrap_or("");
    let what = match (service, &parts[..]) {
        ("lambda", [.., "function", _]) | ("lambda", [.., "function", _, _]) => {
            "Lambda function".to_string()
        }
        ("states", [.., "activity", _]) => "Activity".to_string(),
        ("states", [_, _, _, _, _, "aws-sdk", sdk_service, action]) => {
            format!("SDK {sdk_service} {}", words(action))
        }
        ("states", [_, _, _, _, _, integration, action]) => {
            format!("{} {}", service_name(integration), words(action))
        }
        _ => "Task".to_string(),
    };
    match wait {
        Some(wait) => format!("{what} · {wait}"),
        None => what,
    }
}

/// `lambda` → `Lambda`, `sqs` → `SQS`, `states` → `Step Functions`; others as written.
fn service_name(integration: &str) -> String {
    match integration {
        "lambda" => "Lambda".to_string(),
        "http" => "HTTP".to_string(),
        "states" => "Step Functions".to_string(),
        "sqs" | "sns" | "ecs" | "eks" | "s3" | "emr" => integration.to_ascii_uppercase(),
        "dynamodb" => "DynamoDB".to_string(),
        "events" => "EventBridge".to_string(),
        "glue" => "Glue".to_string(),
        "batch" => "Batch".to_string(),
        "sagemaker" => "SageMaker".to_string(),
        "bedrock" => "Bedrock".to_string(),
        other => other.to_string(),
    }
}

/// An API action's words in lower case: `sendMessage` → `send message`, `startExecution` →
/// `start execution`.
fn words(action: &str) -> String {
    let mut out = String::with_capacity(action.len() + 4);
    for (i, c) in action.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Shortens `text` to at most `chars_max` characters, ending with `…` when cut.
pub fn truncate(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars_max.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn expr_text(expr: &Expr, nested: bool) -> String {
    let joined = |rules: &[Expr], word: &str| {
        let parts: Vec<String> = rules.iter().map(|rule| expr_text(rule, true)).collect();
        let text = parts.join(word);
        if nested && rules.len() > 1 {
            format!("({text})")
        } else {
            text
        }
    };
    match expr {
        Expr::And(rules) => joined(rules, " and "),
        Expr::Or(rules) => joined(rules, " or "),
        Expr::Not(inner) => format!("not {}", expr_text(inner, true)),
        Expr::Compare(comparison) => comparison_text(comparison),
    }
}

fn comparison_text(comparison: &Comparison) -> String {
    let variable = comparison.variable.as_str();
    let operand = match &comparison.operand {
        Operand::Literal(value) => value.to_string(),
        Operand::Path(path) => path.as_str().to_string(),
        Operand::None => String::new(),
    };
    let expected = match &comparison.operand {
        Operand::Literal(Value::Bool(expected)) => *expected,
        _ => true,
    };
    let type_test = |what: &str| {
        let negation = if expected { "" } else { "not " };
        format!("{variable} is {negation}{what}")
    };
    use Operator::*;
    let symbol = match comparison.operator {
        IsNull => return type_test("null"),
        IsPresent => return type_test("present"),
        IsNumeric => return type_test("numeric"),
        IsString => return type_test("a string"),
        IsBoolean => return type_test("a boolean"),
        IsTimestamp => return type_test("a timestamp"),
        StringMatches => "matches",
        StringEquals | NumericEquals | BooleanEquals | TimestampEquals => "==",
        StringLessThan | NumericLessThan | TimestampLessThan => "<",
        StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => ">",
        StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => "<=",
        StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => ">=",
    };
    format!("{variable} {symbol} {operand}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule_json: &str, expected: &str) {
        let text = format!(
            r#"{{"StartAt":"C","States":{{"C":{{"Type":"Choice","Choices":[{rule_json}],"Default":"D"}},"D":{{"Type":"Succeed"}}}}}}"#
        );
        let definition = steppe_asl::compile(&text).expect("valid definition");
        let steppe_asl::definition::Kind::Choice(choice) =
            &definition.state(definition.start_at()).kind
        else {
            panic!("not a Choice");
        };
        assert_eq!(rule(&choice.rules[0].test), expected);
    }

    #[test]
    fn comparisons_read_as_expressions() {
        check(
            r#"{"Variable":"$.total","NumericGreaterThanEquals":1000,"Next":"D"}"#,
            "$.total >= 1000",
        );
        check(
            r#"{"Variable":"$.s","StringEquals":"ok","Next":"D"}"#,
            r#"$.s == "ok""#,
        );
        check(
            r#"{"Variable":"$.a","NumericLessThanPath":"$.b","Next":"D"}"#,
            "$.a < $.b",
        );
        check(
            r#"{"Variable":"$.s","StringMatches":"log-*","Next":"D"}"#,
            r#"$.s matches "log-*""#,
        );
    }

    #[test]
    fn type_tests_and_negation() {
        check(
            r#"{"Not":{"Variable":"$.items[0]","IsPresent":true},"Next":"D"}"#,
            "not $.items[0] is present",
        );
        check(
            r#"{"Variable":"$.x","IsNull":false,"Next":"D"}"#,
            "$.x is not null",
        );
    }

    #[test]
    fn and_or_nest_with_parentheses() {
        check(
            r#"{"And":[{"Variable":"$.a","NumericGreaterThan":1},{"Or":[{"Variable":"$.b","BooleanEquals":true},{"Variable":"$.c","IsString":true}]}],"Next":"D"}"#,
            "$.a > 1 and ($.b == true or $.c is a string)",
        );
    }

    #[test]
    fn task_captions_name_the_integration_and_how_it_waits() {
        for (resource, caption) in [
            ("arn:aws:states:::lambda:invoke", "Lambda invoke"),
            (
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Lambda invoke · callback",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:greet",
                "Lambda function",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:greet:live",
                "Lambda function",
            ),
            (
                "arn:aws:states:us-east-1:123456789012:activity:approve",
                "Activity",
            ),
            ("arn:aws:states:::http:invoke", "HTTP invoke"),
            ("arn:aws:states:::sqs:sendMessage", "SQS send message"),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "SQS send message · callback",
            ),
            (
                "arn:aws:states:::states:startExecution.sync:2",
                "Step Functions start execution · job",
            ),
            ("arn:aws:states:::ecs:runTask.sync", "ECS run task · job"),
            ("arn:aws:states:::dynamodb:putItem", "DynamoDB put item"),
            (
                "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                "SDK s3 list objects v2",
            ),
            ("not-an-arn", "Task"),
        ] {
            assert_eq!(task_caption(resource), caption, "{resource}");
        }
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ab", 4), "ab");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }
}
