//! The configuration file of `sandcron serve`, and `sandcron config check|show`.
//!
//! The file is TOML, one key per flag of `serve` (its long name: `listen`, `data-dir`,
//! `allow-host = ["https://*.example.com"]`), so the keys are the flags of
//! `serve_config::ServeArgs` and nothing else: there is no second list. It is read from
//! `--config FILE` (or `$SANDCRON_CONFIG`), else from `<data-dir>/sandcron.toml` when that
//! exists. Any command with a `--config` flag takes the file's settings it has flags for:
//! `serve` and `config show` all of them, `secret rotate-key` its `data-dir` and
//! `secrets-key-file` (so it finds the key file `serve` uses). Precedence: a flag, then its environment variable, then the file, then the
//! flag's default. The merge works on the command line itself: every key whose flag was
//! not given (on the command line or in the environment, as clap's `value_source` says)
//! is appended as `--key=value`, and the whole is parsed again, so a file value goes
//! through the same parser as the flag. A key that is no flag, or a value its parser
//! refuses, is an error naming the file, the line and the key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Subcommand};

use super::CliError;
use super::serve_config::{ServeArgs, redacted, serve_command};

/// The file read when `--config` is not given, in the data directory.
pub const DEFAULT_FILE: &str = "sandcron.toml";

/// The id of the `--config FILE` flag (field `config_file`) of the commands that take the
/// configuration file: `serve`, `config show`, `secret rotate-key`. Not `config`, which
/// other commands' flags are called (`exec --config KEY=VALUE`).
const CONFIG_FILE: &str = "config_file";

/// `sandcron config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file: every key a flag of `serve`, every value one it takes.
    Check {
        /// The TOML file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the configuration `serve` would run with (given the same flags, environment
    /// and file), each value's origin beside it, secrets and passwords as `***`.
    Show(Box<ServeArgs>),
}

/// One key of a configuration file, as flags.
#[derive(Debug)]
struct Setting {
    /// The flag's id (`data_dir`).
    id: String,
    /// The line it is on, from 1.
    line: usize,
    /// The flags that give its value (`--data-dir=/data`; none for `false`).
    flags: Vec<OsString>,
}

/// What the command line, the environment and the file added up to.
pub struct Resolved {
    /// The matches of the whole command line, file settings included.
    pub matches: ArgMatches,
    /// The file read, if any.
    file: Option<PathBuf>,
    /// The settings taken from it (those no flag or variable overrode).
    from_file: Vec<Setting>,
}

/// Parses `argv` with `command` (the whole `sandcron` command); for `serve` and
/// `config show`, merges in the configuration file. Usage errors, `--help` and
/// `--version` exit here, as clap does.
pub fn resolve(command: clap::Command, argv: Vec<OsString>) -> Result<Resolved, CliError> {
    let first = command.clone().get_matches_from(argv.clone());
    let Some((leaf, settings)) = settings_command(&command, &first) else {
        return Ok(Resolved {
            matches: first,
            file: None,
            from_file: Vec::new(),
        });
    };
    let Some(file) = config_file(settings)? else {
        return Ok(Resolved {
            matches: first,
            file: None,
            from_file: Vec::new(),
        });
    };
    let from_file: Vec<Setting> = read(&file)?
        .into_iter()
        .filter(|setting| {
            leaf.get_arguments()
                .any(|arg| arg.get_id() == setting.id.as_str())
        })
        .filter(|setting| !given(settings, &setting.id))
        .collect();
    let mut merged = argv;
    merged.extend(from_file.iter().flat_map(|s| s.flags.iter().cloned()));
    Ok(Resolved {
        matches: command.get_matches_from(merged),
        file: Some(file),
        from_file,
    })
}

/// Runs `sandcron config …`.
pub fn run(command: ConfigCommand, resolved: &Resolved) -> Result<(), CliError> {
    match command {
        ConfigCommand::Check { file } => {
            let settings = read(&file)?;
            println!("{}: {} settings, all valid", file.display(), settings.len());
            Ok(())
        }
        ConfigCommand::Show(_) => {
            let serve = serve_matches(&resolved.matches)
                .ok_or_else(|| CliError::Error("no serve settings were parsed".into()))?;
            print!("{}", show(serve, resolved));
            Ok(())
        }
    }
}

