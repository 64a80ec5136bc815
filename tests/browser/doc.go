// Package browser runs the web UI's end-to-end test (ui.spec.mjs, playwright-core driving
// Debian's headless chromium) against a fresh lab started with `svclab up --detach --web`.
package browser
