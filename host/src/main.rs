//! The `sandcron` binary: parses the command line and hands over to [`sandcron::cli`].

fn main() -> std::process::ExitCode {
    sandcron::cli::main()
}
