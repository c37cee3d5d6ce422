"""End to end in a real browser: upload, Analyze, and every piece of evidence drawn on the page.

Drives Debian's Chromium through Playwright against the app launched in this process. Also checks that the page
asks nothing from the internet (fonts, scripts, telemetry): every request the browser makes stays on 127.0.0.1.
A full-page screenshot is kept at /tmp/vaedetect-screenshot.png for humans.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vaedetect import explain

try:
    from test_app import Served, app_detector, make_talking_clip
except ImportError:  # pragma: no cover
    from tests.test_app import Served, app_detector, make_talking_clip

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_COPY = Path("/tmp/vaedetect-screenshot.png")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    detector = app_detector()
    examples = tmp_path_factory.mktemp("examples")
    make_talking_clip(examples / "example_speaker.mp4", seed=7)
    s = Served(detector, tmp_path_factory.mktemp("gradio"), examples_dir=str(examples))
    yield s
    s.close()


@pytest.fixture(scope="module")
def page(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.external_requests = []  # type: ignore[attr-defined]
        pg.on(
            "request",
            lambda r: None if r.url.startswith((served.url, "data:", "blob:")) else pg.external_requests.append(r.url),  # type: ignore[attr-defined]
        )
        pg.set_default_timeout(60_000)
        pg.goto(served.url)
        pg.wait_for_selector("#analyze-btn")
        yield pg
        browser.close()


def _plot_points(page, elem_id: str) -> int:
    sel = f"#{elem_id} .js-plotly-plot"
    page.wait_for_selector(sel)
    return page.locator(f"{sel} .scatterlayer .trace path, {sel} .scatterlayer .trace .point").count()


def test_upload_analyze_and_see_evidence(page, served, tmp_path):
    clip = make_talking_clip(tmp_path / "interview.mp4", seed=4)
    page.locator("#video-input input[type=file]").set_input_files(str(clip))
    page.wait_for_selector("#video-input video")
    page.click("#analyze-btn")
    heading = page.wait_for_selector("#verdict h2")
    assert heading.inner_text().strip() in explain.TIER_LABELS.values()
    assert "%" in page.inner_text("#verdict")
    tier_colours = {"rgb(26, 152, 80)", "rgb(230, 160, 0)", "rgb(215, 48, 39)"}  # the CSS survives sanitising
    assert page.evaluate("() => getComputedStyle(document.querySelector('#verdict')).borderLeftColor") in tier_colours

    page.wait_for_selector("#report-file a, #report-file [download]", state="attached")
    imgs = page.locator("#recon-slider img")
    if imgs.count():  # the real detector may find no face in a synthetic clip; the fake always does
        page.wait_for_function(
            "() => [...document.querySelectorAll('#recon-slider img')].filter(i => i.naturalWidth > 0).length >= 2"
        )
        page.wait_for_function("() => document.querySelector('#heatmap img')?.naturalWidth > 0")
        assert _plot_points(page, "umap-plot") > 0
    assert _plot_points(page, "timeline-plot") > 0
    assert _plot_points(page, "alignment-plot") > 0
    assert "how sure the lip-sync model is" in page.inner_text("#alignment-note")  # the guide under a drawn curve
    assert "One point per second" in page.inner_text("#timeline-note")
    page.wait_for_timeout(800)  # let plotly finish its transitions before the picture
    shot = tmp_path / "vaedetect.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, SCREENSHOT_COPY)
    assert shot.stat().st_size > 50_000
    assert served.leftover_uploads(clip) == []  # the upload is gone once the verdict is on screen
    assert page.external_requests == []  # type: ignore[attr-defined]


def test_choose_another_frame(page):
    pick = page.locator("#frame-pick input[type=range]")
    if not pick.count() or not pick.is_visible():
        pytest.skip("a single sampled frame: nothing to choose")
    before = page.locator(".caption", has_text="Frame at").first.inner_text()
    pick.focus()
    pick.press("ArrowLeft" if float(pick.input_value()) > 0 else "ArrowRight")
    page.wait_for_function(
        "(b) => [...document.querySelectorAll('.caption')].some(e => e.innerText.includes('Frame at') && "
        "e.innerText !== b)",
        arg=before,
        timeout=20_000,
    )


def test_bad_file_shows_friendly_message(page, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("This is a text file, not a video.\n" * 10)
    clear = page.locator('#video-input button[aria-label="Clear"]')
    if clear.count():
        clear.first.click()
    page.locator("#video-input input[type=file]").set_input_files(str(bad), timeout=15_000)
    page.wait_for_timeout(500)
    page.click("#analyze-btn")
    page.wait_for_function("() => document.querySelector('#verdict')?.innerText.includes('Cannot analyse')")
    text = page.inner_text("#verdict")
    assert "Traceback" not in text and "text file" in text


def test_cached_example(page):
    page.locator("#video-examples button.gallery-item").first.click()
    page.wait_for_function(
        "() => /Likely|Uncertain/.test(document.querySelector('#verdict h2')?.innerText || '') && "
        "document.querySelector('#report-file')?.innerText.includes('example_speaker')",
        timeout=60_000,
    )
    assert page.locator("#video-input video").count() == 1  # the example clip is loaded as the input
    page.wait_for_selector("#frame-pick", state="hidden")  # cached examples carry no per-frame picker
