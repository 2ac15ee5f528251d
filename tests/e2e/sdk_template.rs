//! The SDK template builds as a newcomer builds it, and `sandcron exec` runs it.

use crate::support::{build_component, run, stderr, stdout};

#[test]
fn the_template_builds_and_runs() {
    let component = build_component("sdk/template", "my_executor");
    let out = run(&[
        "exec",
        component.to_str().unwrap(),
        "--config",
        "greeting=hi",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hi"), "{}", stdout(&out));
}
