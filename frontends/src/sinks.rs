//! Output destinations named the way QEMU's chardev options name them.

use std::fs::File;
use std::io::Write;

use anyhow::{bail, Context, Result};

/// An output destination in QEMU's chardev spelling: stdio, none or file:PATH.
pub fn output_sink(flag: &str, spec: &str) -> Result<Option<Box<dyn Write + Send>>> {
    Ok(match spec {
        "stdio" => Some(Box::new(std::io::stdout())),
        "none" => None,
        s if s.starts_with("file:") => {
            let p = &s[5..];
            Some(Box::new(File::create(p).with_context(|| {
                format!("cannot create {flag} file '{p}'")
            })?))
        }
        other => bail!("unknown --{flag} destination '{other}' (use stdio, none or file:PATH)"),
    })
}
