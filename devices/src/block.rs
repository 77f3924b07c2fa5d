//! Disk images behind the IDE and floppy models: raw files read and written with positioned
//! I/O, so a sector costs one system call and nothing is cached twice (the host page cache
//! already holds the file).
//!
//! `--snapshot` puts a copy-on-write overlay in front of the file: writes land in memory, in
//! 4 KiB chunks, and vanish at exit, while the guest reads back what it wrote. The file is
//! then only read, so even a read-only file can back a writable disk.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const CHUNK: u64 = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskOptions {
    /// The guest may not write (a CD-ROM, or `readonly=on`).
    pub read_only: bool,
    /// Writes go to a throw-away overlay instead of the file.
    pub snapshot: bool,
}

enum Backing {
    File(File),
    /// Test images and generated media.
    Memory(Vec<u8>),
}

pub struct DiskImage {
    backing: Backing,
    len: u64,
    read_only: bool,
    /// Chunks written under `--snapshot`, by chunk number.
    overlay: Option<HashMap<u64, Box<[u8]>>>,
}

impl DiskImage {
    /// Opens `path`. Without `read_only` or `snapshot` the file must be writable, so a disk
    /// the guest cannot save to is reported before the machine starts, not at the first
    /// write.
    pub fn open(path: &Path, opts: DiskOptions) -> io::Result<Self> {
        let writable = !opts.read_only && !opts.snapshot;
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        if meta.len() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the image is empty",
            ));
        }
        Ok(DiskImage {
            backing: Backing::File(file),
            len: meta.len(),
            read_only: opts.read_only,
            overlay: opts.snapshot.then(HashMap::new),
        })
    }

    /// An image held in memory (tests, generated media).
    pub fn in_memory(bytes: Vec<u8>, opts: DiskOptions) -> Self {
        DiskImage {
            len: bytes.len() as u64,
            backing: Backing::Memory(bytes),
            read_only: opts.read_only,
            overlay: opts.snapshot.then(HashMap::new),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Reads `buf.len()` bytes at `offset`; the range must lie inside the image.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        let Some(overlay) = &self.overlay else {
            return read_backing(&self.backing, offset, buf);
        };
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let chunk = at / CHUNK;
            let in_chunk = (at % CHUNK) as usize;
            let n = (buf.len() - done).min(CHUNK as usize - in_chunk);
            match overlay.get(&chunk) {
                Some(c) => buf[done..done + n].copy_from_slice(&c[in_chunk..in_chunk + n]),
                None => read_backing(&self.backing, at, &mut buf[done..done + n])?,
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `offset`; the range must lie inside the image.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the image is read-only",
            ));
        }
        self.check_range(offset, data.len())?;
        if self.overlay.is_none() {
            return match &mut self.backing {
                Backing::File(f) => f.write_all_at(data, offset),
                Backing::Memory(m) => {
                    m[offset as usize..offset as usize + data.len()].copy_from_slice(data);
                    Ok(())
                }
            };
        }
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u64;
            let chunk = at / CHUNK;
            let in_chunk = (at % CHUNK) as usize;
            let n = (data.len() - done).min(CHUNK as usize - in_chunk);
            if !self
                .overlay
                .as_ref()
                .is_some_and(|o| o.contains_key(&chunk))
            {
                // First write to this chunk: start from the file's contents.
                let start = chunk * CHUNK;
                let mut fresh = vec![0u8; CHUNK as usize];
                let len = (self.len - start).min(CHUNK) as usize;
                read_backing(&self.backing, start, &mut fresh[..len])?;
                if let Some(o) = self.overlay.as_mut() {
                    o.insert(chunk, fresh.into_boxed_slice());
                }
            }
            if let Some(c) = self.overlay.as_mut().and_then(|o| o.get_mut(&chunk)) {
                c[in_chunk..in_chunk + n].copy_from_slice(&data[done..done + n]);
            }
            done += n;
        }
        Ok(())
    }

    /// Makes written data durable (the guest's FLUSH CACHE, and machine exit).
    pub fn flush(&mut self) -> io::Result<()> {
        match (&self.backing, &self.overlay) {
            (Backing::File(f), None) if !self.read_only => f.sync_data(),
            _ => Ok(()),
        }
    }

    fn check_range(&self, offset: u64, len: usize) -> io::Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "access beyond the end of the image",
            )),
        }
    }
}

/// Machine exit (and ejecting) makes the guest's writes durable, as QEMU does at exit.
impl Drop for DiskImage {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn read_backing(b: &Backing, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    match b {
        Backing::File(f) => f.read_exact_at(buf, offset),
        Backing::Memory(m) => {
            buf.copy_from_slice(&m[offset as usize..offset as usize + buf.len()]);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("ringside-block-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn writes_reach_the_file() {
        let p = temp_file("rw", &[0u8; 8192]);
        let mut d = DiskImage::open(&p, DiskOptions::default()).unwrap();
        d.write_at(510, &[0x55, 0xAA]).unwrap();
        d.flush().unwrap();
        let back = std::fs::read(&p).unwrap();
        assert_eq!(&back[510..512], &[0x55, 0xAA]);
        assert!(d.read_at(8190, &mut [0u8; 4]).is_err(), "past the end");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn snapshot_keeps_the_file_and_reads_back_writes() {
        let p = temp_file("snap", &[7u8; 10000]);
        let mut d = DiskImage::open(
            &p,
            DiskOptions {
                snapshot: true,
                ..Default::default()
            },
        )
        .unwrap();
        let data: Vec<u8> = (0..5000).map(|i| i as u8).collect();
        d.write_at(4000, &data).unwrap();
        let mut back = vec![0; 6000];
        d.read_at(3000, &mut back).unwrap();
        assert!(back[..1000].iter().all(|&b| b == 7));
        assert_eq!(&back[1000..], &data[..5000]);
        // The last, partial chunk.
        d.write_at(9999, &[1]).unwrap();
        let mut last = [0u8; 2];
        d.read_at(9998, &mut last).unwrap();
        assert_eq!(last, [7, 1]);
        assert!(std::fs::read(&p).unwrap().iter().all(|&b| b == 7));
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn read_only_and_bad_files_are_refused() {
        let mut d = DiskImage::in_memory(
            vec![0; 512],
            DiskOptions {
                read_only: true,
                ..Default::default()
            },
        );
        assert!(d.write_at(0, &[1]).is_err());
        let empty = temp_file("empty", &[]);
        assert!(DiskImage::open(&empty, DiskOptions::default()).is_err());
        std::fs::remove_file(empty).unwrap();
        assert!(DiskImage::open(Path::new("/nonexistent/x.img"), DiskOptions::default()).is_err());
        assert!(DiskImage::open(Path::new("/"), DiskOptions::default()).is_err());
    }
}
