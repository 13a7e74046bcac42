//! Distributed Map items as AWS's documentation describes them: `ItemBatcher` batches
//! (ItemBatcher page) and `$$.Map.Item` (Context object page).

use serde_json::{json, Value};
use steppe_engine::{apply, Config, Execution, Input, Status};

mod common;
use common::info;

/// Runs `definition` on `input` to its end: the output, or the error and cause.
fn run(definition: &Value, input: Value) -> Result<Value, (String, String)> {
    let text = definition.to_string();
    let definition = steppe_asl::compile(&text).unwrap_or_else(|d| panic!("{d:?}"));
    let mut execution = Execution::new(info(), input, Config::standard(), 42);
    let mut transition = apply(&definition, &mut execution, Input::Start, 1_000);
    for _ in 0..10_000 {
        if execution.status != Status::Running {
            break;
        }
        assert!(
            transition
                .commands
                .iter()
                .any(|command| matches!(command, steppe_engine::Command::Continue)),
            "a pure machine only waits to continue"
        );
        transition = apply(&definition, &mut execution, Input::Continue, 1_000);
    }
    match execution.status {
        Status::Succeeded => Ok(execution.output.clone().expect("an output")),
        _ => {
            let error = execution.error.clone().expect("an error");
            Err((
                error.error.unwrap_or_default(),
                error.cause.unwrap_or_default(),
            ))
        }
    }
}

/// A machine whose Map, with `fields`, echoes each child's input.
fn distributed(fields: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": true}}
        },
        "End": true
    });
    let mut machine = json!({"StartAt": "Map", "States": {}});
    for (key, value) in fields.as_object().expect("fields") {
        if key == "QueryLanguage" {
            machine[key] = value.clone();
        } else {
            map[key] = value.clone();
        }
    }
    machine["States"]["Map"] = map;
    machine
}

#[test]
fn max_items_per_batch_groups_items_in_order() {
    // "If you specify a maximum items value for each batch of 100, Step Functions creates
    // 12 batches [of 1130 items]. Of these, 11 batches contain 100 items each, while the
    // twelfth batch contains the remaining 30 items."
    let machine = distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}));
    assert_eq!(
        run(&machine, json!([1, 2, 3, 4, 5])),
        Ok(json!([{"Items": [1, 2]}, {"Items": [3, 4]}, {"Items": [5]}]))
    );
    let items: Vec<u64> = (0..1130).collect();
    let machine = distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 100}}));
    let output = run(&machine, json!(items)).expect("succeeds");
    let sizes: Vec<usize> = output
        .as_array()
        .unwrap()
        .iter()
        .map(|batch| batch["Items"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes.len(), 12);
    assert!(sizes[..11].iter().all(|&size| size == 100));
    assert_eq!(sizes[11], 30);
}

#[test]
fn batch_input_is_merged_into_every_batch() {
    // "Each child workflow execution receives the following as input:
    // {"BatchInput": {"factCheck": "December 2022"}, "Items": [...]}"
    let machine = distributed(json!({
        "ItemsPath": "$.facts",
        "ItemBatcher": {
            "MaxItemsPerBatch": 2,
            "BatchInput": {"factCheck": "December 2022", "from.$": "$.source"}
        }
    }));
    let output = run(&machine, json!({"facts": ["a", "b", "c"], "source": "s"}));
    let batch_input = json!({"factCheck": "December 2022", "from": "s"});
    assert_eq!(
        output,
        Ok(json!([
            {"BatchInput": batch_input, "Items": ["a", "b"]},
            {"BatchInput": batch_input, "Items": ["c"]}
        ]))
    );
}

#[test]
fn items_go_through_the_item_selector_before_they_are_batched() {
    // Step Functions applies ItemsPath, then ItemSelector, then ItemBatcher (Map state
    // input and output fields page).
    let machine = distributed(json!({
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemBatcher": {"MaxItemsPerBatch": 2}
    }));
    assert_eq!(
        run(&machine, json!(["x", "y", "z"])),
        Ok(json!([
            {"Items": [{"v": "x", "i": 0}, {"v": "y", "i": 1}]},
            {"Items": [{"v": "z", "i": 2}]}
        ]))
    );
}

