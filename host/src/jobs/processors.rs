//! A job's `processors`: the steps its output goes through after each execution, in order.
//!
//! Two JSON forms are accepted. Dkron's map, `{"log": {"forward": "true"}, "files":
//! {"log_dir": "out"}}`, runs its steps in the order the keys are written (Dkron runs them
//! in random order); the list form, `[{"type": "log", "forward": "true"}, {"type":
//! "files"}]`, may name a processor twice. A job is shown in the form it was written in.
//! Config values are strings, as in Dkron; numbers and booleans are kept as their text.
//!
//! The built-in processors are [`BUILT_IN`]; any other name is an uploaded processor
//! component (`name` or `name@version`), resolved when the execution ends.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::FieldError;

/// The built-in processors and the config keys each accepts.
pub const BUILT_IN: &[(&str, &[&str])] = &[
    ("log", &["forward"]),
    ("files", &["forward", "log_dir"]),
    ("syslog", &["forward"]),
    ("fluent", &["forward"]),
];

/// The key of a step in the list form that names its processor.
const TYPE_KEY: &str = "type";

/// The steps a job's output goes through, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Processors {
    /// Each step, in the order it runs.
    pub steps: Vec<ProcessorStep>,
    /// Whether it was written as a list (shown back as one).
    pub listed: bool,
}

/// One step: a processor and its config.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorStep {
    /// A built-in (`log`, `files`, `syslog`, `fluent`) or an uploaded processor.
    pub name: String,
    /// Its config (Dkron's keys: `forward`, `log_dir`).
    pub config: BTreeMap<String, String>,
}

impl ProcessorStep {
    /// Whether the step passes the output on as it is (`forward`, Go's boolean spellings);
    /// otherwise the stored output becomes a note saying where the output went.
    pub fn forwards(&self) -> bool {
        self.config
            .get("forward")
            .is_some_and(|value| parse_bool(value) == Some(true))
    }

    /// Whether the step is one of the built-in processors.
    pub fn is_built_in(&self) -> bool {
        BUILT_IN.iter().any(|(name, _)| *name == self.name)
    }
}

impl Processors {
    /// Whether there is no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Checks each step: a known key of a built-in processor, a boolean `forward`, a name
    /// an upload could have. Refusals name the step (`processors.files.log_dir`, or
    /// `processors[1].forward` in the list form).
    pub fn check(&self) -> Result<(), FieldError> {
        for (index, step) in self.steps.iter().enumerate() {
            let field = |key: &str| {
                let step_field = if self.listed {
                    format!("processors[{index}]")
                } else {
                    format!("processors.{}", step.name)
                };
                if key.is_empty() {
                    step_field
                } else {
                    format!("{step_field}.{key}")
                }
            };
            if step.name.is_empty() {
                return Err(FieldError::new(field(TYPE_KEY), "names no processor"));
            }
            if let Some((_, keys)) = BUILT_IN.iter().find(|(name, _)| *name == step.name) {
                if let Some(unknown) = step.config.keys().find(|key| !keys.contains(&key.as_str()))
                {
                    return Err(FieldError::new(
                        field(unknown),
                        format!(
                            "the {} processor has no such key (it takes {})",
                            step.name,
                            keys.join(", ")
                        ),
                    ));
                }
            } else {
                super::check_name(step.name.split('@').next().unwrap_or_default()).map_err(
                    |e| {
                        FieldError::new(
                            field(""),
                            format!(
                                "{:?} is neither a built-in processor ({}) nor the name of an \
                                 upload: {}",
                                step.name,
                                BUILT_IN
                                    .iter()
                                    .map(|(name, _)| *name)
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                e.message
                            ),
                        )
                    },
                )?;
            }
            if let Some(forward) = step.config.get("forward")
                && parse_bool(forward).is_none()
            {
                return Err(FieldError::new(
                    field("forward"),
                    format!("{forward:?} is not true or false"),
                ));
            }
        }
        Ok(())
    }
}

/// Go's `strconv.ParseBool`, which Dkron reads `forward` with; `""` is false.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A config value: a string, or a number or boolean kept as its text.
fn config_text<E: de::Error>(key: &str, value: serde_json::Value) -> Result<String, E> {
    match value {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        serde_json::Value::Bool(flag) => Ok(flag.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(E::custom(format!(
            "{key}: expected a string, number or boolean, found {other}"
        ))),
    }
}

fn config_of<E: de::Error>(
    raw: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, E> {
    raw.into_iter()
        .map(|(key, value)| config_text(&key, value).map(|text| (key, text)))
        .collect()
}

impl<'de> Deserialize<'de> for Processors {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ProcessorsVisitor)
    }
}

struct ProcessorsVisitor;

