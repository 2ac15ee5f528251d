//! The `output` interface: the guest's chunks of stdout and stderr, written into the
//! execution's [`OutputSink`]. Given to every execution. (The guest's WASI stdout and
//! stderr reach the same sink through the `wasi` unit.)

use wasmtime::component::{HasSelf, Linker};

use super::unit::{Capability, Holds};
use crate::bindings::output::{self as wit, Host};
use crate::output::{OutputSink, Stream};

/// The unit: `sandcron:executor/output`.
pub struct Output;

impl Capability for Output {
    const NAME: &'static str = "output";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/output@"];
    type Policy = ();
    type Shared = ();
    type State = OutputHost;

    fn new_state(_: &(), sink: &OutputSink, _: &()) -> OutputHost {
        OutputHost::new(sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<OutputHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// The host side of `sandcron:executor/output` for one execution.
pub struct OutputHost {
    sink: OutputSink,
}

impl OutputHost {
    /// Writes into `sink`.
    pub fn new(sink: OutputSink) -> Self {
        Self { sink }
    }
}

impl Host for OutputHost {
    async fn write(&mut self, channel: wit::Channel, chunk: Vec<u8>) {
        let stream = match channel {
            wit::Channel::Stdout => Stream::Stdout,
            wit::Channel::Stderr => Stream::Stderr,
        };
        self.sink.write(stream, &chunk);
    }
}
