//! `Choice`: picks the next state by the first matching rule, or `Default`.

use super::advance;
use crate::execution::Frame;
use crate::io::{self, Env};
use crate::run::{Next, Run};
use steppe_asl::definition::{Choice, RuleTest, State};
use steppe_asl::error_name::{self, Failure};

pub(crate) fn run(run: &mut Run<'_>, mut frame: Frame, state: &State, choice: &Choice) -> Next {
    let io = io::json_path_io(state).expect("JSONPath state");
    let outcome = (|| {
        let effective = io::select(run, &frame, &frame.input, &io.input_path)?;
        let mut chosen = None;
        for rule in &choice.rules {
            let RuleTest::Expr(expr) = &rule.test else {
                return Err(crate::jsonata::unavailable(run, &frame, "Condition"));
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
