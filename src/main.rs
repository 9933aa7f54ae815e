//! The `sluice` binary: parse arguments, resolve them, hand off to the engine crates.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
