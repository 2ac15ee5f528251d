//! The `sandcron` binary: parses the command line and hands over to [`sandcron::cli`].

fn main() -> std::process::ExitCode {
    // First: a warden (a process between the server and a granted program) runs and exits
    // here, before anything else of the binary starts.
    sandcron::capabilities::process::warden::run_if_asked();
    // So does a compiler child (an upload compiled within its budget).
    sandcron::runtime::compiler::run_if_asked();
    sandcron::cli::main()
}
