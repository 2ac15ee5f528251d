//! Every JSON answer the e2e tests receive is checked against the generated OpenAPI
//! document (`sandcron::api::openapi`, what `GET /v1/openapi.json` serves): the schema of
//! the documented path, method and status, its `$ref`s resolved into the document's
//! components. A body that does not fit fails the test that received it, so the document
//! cannot drift from what the server answers.
//!
//! A status the operation does not list fails the test too. Left to other checks: unknown
//! routes and methods (`api.rs` checks the router answers them 404 and 405), server
//! errors (the store tests stop the database on purpose; schemathesis asserts there are
//! none) and bodies that are not JSON (the live output, the metrics).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::Validator;
use serde_json::{Value, json};

/// The document as JSON.
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(sandcron::api::openapi()).expect("the OpenAPI document is JSON")
});

/// The document's paths, templated (`/v1/jobs/{name}`).
pub fn documented_paths() -> Vec<String> {
    DOCUMENT["paths"]
        .as_object()
        .expect("the document has paths")
        .keys()
        .cloned()
        .collect()
}

/// The methods the document gives `path` (lower case).
pub fn documented_methods(path: &str) -> Vec<String> {
    DOCUMENT["paths"][path]
        .as_object()
        .map(|item| {
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The methods an OpenAPI path item may hold that the API could route.
pub const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The documented template `path` (a concrete path, `/v1/jobs/a/run`) matches: the one
/// with the most literal segments, so `/v1/jobs/{name}/run` wins over a parameter.
fn template_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    documented_paths()
        .into_iter()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') && !segment.is_empty() {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// Follows a `$ref` within the document (`#/components/responses/NotFound`).
fn resolve(value: &Value) -> &Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                DOCUMENT
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("the document has no {reference}")),
            )
        }
        None => value,
    }
}

/// Checks the answer `status` with `body` (of `content_type`) to `method path` against the
/// document; panics naming each place the body does not fit.
pub fn check(method: &str, path: &str, status: u16, content_type: &str, body: &str) {
    if status >= 500 || !content_type.starts_with("application/json") {
        return;
    }
    let Some(template) = template_of(path) else {
        return;
    };
    let method = method.to_ascii_lowercase();
    let operation = &DOCUMENT["paths"][&template][&method];
    if operation.is_null() {
        return;
    }
    assert!(
        !operation["responses"][status.to_string()].is_null(),
        "{method} {path} answered {status}, which the OpenAPI document does not list for \
         {method} {template}: {body}"
    );
    let validator = validator(&template, &method, status);
    let instance: Value = serde_json::from_str(body).unwrap_or_else(|error| {
        panic!("{method} {path} {status}: the body is not JSON ({error}): {body}")
    });
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| format!("  at {:?}: {error}", error.instance_path().as_str()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {status} with a body the OpenAPI document does not allow:\n\
         {}\nbody: {body}",
        errors.join("\n")
    );
}

/// An answer the document may describe: path template, method, status.
type Answer = (String, String, u16);

/// The validator of the JSON body the document gives `method template` answering
/// `status` (a documented answer), compiled once.
fn validator(template: &str, method: &str, status: u16) -> Arc<Validator> {
    static COMPILED: LazyLock<Mutex<HashMap<Answer, Arc<Validator>>>> =
        LazyLock::new(Mutex::default);
    let key = (template.to_string(), method.to_string(), status);
    let mut compiled = COMPILED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    compiled
        .entry(key)
        .or_insert_with(|| {
            let response = &DOCUMENT["paths"][template][method]["responses"][status.to_string()];
            let schema = &resolve(response)["content"]["application/json"]["schema"];
            assert!(
                !schema.is_null(),
                "{method} {template} {status} answers JSON, but the document gives no JSON body"
            );
            // The schema with the document's components beside it, so that its `$ref`s
            // (`#/components/schemas/Job`) resolve.
            let root = json!({"allOf": [schema], "components": DOCUMENT["components"]});
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|error| {
                    panic!("{method} {template} {status}: bad schema: {error}")
                });
            Arc::new(validator)
        })
        .clone()
}
