//! `cargo run -p xtask -- <task>`: project chores. The tidy checks run as tests (`tests/tidy.rs`).

fn main() {
    eprintln!("usage: cargo test -p xtask   (tidy checks)");
}
