//! The report renders in a real browser (headless Debian `chromium`, installed
//! by scripts/install-system-deps.sh): the screenshot is not blank and the
//! page logs no console errors.

mod report_support;

use std::process::Command;

use oodcal::report::{build_report_for, StudyMeta};
use report_support::claims_study;

#[test]
fn chromium_renders_the_report_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    claims_study(&records, false);
    let out = dir.path().join("report");
    let meta = StudyMeta::without_manifest("browser-test", "claims study rendered by chromium");
    let summary = build_report_for(&meta, &records, &out).unwrap();
    let shot = dir.path().join("shot.png");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,3000")
        .arg(format!("file://{}", summary.index_html.display()))
        .output()
        .expect("chromium is installed (run scripts/install-system-deps.sh)");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(shot.is_file(), "no screenshot; chromium said:\n{log}");
    for needle in ["Uncaught", "CONSOLE", "net::ERR_"] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        assert!(hits.is_empty(), "console problem: {hits:?}");
    }
    let image = image::open(&shot).unwrap().to_rgba8();
    assert_eq!(image.dimensions(), (1200, 3000));
    let first = *image.get_pixel(0, 0);
    let differing = image.pixels().filter(|p| **p != first).count();
    // Text, tables and figures cover a good part of the page.
    assert!(
        differing > 50_000,
        "screenshot is nearly blank ({differing} pixels differ)"
    );
    if let Ok(keep) = std::env::var("OODCAL_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