#[test]
fn max_input_bytes_per_batch_shortens_batches() {
    // "If you specify both a batch number and size, the interpreter reduces the number of
    // items in a batch to avoid exceeding the specified batch size limit." The child input
    // {"Items":["aaaa","bbbb"]} is 25 bytes; a third item would make it 32.
    let machine = distributed(json!({
        "ItemBatcher": {"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 30}
    }));
    assert_eq!(
        run(&machine, json!(["aaaa", "bbbb", "cccc", "dddd", "eeee"])),
        Ok(json!([
            {"Items": ["aaaa", "bbbb"]},
            {"Items": ["cccc", "dddd"]},
            {"Items": ["eeee"]}
        ]))
    );
    // Without a number limit, as many items as fit.
    let machine = distributed(json!({"ItemBatcher": {"MaxInputBytesPerBatch": 32}}));
    assert_eq!(
        run(&machine, json!(["aaaa", "bbbb", "cccc", "dddd"])),
        Ok(json!([{"Items": ["aaaa", "bbbb", "cccc"]}, {"Items": ["dddd"]}]))
    );
}

#[test]
fn without_a_byte_limit_a_batch_holds_at_most_256_kib() {
    // "If you use batching and don't specify a maximum batch size, the interpreter processes
    // as many items it can process up to 256 KiB in each child workflow execution."
    let item = "x".repeat(100 * 1024);
    let mut machine = distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 1000}}));
    machine["States"]["Map"]["ItemProcessor"]["States"]["Echo"]["Parameters"] =
        json!({"n.$": "States.ArrayLength($.Items)"});
    let output = run(&machine, json!([item, item, item])).expect("succeeds");
    assert_eq!(output, json!([{"n": 2}, {"n": 1}]));
}

#[test]
fn limits_read_from_paths_accept_numbers_and_numeric_strings() {
    let machine = distributed(json!({
        "ItemsPath": "$.items",
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}
    }));
    let expected = json!([{"Items": [1, 2]}, {"Items": [3]}]);
    assert_eq!(
        run(&machine, json!({"items": [1, 2, 3], "n": 2})),
        Ok(expected.clone())
    );
    assert_eq!(
        run(&machine, json!({"items": [1, 2, 3], "n": "2"})),
        Ok(expected)
    );
    // "This path must resolve to a positive integer."
    for bad in [json!(0), json!(-1), json!("two"), json!(1.5)] {
        let (error, cause) = run(&machine, json!({"items": [1, 2, 3], "n": bad}))
            .expect_err("a bad batch size fails the state");
        assert_eq!(error, "States.Runtime");
        assert!(
            cause.contains("The MaxItemsPerBatchPath field refers to value")
                && cause.ends_with(": $.n"),
            "{cause}"
        );
    }
}

#[test]
fn jsonata_limits_and_batch_input() {
    // "For JSONata-based states, you can also provide a JSONata expression that evaluates
    // to a positive integer", and JSONata in BatchInput.
    let machine = distributed(json!({
        "QueryLanguage": "JSONata",
        "Items": "{% $states.input.items %}",
        "ItemBatcher": {
            "MaxItemsPerBatch": "{% $states.input.n %}",
            "BatchInput": {"total": "{% $count($states.input.items) %}"}
        }
    }));
    assert_eq!(
        run(&machine, json!({"items": [1, 2, 3], "n": 2})),
        Ok(json!([
            {"BatchInput": {"total": 3}, "Items": [1, 2]},
            {"BatchInput": {"total": 3}, "Items": [3]}
        ]))
    );
    let (error, _) = run(&machine, json!({"items": [1], "n": 0})).expect_err("n must be positive");
    assert_eq!(error, "States.QueryEvaluationError");
}

#[test]
fn an_item_larger_than_the_byte_limit_fails_the_map() {
    let machine = distributed(json!({"ItemBatcher": {"MaxInputBytesPerBatch": 20}}));
    let (error, cause) = run(&machine, json!(["a", "a long item of 30 characters.."]))
        .expect_err("the second item fits in no batch");
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.contains("The item at index 1 does not fit"),
        "{cause}"
    );
}

#[test]
fn a_batch_input_larger_than_the_byte_limit_fails_the_map() {
    let machine = distributed(json!({"ItemBatcher": {
        "MaxInputBytesPerBatch": 40, "BatchInput": {"note": "thirty characters of text here"}}}));
    let (error, cause) = run(&machine, json!([1])).expect_err("no room for items");
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("The BatchInput leaves no room"), "{cause}");
}

