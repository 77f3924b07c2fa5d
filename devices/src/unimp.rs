//! `--log unimp`: guest requests a device model does not implement (an unknown ATA command, a
//! register nobody decodes), reported once per kind so a misbehaving guest cannot flood the
//! terminal. Never fatal: the device answers as real hardware would (abort, open bus).

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A cheap, clonable handle every device may hold. Disabled handles cost one branch.
#[derive(Clone, Default)]
pub struct UnimpLog {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    seen: Mutex<HashSet<String>>,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl UnimpLog {
    /// A log that drops everything (the default, without `--log unimp`).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Reports to `sink` (standard error in the front end).
    pub fn to(sink: Box<dyn Write + Send>) -> Self {
        UnimpLog {
            inner: Some(Arc::new(Inner {
                seen: Mutex::new(HashSet::new()),
                sink: Mutex::new(sink),
            })),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Reports `what` from `device` the first time this pair is seen. `what` should name the
    /// kind (e.g. "ATA command 0xB0"), not carry changing values, so repeats fold.
    pub fn report(&self, device: &str, what: impl std::fmt::Display) {
        let Some(inner) = &self.inner else { return };
        let line = format!("{device}: unimplemented: {what}");
        let fresh = inner
            .seen
            .lock()
            .map(|mut s| s.insert(line.clone()))
            .unwrap_or(false);
        if fresh {
            if let Ok(mut sink) = inner.sink.lock() {
                let _ = writeln!(sink, "ringside: {line}");
            }
        }
    }
}

impl std::fmt::Debug for UnimpLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnimpLog")
            .field("enabled", &self.enabled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_kind_is_reported_once() {
        let out = Shared::default();
        let log = UnimpLog::to(Box::new(out.clone()));
        log.report("ide", "ATA command 0xB0");
        log.report("ide", "ATA command 0xB0");
        log.report("fdc", "command 0x1F");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "ringside: ide: unimplemented: ATA command 0xB0\n\
             ringside: fdc: unimplemented: command 0x1F\n"
        );
        UnimpLog::disabled().report("x", "y");
    }
}
