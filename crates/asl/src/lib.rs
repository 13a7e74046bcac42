//! Amazon States Language: everything about a state machine definition that needs no execution.
//!
//! [`compile`] turns a definition's JSON text into a [`Definition`]: a flat table of states
//! indexed by [`StateId`], with every path, payload template, intrinsic function and Choice
//! rule parsed once. It reports every problem it finds, not only the first, as AWS-worded
//! [`Diagnostic`]s. The engine walks the compiled table and never re-parses anything.
//!

#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod error_name;
pub mod limits;
pub mod path;

pub use diagnostic::{Diagnostic, Diagnostics};
