//! Plain-text tables for the client commands: a header row and left-aligned columns
//! separated by two spaces, each as wide as its widest cell; and how a JSON value reads
//! in a cell.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Rows of cells under a header.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, header first.
    pub fn render(&self) -> String {
        let header: Vec<String> = self.header.iter().map(|cell| cell.to_string()).collect();
        let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let mut widths = vec![0; self.header.len()];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line.iter()) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for line in lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text
    }
}

/// A JSON value as a cell: strings as they are, numbers and booleans as text, `-` for
/// null, an empty string or a missing value.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(text)) if text.is_empty() => "-".into(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// An RFC 3339 time as a cell, to the second in UTC; `-` when there is none.
pub fn time_cell(value: Option<&Value>) -> String {
    match value.and_then(Value::as_str) {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|time| {
                time.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            })
            .unwrap_or_else(|_| text.to_string()),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(&["NAME", "STATUS"]);
        table.row(vec!["backup-database".into(), "success".into()]);
        table.row(vec!["x".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "NAME             STATUS\nbackup-database  success\nx                -\n"
        );
    }

    #[test]
    fn values_read_plainly_in_cells() {
        let json: Value = serde_json::json!({
            "n": 3, "empty": "", "null": null, "at": "2026-01-02T03:04:05.678+01:00"
        });
        assert_eq!(cell(json.get("n")), "3");
        assert_eq!(cell(json.get("empty")), "-");
        assert_eq!(cell(json.get("null")), "-");
        assert_eq!(cell(json.get("missing")), "-");
        assert_eq!(time_cell(json.get("at")), "2026-01-02T02:04:05Z");
        assert_eq!(time_cell(json.get("null")), "-");
    }
}
