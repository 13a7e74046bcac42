//! Running a local command as a function: the event on stdin, the result on stdout, its
//! stderr passed on to ours (the function's logs) with its tail kept for whoever shows it.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most of a command's stderr kept, in bytes: its last ones.
pub const STDERR_TAIL_BYTES_MAX: usize = 4096;
/// The most command runs whose stderr tails [`StderrTails`] keeps; the oldest go first.
pub const STDERR_TAILS_KEPT_MAX: usize = 1000;

/// The end of what one command run wrote to stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StderrTail {
    /// The last [`STDERR_TAIL_BYTES_MAX`] bytes, as text (invalid UTF-8 replaced).
    pub text: String,
    /// Whether it wrote more than that.
    pub truncated: bool,
}

/// One Lambda command run's stderr tail, with the task it ran for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptTail {
    /// The execution's ARN.
    pub execution_arn: String,
    /// The Task state's name.
    pub state_name: String,
    /// How many tasks the state invoked before in its execution (`TaskInvocation::invocation`):
    /// the state's TaskScheduled events, counted in history order from 0.
    pub invocation: u64,
    /// The function's name.
    pub function_name: String,
    /// Its stderr's end.
    pub tail: StderrTail,
}

/// The stderr tails of the last [`STDERR_TAILS_KEPT_MAX`] command runs that wrote to stderr,
/// in memory: a command's stderr otherwise reaches only the server's own.
#[derive(Debug, Default)]
pub struct StderrTails {
    kept: Mutex<VecDeque<KeptTail>>,
}

impl StderrTails {
    /// Keeps one more, dropping the oldest past the bound.
    pub fn keep(&self, tail: KeptTail) {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        kept.push_back(tail);
        while kept.len() > STDERR_TAILS_KEPT_MAX {
            kept.pop_front();
        }
    }

    /// The kept tails of one execution, oldest first.
    pub fn of_execution(&self, execution_arn: &str) -> Vec<KeptTail> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        kept.iter()
            .filter(|tail| tail.execution_arn == execution_arn)
            .cloned()
            .collect()
    }
}

/// How a command ended.
#[derive(Debug)]
pub enum Finished {
    /// It exited.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stdout.
        stdout: Vec<u8>,
        /// The end of what it wrote to stderr.
        stderr: StderrTail,
    },
    /// It ran past the timeout and was killed.
    TimedOut {
        /// The end of what it wrote to stderr.
        stderr: StderrTail,
    },
}

impl Finished {
    /// The end of what the command wrote to stderr.
    pub fn stderr(&self) -> &StderrTail {
        match self {
            Finished::Exited { stderr, .. } | Finished::TimedOut { stderr } => stderr,
        }
    }
}

/// A command to run.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Program and arguments.
    pub argv: &'a [String],
    /// The working directory.
    pub cwd: &'a Path,
    /// Extra environment variables.
    pub env: &'a [(String, String)],
    /// Written to stdin, which is then closed.
    pub stdin: &'a [u8],
    /// Kill the command after this long.
    pub timeout: Option<Duration>,
}

/// Runs a command to its end or its timeout; its stderr goes to ours, for the function's
/// logs, and its tail is kept.
pub fn run(command: Run<'_>) -> std::io::Result<Finished> {
    let (program, args) = command
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("the command is empty"))?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(command.cwd)
        .envs(command.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Write and read on threads so a command that does not read stdin, or writes much, cannot
    // block us.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = command.stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A command that exits without reading its input closes the pipe: not our failure.
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut output = Vec::new();
        stdout.read_to_end(&mut output).map(|_| output)
    });
    let stderr = child.stderr.take().expect("stderr is piped");
    let teller = std::thread::spawn(move || pass_on_stderr(stderr));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if command
            .timeout
            .is_some_and(|timeout| started.elapsed() >= timeout)
        {
            child.kill()?;
            child.wait()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = reader.join().expect("the stdout reader does not panic");
    // Read to its end, like stdout.
    let stderr = teller.join().unwrap_or_default();
    Ok(match status {
        Some(status) => Finished::Exited {
            status,
            stdout: stdout?,
            stderr,
        },
        None => Finished::TimedOut { stderr },
    })
}

/// Copies a command's stderr to ours as it comes, keeping its last
/// [`STDERR_TAIL_BYTES_MAX`] bytes.
fn pass_on_stderr(mut stderr: impl Read) -> StderrTail {
    let mut tail: VecDeque<u8> = VecDeque::with_capacity(STDERR_TAIL_BYTES_MAX);
    let mut truncated = false;
    let mut chunk = [0u8; 4096];
    let ours = std::io::stderr();
    loop {
        let read = match stderr.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        // Our stderr failing is no reason to stop the command.
        let _ = ours.lock().write_all(&chunk[..read]);
        tail.extend(&chunk[..read]);
        if tail.len() > STDERR_TAIL_BYTES_MAX {
            truncated = true;
            tail.drain(..tail.len() - STDERR_TAIL_BYTES_MAX);
        }
    }
    let bytes: Vec<u8> = tail.into();
    StderrTail {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Finished {
        let argv = ["sh".to_string(), "-c".to_string(), script.to_string()];
        run(Run {
            argv: &argv,
            cwd: Path::new("."),
            env: &[],
            stdin: b"",
            timeout: Some(Duration::from_secs(30)),
        })
        .expect("sh runs")
    }

    #[test]
    fn a_commands_stderr_tail_is_kept_and_stdout_is_apart() {
        let finished = sh("echo out; echo 'first line' >&2; echo 'last line' >&2; exit 3");
        assert_eq!(
            finished.stderr(),
            &StderrTail {
                text: "first line\nlast line\n".to_string(),
                truncated: false
            }
        );
        let Finished::Exited { status, stdout, .. } = finished else {
            panic!("it exited");
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(stdout, b"out\n");
    }

    #[test]
    fn only_the_last_bytes_of_a_long_stderr_are_kept() {
        // 800 lines of "line N" (about 7 KB): more than the tail holds.
        let finished = sh("i=0; while [ $i -lt 800 ]; do echo line $i >&2; i=$((i+1)); done");
        let tail = finished.stderr();
        assert!(tail.truncated);
        assert_eq!(tail.text.len(), STDERR_TAIL_BYTES_MAX);
        assert!(tail.text.ends_with("line 799\n"), "{}", &tail.text[4000..]);
    }

    #[test]
    fn tails_are_bounded_and_found_by_execution() {
        let tails = StderrTails::default();
        for n in 0..STDERR_TAILS_KEPT_MAX as u64 + 5 {
            tails.keep(KeptTail {
                execution_arn: format!("arn:x:{}", n % 2),
                state_name: "Call".to_string(),
                invocation: n,
                function_name: "f".to_string(),
                tail: StderrTail::default(),
            });
        }
        let even = tails.of_execution("arn:x:0");
        let odd = tails.of_execution("arn:x:1");
        assert_eq!(even.len() + odd.len(), STDERR_TAILS_KEPT_MAX);
        // The oldest five went first.
        assert_eq!(even[0].invocation, 6);
        assert_eq!(odd[0].invocation, 5);
    }
}
