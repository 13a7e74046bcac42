//! Running a local command as a function: the event on stdin, the result on stdout.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a command ended.
#[derive(Debug)]
pub enum Finished {
    /// It exited.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stdout.
        stdout: Vec<u8>,
    },
    /// It ran past the timeout and was killed.
    TimedOut,
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

/// Runs a command to its end or its timeout; stderr goes to ours, for the function's logs.
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
        .stderr(Stdio::inherit())
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
    Ok(match status {
        Some(status) => Finished::Exited {
            status,
            stdout: stdout?,
        },
        None => Finished::TimedOut,
    })
}
