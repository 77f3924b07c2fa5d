//! `ringside`: the command-line front end.

mod chardev;
mod cli;
mod display_text;
mod keys;
mod platform;
mod setup;
mod sinks;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match setup::run(&args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("ringside: {e:#}");
            ExitCode::from(1)
        }
    }
}
