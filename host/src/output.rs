//! The output of one execution: a tail-keeping buffer capped in bytes, shared by every
//! writer (the `output` interface, the guest's WASI stdout and stderr, the process
//! capability, capability denials), with an optional live listener.
//!
//! Writers never block: a chunk is appended under a short lock and handed to the listener.
//! When more than the cap has been written, the oldest bytes are dropped and the output is
//! flagged as truncated, as Dkron does with its 256 000-byte tail buffer.
//!
//! [`LiveFollowers`] hands the chunks on to readers following the output live, each with
//! a queue bounded in bytes: a reader that falls further behind is dropped and told so,
//! and the execution never waits for one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

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

/// The most bytes of output that may wait for one live reader; a reader that would have
/// more waiting is dropped.
pub const FOLLOWER_BUFFER_BYTES: usize = 1 << 20;

/// What the live readers of every execution cost, process-wide: the bytes waiting for
/// them (a gauge) and how many were dropped for falling behind (a counter).
#[derive(Debug, Default)]
pub struct FollowerStats {
    buffered_bytes: AtomicU64,
    dropped: AtomicU64,
}

impl FollowerStats {
    /// Bytes written and not yet read by live readers, all executions together.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered_bytes.load(Ordering::Relaxed)
    }

    /// Live readers dropped so far for falling behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The readers following one execution's output live. Dropping it ends their streams.
pub struct LiveFollowers {
    limit: usize,
    stats: Arc<FollowerStats>,
    queues: Mutex<Vec<Arc<FollowerQueue>>>,
}

impl LiveFollowers {
    /// No reader yet; each will have at most `limit` bytes waiting, counted in `stats`.
    pub fn new(limit: usize, stats: Arc<FollowerStats>) -> Self {
        Self {
            limit,
            stats,
            queues: Mutex::new(Vec::new()),
        }
    }

    /// A new reader, which gets every chunk sent from now on.
    pub fn follow(&self) -> LiveChunks {
        let queue = Arc::new(FollowerQueue {
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
            limit: self.limit,
            stats: self.stats.clone(),
        });
        lock(&self.queues).push(queue.clone());
        LiveChunks { queue }
    }

    /// Hands `chunk` to every reader; a reader it would take past the limit is dropped.
    /// Never waits for a reader.
    pub fn send(&self, chunk: &[u8]) {
        let mut queues = lock(&self.queues);
        if queues.is_empty() || chunk.is_empty() {
            return;
        }
        let chunk = Bytes::copy_from_slice(chunk);
        queues.retain(|queue| queue.push(&chunk));
    }
}

impl Drop for LiveFollowers {
    fn drop(&mut self) {
        for queue in lock(&self.queues).drain(..) {
            queue.end(Ending::Finished);
        }
    }
}

/// One reader's side: the chunks in order, then the end of the stream.
pub struct LiveChunks {
    queue: Arc<FollowerQueue>,
}

impl LiveChunks {
    /// The next chunk; `None` once the execution ended, or after the message saying this
    /// reader was dropped for falling behind.
    pub async fn next(&mut self) -> Option<Bytes> {
        loop {
            let ready = self.queue.ready.notified();
            if let Some(next) = self.queue.pop() {
                return next;
            }
            ready.await;
        }
    }
}

impl Drop for LiveChunks {
    fn drop(&mut self) {
        self.queue.end(Ending::Left);
    }
}

/// How a reader's stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The execution ended: the reader still gets what is queued.
    Finished,
    /// The reader fell more than the limit behind: what is queued is freed, and it gets a
    /// last message instead.
    Dropped,
    /// The reader went away: what is queued is freed.
    Left,
}

struct FollowerQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    limit: usize,
    stats: Arc<FollowerStats>,
}

#[derive(Default)]
struct QueueState {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    ending: Option<Ending>,
    told: bool,
}

