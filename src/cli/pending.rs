//! Subcommands whose stage is still being built, each naming the issue that
//! delivers it. They fail with a non-zero exit rather than pretend to work.

use anyhow::{bail, Result};
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct PendingArgs {
    /// Arguments of the future command (ignored for now).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(command: &str, issue: &str) -> Result<ExitCode> {
    bail!("`oodcal {command}` is not available yet: it arrives with {issue}")
}
