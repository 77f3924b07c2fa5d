//! Character devices for serial ports, spelled as QEMU's -serial: stdio, none, file:PATH and
//! tcp:HOST:PORT (a server with one client at a time, as QEMU's `tcp:...,server,nowait`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use crate::sinks::output_sink;

/// Where a chardev's input comes from.
pub enum Input {
    /// The emulator's standard input (with the terminal's escape key).
    Stdin,
    /// Whatever client is connected to the listener.
    Tcp(TcpServer),
}

pub struct Chardev {
    pub output: Box<dyn Write + Send>,
    pub input: Option<Input>,
}

/// A listening socket; output goes to the connected client, if any, and is dropped
/// otherwise, so a guest never blocks on a missing client.
#[derive(Clone)]
pub struct TcpServer {
    listener: Arc<TcpListener>,
    client: Arc<Mutex<Option<TcpStream>>>,
}

impl TcpServer {
    /// Accepts clients one after another on a thread of its own, passing what each sends to
    /// `send`.
    pub fn serve(self, send: impl Fn(&[u8]) -> bool + Send + 'static) {
        std::thread::spawn(move || {
            for conn in self.listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                if let (Ok(mut slot), Ok(w)) = (self.client.lock(), conn.try_clone()) {
                    *slot = Some(w);
                }
                let mut buf = [0u8; 256];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || !send(&buf[..n]) {
                        break;
                    }
                }
                if let Ok(mut slot) = self.client.lock() {
                    *slot = None;
                }
            }
        });
    }
}

struct TcpOutput(Arc<Mutex<Option<TcpStream>>>);

impl Write for TcpOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut slot) = self.0.lock() {
            if let Some(s) = slot.as_mut() {
                if s.write_all(buf).is_err() {
                    *slot = None;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens the chardev `spec` for `flag`; `None` for "none".
pub fn open(flag: &str, spec: &str) -> Result<Option<Chardev>> {
    if let Some(addr) = spec.strip_prefix("tcp:") {
        // QEMU's option suffixes (",server,nowait") describe what we always do.
        let addr = addr.split(',').next().unwrap_or("");
        if addr.is_empty() {
            bail!("--{flag} tcp: needs an address, e.g. tcp:127.0.0.1:4444");
        }
        let addr = if addr.starts_with(':') {
            format!("127.0.0.1{addr}")
        } else {
            addr.to_string()
        };
        let listener = TcpListener::bind(&addr)
            .with_context(|| format!("cannot listen on {addr} for --{flag}"))?;
        let server = TcpServer {
            listener: Arc::new(listener),
            client: Arc::new(Mutex::new(None)),
        };
        return Ok(Some(Chardev {
            output: Box::new(TcpOutput(server.client.clone())),
            input: Some(Input::Tcp(server)),
        }));
    }
    let Some(output) = output_sink(flag, spec)? else {
        return Ok(None);
    };
    Ok(Some(Chardev {
        output,
        input: (spec == "stdio").then_some(Input::Stdin),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_server_passes_bytes_both_ways() {
        let dev = open("serial", "tcp:127.0.0.1:0").unwrap().unwrap();
        let Some(Input::Tcp(server)) = dev.input else {
            panic!("tcp input expected")
        };
        let addr = server.listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        server.clone().serve(move |b| tx.send(b.to_vec()).is_ok());
        let mut out = dev.output;
        out.write_all(b"dropped: nobody is connected").unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"hi").unwrap();
        assert_eq!(rx.recv().unwrap(), b"hi");
        // The client is registered before its first bytes are read.
        out.write_all(b"ok").unwrap();
        let mut back = [0u8; 2];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ok");
    }

    #[test]
    fn bad_specs() {
        assert!(open("serial", "tcp:").is_err());
        assert!(open("serial", "pty").is_err());
        assert!(open("serial", "none").unwrap().is_none());
    }
}
