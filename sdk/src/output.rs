//! The execution's output, through the world's `output` interface.
//!
//! Everything written here is kept with the execution (its tail, up to the host's cap) and
//! streamed live to anyone following it. Writes return at once: the host never blocks the
//! executor on a slow reader. The host also routes the component's WASI stdout and stderr
//! (`println!`, `eprintln!`) into the same output, but this module is the contract.
//!
//! ```ignore
//! use std::io::Write;
//! use sandcron_sdk::output::{self, Output};
//!
//! output::print("starting\n");
//! writeln!(Output::stdout(), "{} rows copied", 42).unwrap();
//! output::eprint("warning: table is empty\n");
//! ```

use std::io;

use crate::bindings::sandcron::executor::output as wit;

/// Which channel a chunk belongs to (`Stdout` or `Stderr`); both go into the one output,
/// in order.
pub use wit::Channel;

/// Appends `chunk` to the execution's output on `channel`.
pub fn write(channel: Channel, chunk: &[u8]) {
    if !chunk.is_empty() {
        wit::write(channel, chunk);
    }
}

/// Appends `text` to the output as regular output. Add the `\n` yourself.
pub fn print(text: &str) {
    write(Channel::Stdout, text.as_bytes());
}

/// Appends `text` to the output as a diagnostic. Add the `\n` yourself.
pub fn eprint(text: &str) {
    write(Channel::Stderr, text.as_bytes());
}

/// A [`std::io::Write`] over one channel of the output, for `write!` and for copying.
///
/// It does not buffer: each `write` call is one chunk sent to the host, and each `write!`
/// or `writeln!` is formatted first and sent as one chunk.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    channel: Channel,
}

impl Output {
    /// A writer of regular output.
    pub fn stdout() -> Self {
        Self {
            channel: Channel::Stdout,
        }
    }

    /// A writer of diagnostics.
    pub fn stderr() -> Self {
        Self {
            channel: Channel::Stderr,
        }
    }
}

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(self.channel, buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write(self.channel, buf);
        Ok(())
    }

    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> io::Result<()> {
        match args.as_str() {
            Some(text) => write(self.channel, text.as_bytes()),
            None => write(self.channel, std::fmt::format(args).as_bytes()),
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