impl FollowerQueue {
    /// Queues `chunk`; `false` when the reader is gone or was dropped now for it.
    fn push(&self, chunk: &Bytes) -> bool {
        let mut state = lock(&self.state);
        if state.ending.is_some() {
            return false;
        }
        if state.bytes + chunk.len() > self.limit {
            drop(state);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.end(Ending::Dropped);
            return false;
        }
        state.bytes += chunk.len();
        state.chunks.push_back(chunk.clone());
        self.stats
            .buffered_bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// Ends the stream (see [`Ending`]).
    fn end(&self, ending: Ending) {
        let mut state = lock(&self.state);
        if state.ending.is_none() {
            state.ending = Some(ending);
        }
        if ending != Ending::Finished {
            let freed = std::mem::take(&mut state.bytes);
            state.chunks.clear();
            self.stats
                .buffered_bytes
                .fetch_sub(freed as u64, Ordering::Relaxed);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The next chunk (`Some(Some(_))`), the end (`Some(None)`), or nothing yet.
    fn pop(&self) -> Option<Option<Bytes>> {
        let mut state = lock(&self.state);
        if state.ending == Some(Ending::Dropped) {
            if state.told {
                return Some(None);
            }
            state.told = true;
            return Some(Some(Bytes::from(format!(
                "\n[sandcron: this reader was disconnected: more than {} bytes of output were \
                 waiting for it; the execution goes on, and its stored output keeps the tail]\n",
                self.limit
            ))));
        }
        if let Some(chunk) = state.chunks.pop_front() {
            state.bytes -= chunk.len();
            self.stats
                .buffered_bytes
                .fetch_sub(chunk.len() as u64, Ordering::Relaxed);
            return Some(Some(chunk));
        }
        state.ending.map(|_| None)
    }
}

impl Drop for FollowerQueue {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        self.stats
            .buffered_bytes
            .fetch_sub(state.bytes as u64, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No holder of these locks panics while holding them.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    #[tokio::test]
    async fn a_live_reader_gets_every_chunk_then_the_end() {
        let stats = Arc::new(FollowerStats::default());
        let followers = LiveFollowers::new(10, stats.clone());
        let mut reader = followers.follow();
        followers.send(b"abc");
        followers.send(b"def");
        assert_eq!(stats.buffered_bytes(), 6);
        assert_eq!(reader.next().await.unwrap(), "abc");
        assert_eq!(reader.next().await.unwrap(), "def");
        assert_eq!(stats.buffered_bytes(), 0);
        drop(followers);
        assert_eq!(reader.next().await, None);
        assert_eq!(stats.dropped(), 0);
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_is_dropped_and_told_while_others_go_on() {
        let stats = Arc::new(FollowerStats::default());
        let followers = LiveFollowers::new(8, stats.clone());
        let mut stuck = followers.follow();
        let mut keeping_up = followers.follow();
        for chunk in [&b"12345"[..], b"678", b"9"] {
            followers.send(chunk);
            assert!(
                stats.buffered_bytes() <= 2 * 8,
                "{}",
                stats.buffered_bytes()
            );
            assert_eq!(keeping_up.next().await.unwrap(), chunk);
        }
        assert_eq!(stats.dropped(), 1);
        assert_eq!(
            stats.buffered_bytes(),
            0,
            "a dropped reader's bytes are freed"
        );
        let told = stuck.next().await.unwrap();
        assert!(
            String::from_utf8_lossy(&told).contains("more than 8 bytes"),
            "{told:?}"
        );
        assert_eq!(stuck.next().await, None);
        followers.send(b"more");
        assert_eq!(keeping_up.next().await.unwrap(), "more");
    }

    #[tokio::test]
    async fn a_chunk_larger_than_the_limit_drops_the_reader_and_is_never_queued() {
        let stats = Arc::new(FollowerStats::default());
        let followers = LiveFollowers::new(4, stats.clone());
        let mut reader = followers.follow();
        followers.send(&[b'x'; 1 << 20]);
        assert_eq!(stats.buffered_bytes(), 0);
        assert_eq!(stats.dropped(), 1);
        assert!(reader.next().await.is_some());
        assert_eq!(reader.next().await, None);
    }

    #[test]
    fn a_reader_that_leaves_frees_what_waited_for_it() {
        let stats = Arc::new(FollowerStats::default());
        let followers = LiveFollowers::new(100, stats.clone());
        let reader = followers.follow();
        followers.send(b"waiting");
        assert_eq!(stats.buffered_bytes(), 7);
        drop(reader);
        assert_eq!(stats.buffered_bytes(), 0);
        followers.send(b"nobody reads this");
        assert_eq!(stats.buffered_bytes(), 0);
    }
}