#[test]
fn tolerated_failures_count_the_items_of_failed_batches() {
    // With batching, a failed child fails all the items of its batch.
    let mut machine = distributed(json!({
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ToleratedFailureCount": 1
    }));
    machine["States"]["Map"]["ItemProcessor"]["States"] = json!({
        "Echo": {"Type": "Fail", "Error": "Boom", "Cause": "c"}
    });
    let (error, _) = run(&machine, json!([1, 2, 3])).expect_err("two items failed");
    assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    machine["States"]["Map"]["ToleratedFailureCount"] = json!(3);
    let output = run(&machine, json!([1, 2, 3])).expect("three tolerated");
    assert_eq!(output.as_array().map(Vec::len), Some(2));
}

#[test]
fn a_redrive_reruns_only_the_batches_that_did_not_succeed() {
    let mut machine = distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}));
    machine["States"]["Map"]["ItemProcessor"]["StartAt"] = json!("Check");
    machine["States"]["Map"]["ItemProcessor"]["States"] = json!({
        "Check": {"Type": "Choice", "Choices": [{"And": [
            {"Variable": "$.Items[0]", "NumericEquals": 3},
            {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0}
        ], "Next": "Boom"}], "Default": "Echo"},
        "Boom": {"Type": "Fail", "Error": "Boom"},
        "Echo": {"Type": "Pass", "Parameters": {"items.$": "$.Items", "run.$": "$$.Execution.RedriveCount"}, "End": true}
    });
    let definition = steppe_asl::compile(&machine.to_string()).unwrap_or_else(|d| panic!("{d:?}"));
    let mut execution = Execution::new(info(), json!([1, 2, 3, 4, 5]), Config::standard(), 42);
    apply(&definition, &mut execution, Input::Start, 1_000);
    assert_eq!(execution.status, Status::Failed);
    apply(&definition, &mut execution, Input::Redrive, 2_000);
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(
        execution.output,
        Some(json!([
            {"items": [1, 2], "run": 0},
            {"items": [3, 4], "run": 1},
            {"items": [5], "run": 1}
        ]))
    );
}

/// Issue 16 item 10: three divergences found on held-out AWS recordings.
mod divergences {
    use super::*;

