//! The output of one execution: a tail-keeping buffer capped in bytes, shared by every
//! writer (the `output` interface, the guest's WASI stdout and stderr, the process
//! capability, capability denials), with an optional live listener.
//!
//! Writers never block: a chunk is appended under a short lock and handed to the listener.
//! When more than the cap has been written, the oldest bytes are dropped and the output is
//! flagged as truncated, as Dkron does with its 256 000-byte tail buffer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// The default cap on stored output per execution: 256 KB, as Dkron.
pub const DEFAULT_OUTPUT_LIMIT: usize = 256_000;

/// Which stream a chunk of output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Regular output.
    Stdout,
    /// Diagnostics.
    Stderr,
}

/// Receives every chunk of an execution's output as it is written, before any truncation.
pub trait OutputListener: Send + Sync {
    /// Called once per chunk, in order. Must not block.
    fn on_chunk(&self, stream: Stream, chunk: &[u8]);
}

/// The stored output of a finished execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    /// The last bytes written, at most the cap.
    pub bytes: Vec<u8>,
    /// Whether older bytes were dropped to stay within the cap.
    pub truncated: bool,
    /// How many bytes were written in all.
    pub total_bytes: u64,
}

/// The last `limit` bytes written, and how many were written in all.
pub(crate) struct TailBuffer {
    limit: usize,
    bytes: VecDeque<u8>,
    total_bytes: u64,
}

impl TailBuffer {
    /// An empty buffer keeping at most `limit` bytes (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            bytes: VecDeque::new(),
            total_bytes: 0,
        }
    }

    /// What is kept, and whether older bytes were dropped.
    pub(crate) fn captured(&self) -> CapturedOutput {
        CapturedOutput {
            bytes: self.bytes.iter().copied().collect(),
            truncated: self.total_bytes > self.bytes.len() as u64,
            total_bytes: self.total_bytes,
        }
    }

    /// Appends a chunk, dropping the oldest bytes beyond the limit.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total_bytes += chunk.len() as u64;
        if chunk.len() >= self.limit {
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.limit..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }
}

/// A cheap handle to one execution's output; clones write to the same buffer.
#[derive(Clone)]
pub struct OutputSink {
    buffer: Arc<Mutex<TailBuffer>>,
    listener: Option<Arc<dyn OutputListener>>,
}

impl OutputSink {
    /// A sink keeping at most `limit` bytes, forwarding chunks to `listener` when given.
    pub fn new(limit: usize, listener: Option<Arc<dyn OutputListener>>) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(TailBuffer::new(limit))),
            listener,
        }
    }

    /// Appends a chunk.
    pub fn write(&self, stream: Stream, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.lock().push(chunk);
        if let Some(listener) = &self.listener {
            listener.on_chunk(stream, chunk);
        }
    }

    /// Appends a line of diagnostics from the host itself (a denial, a kill), ending it
    /// with a newline.
    pub fn host_note(&self, message: &str) {
        self.write(Stream::Stderr, format!("{message}\n").as_bytes());
    }

    /// What has been kept so far.
    pub fn captured(&self) -> CapturedOutput {
        self.lock().captured()
    }

    fn lock(&self) -> MutexGuard<'_, TailBuffer> {
        // A writer never panics while holding the lock, so poisoning cannot hide data.
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_the_limit() {
        let sink = OutputSink::new(10, None);
        sink.write(Stream::Stdout, b"hello");
        let out = sink.captured();
        assert_eq!(out.bytes, b"hello");
        assert!(!out.truncated);
        assert_eq!(out.total_bytes, 5);
    }

    #[test]
    fn keeps_the_tail_and_flags_truncation() {
        let sink = OutputSink::new(8, None);
        sink.write(Stream::Stdout, b"0123456");
        sink.write(Stream::Stderr, b"789ab");
        let out = sink.captured();
        assert_eq!(out.bytes, b"456789ab");
        assert!(out.truncated);
        assert_eq!(out.total_bytes, 12);
    }

    #[test]
    fn a_chunk_larger_than_the_limit_keeps_its_own_tail() {
        let sink = OutputSink::new(4, None);
        sink.write(Stream::Stdout, b"ab");
        sink.write(Stream::Stdout, b"0123456789");
        assert_eq!(sink.captured().bytes, b"6789");
    }

    #[test]
    fn the_listener_sees_every_chunk_in_order() {
        struct Collect(Mutex<Vec<u8>>);
        impl OutputListener for Collect {
            fn on_chunk(&self, _: Stream, chunk: &[u8]) {
                self.0.lock().unwrap().extend_from_slice(chunk);
            }
        }
        let collect = Arc::new(Collect(Mutex::new(Vec::new())));
        let sink = OutputSink::new(2, Some(collect.clone()));
        sink.write(Stream::Stdout, b"abc");
        sink.write(Stream::Stdout, b"def");
        assert_eq!(collect.0.lock().unwrap().as_slice(), b"abcdef");
        assert_eq!(sink.captured().bytes, b"ef");
    }
}