impl<'de> Visitor<'de> for ProcessorsVisitor {
    type Value = Processors;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "a map of processors ({\"log\": {\"forward\": \"true\"}}) or a list of them \
             ([{\"type\": \"log\", \"forward\": \"true\"}])",
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<Processors, E> {
        Ok(Processors::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Processors, E> {
        Ok(Processors::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Processors, A::Error> {
        let mut steps = Vec::new();
        while let Some((name, config)) =
            map.next_entry::<String, Option<BTreeMap<String, serde_json::Value>>>()?
        {
            steps.push(ProcessorStep {
                config: config_of(config.unwrap_or_default())?,
                name,
            });
        }
        Ok(Processors {
            steps,
            listed: false,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Processors, A::Error> {
        let mut steps = Vec::new();
        while let Some(mut raw) = seq.next_element::<BTreeMap<String, serde_json::Value>>()? {
            let name = match raw.remove(TYPE_KEY) {
                Some(serde_json::Value::String(name)) => name,
                _ => {
                    return Err(de::Error::custom(format!(
                        "processors[{}]: each step needs \"{TYPE_KEY}\", the processor's name",
                        steps.len()
                    )));
                }
            };
            steps.push(ProcessorStep {
                name,
                config: config_of(raw)?,
            });
        }
        Ok(Processors {
            steps,
            listed: true,
        })
    }
}

impl utoipa::PartialSchema for Processors {
    /// Dkron's map (`{NAME: {KEY: VALUE}}`, run in key order) or a list of
    /// `{"type": NAME, KEY: VALUE…}`.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{Array, Object, OneOf, Type};
        let strings = || {
            Object::builder()
                .schema_type(Type::Object)
                .additional_properties(Some(Object::builder().schema_type(Type::String)))
        };
        let map = Object::builder()
            .schema_type(Type::Object)
            .additional_properties(Some(strings()));
        let step = strings()
            .property(TYPE_KEY, Object::with_type(Type::String))
            .required(TYPE_KEY);
        OneOf::builder()
            .item(map)
            .item(Array::new(step))
            .description(Some(
                "The steps the output goes through after each execution, in order \
                 (docs/processors.md): Dkron's map (run in key order) or a list of \
                 {\"type\": NAME, KEY: VALUE…}.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Processors {}

impl Serialize for Processors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.listed {
            let mut seq = serializer.serialize_seq(Some(self.steps.len()))?;
            for step in &self.steps {
                let mut flat: BTreeMap<&str, &str> = step
                    .config
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str()))
                    .collect();
                flat.insert(TYPE_KEY, &step.name);
                seq.serialize_element(&flat)?;
            }
            seq.end()
        } else {
            let mut map = serializer.serialize_map(Some(self.steps.len()))?;
            for step in &self.steps {
                map.serialize_entry(&step.name, &step.config)?;
            }
            map.end()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Processors {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn dkron_s_map_runs_in_the_order_written() {
        let processors = parse(
            r#"{"syslog": {"forward": "true"}, "files": {"log_dir": "/var/log/mydir", "forward": "true"}, "log": {}}"#,
        );
        let names: Vec<&str> = processors.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["syslog", "files", "log"]);
        assert!(processors.steps[0].forwards());
        assert!(!processors.steps[2].forwards());
        assert_eq!(
            serde_json::to_string(&processors).unwrap(),
            r#"{"syslog":{"forward":"true"},"files":{"forward":"true","log_dir":"/var/log/mydir"},"log":{}}"#
        );
        processors.check().unwrap();
    }

    #[test]
    fn the_list_form_may_repeat_a_processor_and_is_shown_as_a_list() {
        let processors = parse(
            r#"[{"type": "redact"}, {"type": "files", "forward": true}, {"type": "files", "log_dir": "b"}]"#,
        );
        assert_eq!(processors.steps.len(), 3);
        assert_eq!(processors.steps[1].config["forward"], "true");
        assert_eq!(
            serde_json::to_string(&processors).unwrap(),
            r#"[{"type":"redact"},{"forward":"true","type":"files"},{"log_dir":"b","type":"files"}]"#
        );
        processors.check().unwrap();
    }

    #[test]
    fn null_and_empty_forms_mean_no_step() {
        assert!(parse("null").is_empty());
        assert!(parse("{}").is_empty());
        assert!(parse("[]").is_empty());
        assert!(serde_json::from_str::<Processors>(r#"[{"forward": "true"}]"#).is_err());
        assert!(serde_json::from_str::<Processors>(r#""log""#).is_err());
    }

    #[test]
    fn bad_steps_are_named() {
        let cases = [
            (r#"{"files": {"dir": "x"}}"#, "processors.files.dir"),
            (r#"{"log": {"forward": "yes"}}"#, "processors.log.forward"),
            (
                r#"[{"type": "log"}, {"type": "Bad Name"}]"#,
                "processors[1]",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(parse(json).check().unwrap_err().field, field, "{json}");
        }
    }
}