    #[test]
    fn a_one_item_jsonata_sequence_is_a_single_value() {
        let machine = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"one": "{% $range(1, 9, 9) %}", "two": "{% $range(1, 9, 8) %}"}, "End": true}}});
        assert_eq!(
            run(&machine, json!({})),
            Ok(json!({"one": 1, "two": [1, 9]}))
        );
    }

    #[test]
    fn tolerated_failure_paths_accept_numeric_strings() {
        for (key, value) in [
            ("ToleratedFailureCountPath", json!("1")),
            ("ToleratedFailurePercentagePath", json!("100")),
            ("ToleratedFailurePercentagePath", json!("100.0")),
        ] {
            let mut machine = distributed(json!({"ItemsPath": "$.items", key: "$.tolerated"}));
            machine["States"]["Map"]["ItemProcessor"]["States"]["Echo"] =
                json!({"Type": "Fail", "Error": "Boom", "Cause": "c"});
            // One failed item of one: within a count of 1 and 100 %.
            let input = json!({"items": [1], "tolerated": value});
            let output = run(&machine, input);
            assert_eq!(
                output,
                Ok(json!([{"Error": "Boom", "Cause": "c"}])),
                "{key} = {value}"
            );
        }
        // A string that is no number is still refused, in AWS's words (recorded NoNumber).
        let machine =
            distributed(json!({"ToleratedFailurePercentagePath": "$.p", "ItemsPath": "$.items"}));
        let (error, cause) = run(&machine, json!({"items": [1], "p": "NoNumber"})).unwrap_err();
        assert_eq!(error, "States.Runtime");
        assert!(cause.ends_with("The ToleratedFailurePercentagePath field refers to value \"NoNumber\" which is not a valid float: $.p"), "{cause}");
    }

    #[test]
    fn items_that_evaluate_to_a_function_are_an_unsupported_result_type() {
        let machine = json!({"QueryLanguage": "JSONata", "StartAt": "Map", "States": {"Map": {
            "Type": "Map", "Items": "{% function($x) { $x } %}",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let (error, cause) = run(&machine, json!({})).unwrap_err();
        assert_eq!(error, "States.QueryEvaluationError");
        assert!(
            cause.ends_with("The JSONata expression 'function($x) { $x }' specified for the field 'Items' returned an unsupported result type."),
            "{cause}"
        );
    }
}

/// Issue 16 item 6: Maps over a JSON object, and `$$.Map.Item.Key` and `.Source`.
mod objects {
    use super::*;

    #[test]
    fn the_context_object_pages_inline_example_shows_index_value_and_source() {
        // The Context object page's JSONPath example, run with its input, and its output.
        let machine = json!({
            "StartAt": "ExampleMapState",
            "States": {"ExampleMapState": {
                "Type": "Map",
                "ItemSelector": {
                    "ContextIndex.$": "$$.Map.Item.Index",
                    "ContextValue.$": "$$.Map.Item.Value",
                    "ContextSource.$": "$$.Map.Item.Source"
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "TestPass",
                    "States": {"TestPass": {"Type": "Pass", "End": true}}
                },
                "End": true
            }}
        });
        let input = json!([{"who": "bob"}, {"who": "meg"}, {"who": "joe"}]);
        assert_eq!(
            run(&machine, input),
            Ok(json!([
                {"ContextIndex": 0, "ContextValue": {"who": "bob"}, "ContextSource": "STATE_DATA"},
                {"ContextIndex": 1, "ContextValue": {"who": "meg"}, "ContextSource": "STATE_DATA"},
                {"ContextIndex": 2, "ContextValue": {"who": "joe"}, "ContextSource": "STATE_DATA"}
            ]))
        );
    }

    #[test]
    fn a_distributed_map_iterates_the_key_value_pairs_of_an_object() {
        // ItemsPath page: "To iterate over the web servers object, you would set ItemsPath
        // to $.servers.web"; each pair's key is `$$.Map.Item.Key` and its value
        // `$$.Map.Item.Value`.
        let machine = distributed(json!({
            "ItemsPath": "$.servers.web",
            "ItemSelector": {
                "name.$": "$$.Map.Item.Key",
                "server.$": "$$.Map.Item.Value",
                "index.$": "$$.Map.Item.Index",
                "source.$": "$$.Map.Item.Source"
            }
        }));
        let input = json!({"environment": "production", "servers": {"web": {
            "server1": {"port": 80, "status": "active"},
            "server2": {"port": 8080, "status": "inactive"}
        }}});
        assert_eq!(
            run(&machine, input),
            Ok(json!([
                {"name": "server1", "server": {"port": 80, "status": "active"}, "index": 0, "source": "STATE_DATA"},
                {"name": "server2", "server": {"port": 8080, "status": "inactive"}, "index": 1, "source": "STATE_DATA"}
            ]))
        );
    }

    #[test]
    fn jsonata_items_may_be_an_object_in_a_distributed_map() {
        let machine = distributed(json!({
            "QueryLanguage": "JSONata",
            "Items": "{% $states.input.counts %}",
            "ItemSelector": {
                "k": "{% $states.context.Map.Item.Key %}",
                "v": "{% $states.context.Map.Item.Value %}"
            },
            "ItemBatcher": {"MaxItemsPerBatch": 2}
        }));
        assert_eq!(
            run(&machine, json!({"counts": {"b": 2, "a": 1, "c": 3}})),
            Ok(json!([
                {"Items": [{"k": "b", "v": 2}, {"k": "a", "v": 1}]},
                {"Items": [{"k": "c", "v": 3}]}
            ]))
        );
    }

    #[test]
    fn an_inline_map_still_refuses_an_object() {
        // Inline mode page: "In Inline mode, the Map state accepts only a JSON array as
        // input"; AWS recorded this cause for an object (localstack scenarios
        // test_map_state_items_input_types[object]).
        let machine = json!({"StartAt": "Map", "States": {"Map": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let (error, cause) = run(&machine, json!({"foo": "bar"})).unwrap_err();
        assert_eq!(error, "States.Runtime");
        assert!(
            cause.ends_with("Map state input must be an array but was: {\"foo\":\"bar\"}"),
            "{cause}"
        );
    }
}
