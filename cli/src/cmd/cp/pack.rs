//! A local file or folder as the tar kubectl cp sends to `tar -xmf -` in the container: entries
//! named after the target (`NAME`, `NAME/sub/file`), folders only when empty, symbolic links as
//! links, files with their mode and owner.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use bytes::Bytes;
use tar::{Builder, Header};
use tokio::sync::mpsc;

use crate::remote::stdin::CHUNK;

/// Writes `src` into `out` as a tar whose top entry is `name`. `progress` wraps each file's
/// reader (to count bytes); `warn` gets a line for each special file skipped.
///
/// # Errors
/// A file or folder that cannot be read, or `out` failing.
pub fn pack<W: Write>(
    src: &Path,
    name: &str,
    out: W,
    progress: &dyn Fn(fs::File) -> Box<dyn Read>,
    warn: &mut dyn FnMut(String),
) -> io::Result<W> {
    let mut builder = Builder::new(out);
    add(&mut builder, src, name, progress, warn)?;
    builder.into_inner()
}

fn add<W: Write>(
    builder: &mut Builder<W>,
    path: &Path,
    name: &str,
    progress: &dyn Fn(fs::File) -> Box<dyn Read>,
    warn: &mut dyn FnMut(String),
) -> io::Result<()> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let meta = fs::symlink_metadata(path).map_err(context)?;
    let mut header = Header::new_gnu();
    header.set_metadata(&meta);
    let kind = meta.file_type();
    if kind.is_dir() {
        let mut children: Vec<_> = fs::read_dir(path)
            .and_then(Iterator::collect::<io::Result<Vec<_>>>)
            .map_err(context)?;
        children.sort_by_key(fs::DirEntry::file_name);
        if children.is_empty() {
            builder.append_data(&mut header, name, io::empty())?;
        }
        for child in children {
            let child_name = format!("{name}/{}", child.file_name().to_string_lossy());
            add(builder, &child.path(), &child_name, progress, warn)?;
        }
    } else if kind.is_symlink() {
        let target = fs::read_link(path).map_err(context)?;
        builder.append_link(&mut header, name, target)?;
    } else if kind.is_file() {
        let file = fs::File::open(path).map_err(context)?;
        builder.append_data(&mut header, name, progress(file))?;
    } else {
        warn(format!("warning: skipping special file {:?}", path.display().to_string()));
    }
    Ok(())
}

/// The bytes of regular files under `path`, for the progress bar.
#[must_use]
pub fn total_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if meta.is_dir() {
        let entries = fs::read_dir(path).into_iter().flatten().flatten();
        entries.map(|e| total_size(&e.path())).sum()
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    }
}

/// A writer that sends what it gets as chunks of up to 32 KiB, for the process's stdin.
#[derive(Debug)]
pub struct ChunkWriter {
    /// To the task that sends stdin messages.
    chunk_tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// A writer sending to `chunk_tx`; call `flush` at the end.
    #[must_use]
    pub fn new(chunk_tx: mpsc::Sender<Bytes>) -> Self {
        Self { chunk_tx, buf: Vec::with_capacity(CHUNK) }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.chunk_tx.blocking_send(chunk).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the command in the container stopped reading",
            )
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
