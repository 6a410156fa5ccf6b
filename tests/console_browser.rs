//! The web console in a headless chromium (`.ci/console.sh`): sign in, add an integration, test
//! send, choose event types and test a `sale.created`, a reward rule, a creator earning it, the delivery log, phone width. Under `CI=true` it
//! must run; elsewhere the script skips when chromium cannot be had.

use std::process::Command;

#[test]
fn the_console_works_in_a_headless_browser() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/console.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("LC_BIN", env!("CARGO_BIN_EXE_lc-webhooks"))
        .output()
        .expect("run .ci/console.sh");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the console browser test failed (its output is above)"
    );
}
