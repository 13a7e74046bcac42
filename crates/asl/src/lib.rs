//! Amazon States Language: everything about a state machine definition that needs no execution.
//!
//! [`compile`] turns a definition's JSON text into a [`Definition`]: a flat table of states
//! indexed by [`StateId`], with every path, payload template, intrinsic function and Choice
//! rule parsed once. It reports every problem it finds, not only the first, as AWS-worded
//! [`Diagnostic`]s. The engine walks the compiled table and never re-parses anything.
//!
//! ```
//! let text = r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": true}}}"#;
//! let definition = steppe_asl::compile(text).expect("valid definition");
//! assert_eq!(definition.state(definition.start_at()).name, "Hello");
//! ```

#![forbid(unsafe_code)]

pub mod choice;
pub mod compile;
pub mod definition;
pub mod diagnostic;
pub mod error_name;
pub mod intrinsic;
pub mod jsonata;
pub mod limits;
pub mod path;
pub mod references;
pub mod size;
pub mod template;
pub mod timestamp;

pub use compile::{compile, compile_value};
pub use definition::{Definition, StateId};
pub use diagnostic::{Diagnostic, Diagnostics};
