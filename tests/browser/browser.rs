//! A headless Chromium on a console, for the browser tests and the console benchmark:
//! Debian's Chromium driven over WebDriver (chromedriver, `scripts/peers up chromium`, its
//! address in `SANDCRON_TEST_WEBDRIVER_URL`), one at a time, each with a fresh profile.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{Server, eventually};

/// How long a page may take to show what a test waits for: a debug build on a shared
/// machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One browser at a time: each is a whole Chromium, and the machine is small.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Chromium's flags: headless, and nothing that reaches for the network by itself.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// A headless Chromium with a fresh profile, on one test's console.
pub struct Browser {
    pub client: Client,
    test: &'static str,
    base: String,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// Opens a browser 1280 px wide on `server`'s console, for the test `test`.
    pub async fn open(test: &'static str, server: &Server) -> Self {
        let turn = ONE_BROWSER.lock().await;
        let webdriver = std::env::var("SANDCRON_TEST_WEBDRIVER_URL").expect(
            "SANDCRON_TEST_WEBDRIVER_URL is not set: run the suite with scripts/test, which \
             starts chromedriver (scripts/peers up chromium)",
        );
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push("--window-size=1280,900".into());
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "no WebDriver session at {webdriver} ({error}): start chromedriver with \
                     scripts/peers up chromium"
                )
            });
        Self {
            client,
            test,
            base: server.base.clone(),
            _profile: profile,
            _turn: turn,
        }
    }

    /// Goes to the console page `fragment` (`/jobs`, `/jobs/hello`).
    pub async fn go(&self, fragment: &str) {
        let url = format!("{}/ui/#{fragment}", self.base);
        self.client.goto(&url).await.unwrap();
    }

    /// Signs in with `token` from the sign-in page.
    pub async fn sign_in(&self, token: &str) {
        self.go("/overview").await;
        let input = self.wait(r#"input[name="token"]"#).await;
        input.send_keys(token).await.unwrap();
        self.click("form.sign-in button[type=submit]").await;
        self.wait_text("#whoami", "Sign out").await;
    }

    /// The first element matching `css`, once there is one.
    pub async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        eventually(&format!("an element {css}"), PATIENCE, || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The text of the first element matching `css`, once it contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let found = tokio::time::timeout(
            PATIENCE,
            eventually(&format!("{needle:?} in {css}"), PATIENCE * 2, || async {
                self.text(css).await.filter(|text| text.contains(needle))
            }),
        )
        .await;
        match found {
            Ok(text) => text,
            Err(_) => {
                self.shot("timed-out").await;
                panic!(
                    "{}: {needle:?} never appeared in {css}; it shows {:?}",
                    self.test,
                    self.text(css).await
                );
            }
        }
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    pub async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    /// Types `text` into the field labelled by the `data-field` row `field`.
    pub async fn type_into(&self, field: &str, text: &str) {
        let css = format!(r#"[data-field="{field}"] input, [data-field="{field}"] textarea"#);
        let input = self.wait(&css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Saves a screenshot as `<target>/screenshots/<test>-<label>.png`.
    pub async fn shot(&self, label: &str) {
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{}-{label}.png", self.test)), png).unwrap();
    }

    /// Makes the window `width` × `height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    pub async fn close(self) {
        let Browser { client, .. } = self;
        let _ = client.close().await;
    }
}

/// Where the screenshots go: beside the test binaries, in the target directory.
pub fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots")
}
