//! `sandcron completions SHELL` and `sandcron man`: the shell completion script and the
//! manual page, both generated from the command line's own clap definitions
//! ([`super::command`]), so they name every command and flag there is and no other.

use std::io::Write;

use super::CliError;

/// Prints the completion script of `shell` (`source <(sandcron completions bash)`).
pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = super::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "sandcron", &mut out);
    print(&out)
}

/// Prints the manual page, roff (`sandcron man | man -l -`), with a section per command.
pub fn man() -> Result<(), CliError> {
    let command = super::command();
    let mut out = Vec::new();
    let page = |out: &mut Vec<u8>, command: clap::Command| {
        clap_mangen::Man::new(command)
            .render(out)
            .map_err(|e| CliError::Error(format!("cannot render the manual page: {e}")))
    };
    page(&mut out, command.clone())?;
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = format!("sandcron-{}", sub.get_name());
        page(&mut out, sub.clone().name(name))?;
    }
    print(&out)
}

fn print(bytes: &[u8]) -> Result<(), CliError> {
    std::io::stdout()
        .write_all(bytes)
        .map_err(|e| CliError::Error(format!("cannot write to stdout: {e}")))
}