/// The subcommand given (`secret rotate-key`) and its matches, when it takes settings
/// from the configuration file: when it has a `--config` flag.
fn settings_command<'a>(
    command: &'a clap::Command,
    matches: &'a ArgMatches,
) -> Option<(&'a clap::Command, &'a ArgMatches)> {
    let (mut leaf, mut leaf_matches) = (command, matches);
    while let Some((name, sub_matches)) = leaf_matches.subcommand() {
        leaf = leaf.find_subcommand(name)?;
        leaf_matches = sub_matches;
    }
    leaf.get_arguments()
        .any(|arg| arg.get_id() == CONFIG_FILE)
        .then_some((leaf, leaf_matches))
}

/// The matches of `serve`'s flags: of `serve`, or of `config show`.
fn serve_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    match matches.subcommand() {
        Some(("serve", serve)) => Some(serve),
        Some(("config", config)) => config.subcommand_matches("show"),
        _ => None,
    }
}

/// Whether the flag `id` was given on the command line or in the environment.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// The file to read: `--config` (which must exist), else `<data-dir>/sandcron.toml` if it
/// exists.
fn config_file(settings: &ArgMatches) -> Result<Option<PathBuf>, CliError> {
    if let Some(file) = settings.get_one::<PathBuf>(CONFIG_FILE) {
        if !file.is_file() {
            return Err(CliError::Usage(format!(
                "--config {}: no such file",
                file.display()
            )));
        }
        return Ok(Some(file.clone()));
    }
    let data_dir = settings
        .get_one::<PathBuf>("data_dir")
        .cloned()
        .or_else(super::default_data_dir);
    Ok(data_dir
        .map(|dir| dir.join(DEFAULT_FILE))
        .filter(|file| file.is_file()))
}

/// Reads and checks a configuration file: every key a flag of `serve`, every value one
/// its parser takes.
fn read(file: &Path) -> Result<Vec<Setting>, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    parse(&text).map_err(|e| CliError::Usage(format!("{}:{e}", file.display())))
}

/// The settings of a file's text; an error reads `LINE: KEY: what is wrong`.
fn parse(text: &str) -> Result<Vec<Setting>, String> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let spans = toml::de::DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_of(span.start));
        format!("{line}: not TOML: {}", e.message())
    })?;
    let values: toml::Table = toml::from_str(text).map_err(|e| format!("1: not TOML: {e}"))?;
    let command = serve_command();
    let mut settings = Vec::new();
    for (key, _) in spans.get_ref() {
        let line = line_of(key.span().start);
        let key = key.get_ref().to_string();
        let value = &values[&key];
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(key.as_str()) && arg.get_id() != CONFIG_FILE)
            .ok_or_else(|| {
                format!(
                    "{line}: unknown key {key:?} (the keys are the flags of `sandcron serve`: {})",
                    keys(&command).join(", ")
                )
            })?;
        let flags = flags(arg, &key, value).map_err(|e| format!("{line}: {key}: {e}"))?;
        let mut check = vec![OsString::from("serve")];
        check.extend(flags.iter().cloned());
        command
            .clone()
            .try_get_matches_from(check)
            .map_err(|e| format!("{line}: {key}: {}", clap_message(&e)))?;
        settings.push(Setting {
            id: arg.get_id().to_string(),
            line,
            flags,
        });
    }
    settings.sort_by_key(|setting| setting.line);
    Ok(settings)
}

/// The keys a file may have.
fn keys(command: &clap::Command) -> Vec<&str> {
    command
        .get_arguments()
        .filter(|arg| arg.get_id() != CONFIG_FILE)
        .filter_map(|arg| arg.get_long())
        .collect()
}

/// The flags that give `arg` the file's `value`.
fn flags(arg: &clap::Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let flag = |text: &str| OsString::from(format!("--{key}={text}"));
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    let switch = matches!(arg.get_action(), ArgAction::SetTrue);
    match value {
        toml::Value::Boolean(on) if switch => Ok(if *on {
            vec![OsString::from(format!("--{key}"))]
        } else {
            Vec::new()
        }),
        _ if switch => Err("expected true or false".into()),
        toml::Value::Array(items) if repeatable => items
            .iter()
            .map(|item| scalar(item).map(|text| flag(&text)))
            .collect(),
        toml::Value::Array(_) => Err("expected one value, not a list".into()),
        other => Ok(vec![flag(&scalar(other)?)]),
    }
}

