//! `Pass`: passes its input, or its `Result`, to its output.

use super::{check_size, exit};
use crate::execution::{Frame, FrameId};
use crate::io;
use crate::run::{Next, Run};
use steppe_asl::definition::{Pass, State};

pub(crate) fn run(
    run: &mut Run<'_>,
    _id: FrameId,
    frame: Frame,
    state: &State,
    pass: &Pass,
) -> Next {
    let Some(io) = io::json_path_io(state) else {
        return super::exit_jsonata(run, frame, state);
    };
    let result = match &pass.result {
        Some(result) => {
            io::select(run, &frame, &frame.input, &io.input_path).map(|_| result.clone())
        }
        None => io::effective_input(run, &frame, io),
    };
    let outcome = result.and_then(|result| {
        check_size(run, &frame, &result)?;
        let assigned = io::assign(run, &frame, state.assign.as_ref(), &result)?;
        let output = io::state_output(run, &frame, io, result)?;
        Ok((output, assigned))
    });
    match outcome {
        Ok((output, assigned)) => exit(run, frame, state, output, assigned),
        Err(failure) => Next::Failed(frame, failure),
    }
}
