//! The config keys of a built-in executor, read from its page in `docs/executors/`: the
//! first table after the `## Keys` heading, `| key | default | behaviour |`, one row per
//! key (a row may name several, `` `saslUsername`, `saslPassword` ``). The page is the one
//! list of keys; the console offers them in the job form, with their default and what
//! they do.

use serde::Serialize;

/// One documented config key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConfigKey {
    /// The key, as `executor_config` spells it.
    pub name: String,
    /// The default as the page gives it (`required`, `false`, `—`…), markup removed.
    pub default: String,
    /// What the key does, markup removed.
    pub description: String,
}

/// The keys of the `## Keys` table of a documentation page; none when it has no such
/// table.
pub fn from_doc(doc: &str) -> Vec<ConfigKey> {
    let mut lines = doc
        .lines()
        .skip_while(|line| line.trim() != "## Keys")
        .skip(1)
        .skip_while(|line| !line.starts_with('|'));
    let header = lines.next().map(cells).unwrap_or_default();
    if header.first().map(String::as_str) != Some("key") {
        return Vec::new();
    }
    lines
        .skip(1) // |---|---|---|
        .take_while(|line| line.starts_with('|'))
        .flat_map(|row| {
            let row = cells(row);
            let text = |index: usize| row.get(index).map(|cell| plain(cell)).unwrap_or_default();
            let (default, description) = (text(1), text(2));
            quoted_names(row.first().map(String::as_str).unwrap_or(""))
                .into_iter()
                .map(move |name| ConfigKey {
                    name,
                    default: default.clone(),
                    description: description.clone(),
                })
        })
        .collect()
}

/// The cells of a table row, trimmed.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner
        .split('|')
        .map(|cell| cell.trim().to_string())
        .collect()
}

/// Every `` `name` `` of a cell.
fn quoted_names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// A cell without Markdown's code and emphasis marks.
fn plain(cell: &str) -> String {
    cell.replace("**", "").replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executors::BUILT_INS;

    #[test]
    fn every_built_in_documents_its_keys() {
        for built_in in BUILT_INS {
            assert!(
                !built_in.keys().is_empty(),
                "docs/executors/ has no ## Keys table for {}",
                built_in.name
            );
        }
    }

    #[test]
    fn a_row_may_name_several_keys() {
        let doc = "# x\n\n## Keys\n\nSome words.\n\n| key | default | behaviour |\n|---|---|---|\n\
                   | `command` | required | The **command**. |\n\
                   | `user`, `password` | — | `user:password`. |\n\nAfter.\n| `not` | a | key |\n";
        let keys = from_doc(doc);
        let names: Vec<&str> = keys.iter().map(|key| key.name.as_str()).collect();
        assert_eq!(names, ["command", "user", "password"]);
        assert_eq!(keys[0].default, "required");
        assert_eq!(keys[0].description, "The command.");
        assert_eq!(keys[2].description, "user:password.");
    }
}
