//! The report renders in a real browser (headless Debian `chromium`, installed
//! by scripts/install-system-deps.sh): the screenshot is not blank and the
//! page logs no console errors.

mod report_support;

use std::process::Command;

use oodcal::report::{build_report_for, StudyMeta};
use report_support::claims_study;

/// Headless Chromium as both tests run it.
fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--hide-scrollbars",
    ]);
    c
}

#[test]
fn chromium_renders_the_report_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    claims_study(&records, false);
    let out = dir.path().join("report");
    let meta = StudyMeta::without_manifest("browser-test", "claims study rendered by chromium");
    let summary = build_report_for(&meta, &records, &out).unwrap();
    let shot = dir.path().join("shot.png");
    let output = chromium()
        .args(["--enable-logging=stderr", "--v=0"])
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

/// What tests/browser/layout_probe.js measured on the laid-out page.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    inner_width: f64,
    scroll_width: f64,
    figures_side_by_side: bool,
    charts: usize,
    points: usize,
    points_without_name: usize,
    legend_over_point: Vec<String>,
    small_text: Vec<String>,
    min_text_px: f64,
    page_height: f64,
}

/// Renders `page` with the probe injected at `width` px and reads its figures.
fn layout(page: &std::path::Path, width: u32) -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let probe = include_str!("browser/layout_probe.js");
    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replace("</body>", &format!("<script>{probe}</script></body>")),
    )
    .unwrap();
    let output = chromium()
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--window-size={width},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium is installed (run scripts/install-system-deps.sh)");
    let dom = String::from_utf8_lossy(&output.stdout);
    // The last one: the probe's own source names the element too.
    let start = dom.rfind("<pre id=\"layout-probe\">").unwrap_or_else(|| {
        panic!(
            "the probe wrote nothing; chromium said:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    }) + "<pre id=\"layout-probe\">".len();
    let json = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    serde_json::from_str(
        &json
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
    .unwrap()
}

/// The committed quick report, as a reader sees it at 1,400 and 800 px: no
/// horizontal page scroll, figures side by side on the wide screen, every
/// marker named, no legend over a data point, no figure text under 12 px.
#[test]
fn the_quick_report_lays_out_for_a_reader_at_1400_and_800_px() {
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/quick/index.html");
    for width in [1400, 800] {
        let l = layout(&page, width);
        eprintln!("{width} px: {l:?}");
        assert_eq!(l.inner_width, width as f64);
        assert!(
            l.scroll_width <= l.inner_width,
            "{width} px: the page scrolls sideways ({} px wide)",
            l.scroll_width
        );
        assert_eq!(
            l.figures_side_by_side,
            width == 1400,
            "{width} px: figures side by side?"
        );
        assert!(
            l.charts >= 8 && l.points >= 50,
            "{width} px: {} charts, {} points",
            l.charts,
            l.points
        );
        assert_eq!(
            l.points_without_name, 0,
            "{width} px: markers without a name"
        );
        assert!(
            l.legend_over_point.is_empty(),
            "{width} px: legend over {:?}",
            l.legend_over_point
        );
        assert!(
            l.small_text.is_empty() && l.min_text_px >= 12.0,
            "{width} px: text under 12 px: {:?}",
            l.small_text
        );
        assert!(l.page_height > 2000.0);
    }
}
