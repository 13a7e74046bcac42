//! `Choice`: picks the next state by the first matching rule, or `Default`.

use super::advance;
use crate::execution::Frame;
use crate::io::{self, Env};
use crate::run::{Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Choice, RuleTest, State};
use steppe_asl::error_name::{self, Failure};
use steppe_asl::jsonata;

pub(crate) fn run(run: &mut Run<'_>, mut frame: Frame, state: &State, choice: &Choice) -> Next {
    let Some(io) = io::json_path_io(state) else {
        return run_jsonata(run, frame, state, choice);
    };
    let outcome = (|| {
        let effective = io::select(run, &frame, &frame.input, &io.input_path)?;
        let mut chosen = None;
        for rule in &choice.rules {
            let RuleTest::Expr(expr) = &rule.test else {
                unreachable!("JSONPath Choice rules have no Condition")
            };
            let mut env = Env::new(run, &frame, &effective);
            if expr.evaluate(&mut env)? {
                chosen = Some((rule.next, rule.assign.as_ref()));
                break;
            }
        }
        let (next, assign) = match chosen {
            Some(found) => found,
            None => match choice.default {
                Some(default) => (default, state.assign.as_ref()),
                None => {
                    let cause = format!("No Matches! in state '{}'", state.name);
                    return Err(Failure::new(error_name::NO_CHOICE_MATCHED, cause));
                }
            },
        };
        let assigned = io::assign(run, &frame, assign, &effective)?;
        let output = io::select_owned(run, &frame, effective, &io.output_path)?;
        Ok((next, output, assigned))
    })();
    match outcome {
        Ok((next, output, assigned)) => {
            super::exit_to(run, &mut frame, state, &output, assigned);
            advance(frame, next, output)
        }
        Err(failure) => Next::Failed(frame, failure),
    }
}

/// JSONata mode: the first rule whose `Condition` is true decides, with its own `Output` and
/// `Assign`; `Default` uses the state's.
fn run_jsonata(run: &mut Run<'_>, frame: Frame, state: &State, choice: &Choice) -> Next {
    let states = crate::jsonata::states(run, &frame);
    let mut chosen = None;
    for rule in &choice.rules {
        let RuleTest::Condition(condition) = &rule.test else {
            unreachable!("JSONata Choice rules have a Condition")
        };
        let field = "Condition";
        let value = match condition.as_expression() {
            Some(expression) => {
                crate::jsonata::evaluate_expression(run, &frame, expression, field, &states)
                    .and_then(|value| match value {
                        Value::Bool(matched) => Ok(matched),
                        other => Err(crate::jsonata::failure(
                            run,
                            &frame,
                            jsonata::unexpected_type(expression, field, "boolean", &other),
                        )),
                    })
            }
            None => Ok(
                crate::jsonata::evaluate(run, &frame, condition, field, &states)
                    .is_ok_and(|value| value == Value::Bool(true)),
            ),
        };
        match value {
            Ok(true) => {
                chosen = Some(rule);
                break;
            }
            Ok(false) => {}
            Err(failure) => return Next::Failed(frame, failure),
        }
    }
    let (next, output, assign) = match chosen {
        Some(rule) => (rule.next, rule.output.as_ref(), rule.assign.as_ref()),
        None => match choice.default {
            Some(default) => (default, super::jsonata_output(state), state.assign.as_ref()),
            None => {
                let cause = format!("No Matches! in state '{}'", state.name);
                return Next::Failed(frame, Failure::new(error_name::NO_CHOICE_MATCHED, cause));
            }
        },
    };
    let outcome = crate::jsonata::output_and_assign(
        run,
        &frame,
        output,
        assign,
        &states,
        frame.input.clone(),
    );
    match outcome {
        Ok((output, assigned)) => {
            let mut frame = frame;
            super::exit_to(run, &mut frame, state, &output, assigned);
            advance(frame, next, output)
        }
        Err(failure) => Next::Failed(frame, failure),
    }
}