/// A string, number or boolean as the text a flag takes.
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string or a number, found a {}",
            other.type_str()
        )),
    }
}

/// The first line of a clap error, without its `error: ` prefix.
fn clap_message(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_string()
}

/// The effective settings as TOML, each with its origin.
fn show(serve: &ArgMatches, resolved: &Resolved) -> String {
    let command = serve_command();
    let mut out = String::new();
    if let Some(file) = &resolved.file {
        out.push_str(&format!("# read from {}\n", file.display()));
    }
    for arg in command.get_arguments() {
        let (id, Some(key)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        if id == CONFIG_FILE {
            continue;
        }
        let values: Vec<String> = serve
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|raw| redacted(id, &raw.to_string_lossy()))
            .collect();
        let origin = match (
            serve.value_source(id),
            resolved.from_file.iter().find(|s| s.id == id),
        ) {
            (_, Some(setting)) => format!("file, line {}", setting.line),
            (Some(ValueSource::EnvVariable), _) => format!(
                "${}",
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            (Some(ValueSource::CommandLine), _) => format!("--{key}"),
            (Some(ValueSource::DefaultValue), _) => "default".into(),
            _ => "not set".into(),
        };
        let value = match arg.get_action() {
            ArgAction::Append => format!(
                "[{}]",
                values
                    .iter()
                    .map(|v| toml_text(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ArgAction::SetTrue => serve.get_flag(id).to_string(),
            _ => match values.first() {
                Some(value) => toml_text(value),
                None => {
                    out.push_str(&format!("# {key} = …  # {origin}\n"));
                    continue;
                }
            },
        };
        out.push_str(&format!("{key} = {value}  # {origin}\n"));
    }
    out
}

/// A value as TOML: a number bare, anything else a quoted string.
fn toml_text(value: &str) -> String {
    if value.parse::<u64>().is_ok() {
        value.to_string()
    } else {
        toml::Value::String(value.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
        Ok(parse(text)?
            .into_iter()
            .map(|s| {
                (
                    s.id,
                    s.flags
                        .into_iter()
                        .map(|f| f.to_string_lossy().into_owned())
                        .collect(),
                )
            })
            .collect())
    }

    #[test]
    fn keys_are_the_flags_of_serve() {
        let settings = parsed(
            "listen = \"0.0.0.0:8080\"\nkeep-executions = 5\n\
             allow-host = [\"https://*.example.com\", \"http://127.0.0.1:9000\"]\n",
        )
        .unwrap();
        assert_eq!(
            settings,
            vec![
                ("listen".into(), vec!["--listen=0.0.0.0:8080".into()]),
                ("keep_executions".into(), vec!["--keep-executions=5".into()]),
                (
                    "allow_host".into(),
                    vec![
                        "--allow-host=https://*.example.com".into(),
                        "--allow-host=http://127.0.0.1:9000".into()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let error =
            parsed("listen = \"127.0.0.1:1\"\n\n# a comment\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(
            error.starts_with("4: unknown key \"listen_addr\""),
            "{error}"
        );
        assert!(error.contains("data-dir"), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_line_and_key() {
        let error = parsed("listen = \"127.0.0.1:1\"\ndead-after = \"soon\"\n").unwrap_err();
        assert!(error.starts_with("2: dead-after: "), "{error}");
        assert!(error.contains("positive duration"), "{error}");
        let error = parsed("keep-executions = [1, 2]").unwrap_err();
        assert_eq!(error, "1: keep-executions: expected one value, not a list");
        let error = parsed("allow = [\"telepathy=*\"]").unwrap_err();
        assert!(error.contains("unknown capability"), "{error}");
        let error = parsed("[listen]\nport = 1").unwrap_err();
        assert!(error.starts_with("1: listen: expected a string"), "{error}");
        let error = parsed("listen = ").unwrap_err();
        assert!(error.starts_with("1: not TOML"), "{error}");
    }

    #[test]
    fn the_config_key_is_not_a_setting_of_the_file() {
        let error = parsed("config = \"other.toml\"").unwrap_err();
        assert!(error.starts_with("1: unknown key \"config\""), "{error}");
    }
}
