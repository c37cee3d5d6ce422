"""End to end in a real browser, at desktop (1440×900) and phone (390×844) sizes: upload, Analyze, the evidence,
the gauge and its words, the shareable HTML report, accessibility (axe-core, alt text, live region) and the shipped
examples.

Drives Debian's Chromium through Playwright against the app launched in this process. Also checks that the page
asks nothing from the internet (fonts, scripts, telemetry): every request the browser makes stays on 127.0.0.1.
Screenshots of both sizes are kept in the ignored folder .cache/screenshots/ for humans. axe-core comes from
scripts/browser-deps.sh (``make test`` runs it; the fixture runs it too when the file is missing).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

import app
from vaedetect import explain

try:
    from test_app import Served, app_detector, make_talking_clip
except ImportError:  # pragma: no cover
    from tests.test_app import Served, app_detector, make_talking_clip

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / ".cache" / "screenshots"
AXE_JS = ROOT / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
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
    s = Served(app_detector(), tmp_path_factory.mktemp("gradio"), examples_dir=str(app.EXAMPLES_DIR))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, served, viewport):
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    pg = context.new_page()
    pg.external_requests = []  # type: ignore[attr-defined]
    pg.on(
        "request",
        lambda r: None if r.url.startswith((served.url, "data:", "blob:")) else pg.external_requests.append(r.url),  # type: ignore[attr-defined]
    )
    pg.set_default_timeout(90_000)
    pg.goto(served.url)
    pg.wait_for_selector("#analyze-btn")
    return pg


@pytest.fixture(scope="module")
def page(browser, served):
    pg = _open(browser, served, DESKTOP)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def phone(browser, served):
    pg = _open(browser, served, PHONE)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def axe_js() -> str:
    if not AXE_JS.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "browser-deps.sh")], check=False, timeout=300)
    assert AXE_JS.exists(), "axe-core is missing: run scripts/browser-deps.sh (make test does)"
    return AXE_JS.read_text(encoding="utf-8")


def _plot_points(page, elem_id: str) -> int:
    sel = f"#{elem_id} .js-plotly-plot"
    page.wait_for_selector(sel)
    return page.locator(f"{sel} .scatterlayer .trace path, {sel} .scatterlayer .trace .point").count()


HEADINGS = [*explain.TIER_LABELS.values(), *explain.NO_VERDICT_LABELS.values()]


def _wait_for_verdict(page) -> str:
    page.wait_for_function(
        "(hs) => hs.includes((document.querySelector('#verdict h2')?.innerText || '').trim())",
        arg=HEADINGS,
        timeout=120_000,
    )
    return page.inner_text("#verdict h2").strip()


def _shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # let plotly finish its transitions before the picture
    out = SCREENSHOTS / name
    page.screenshot(path=str(out), full_page=True)
    return out


def _serious_axe_violations(page, axe_js: str) -> list[str]:
    page.add_script_tag(content=axe_js)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 4).map(n => n.html.slice(0, 160)).join(' | '))"
    )
    return list(result)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_cold_page_shows_the_examples_above_the_fold_and_no_empty_output_boxes(browser, served, viewport, tmp_path):
    # Not a shipped example's bytes: an upload with the same content takes the example's cached file away (a webguard
    # issue noted for the security work), and the examples are clicked later in this module.
    clip = make_talking_clip(tmp_path / "cold.mp4", seed=7)
    pg = _open(browser, served, viewport)
    try:
        pg.wait_for_selector("#video-examples")
        pg.wait_for_timeout(500)
        box = pg.locator("#video-examples").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box  # whole gallery in view
        for empty in ("#evidence", "#html-file", "#report-file", "#recon-slider", "#umap-plot", "#alignment-plot"):
            assert not pg.locator(empty).is_visible(), f"{empty} shown with nothing in it"
        assert _unnamed_controls(pg) == []  # every control has a name, before any result too
        # After a video is loaded the source icons under it are drawn whole, not cut by the box.
        pg.locator("#video-input input[type=file]").set_input_files(str(clip))
        pg.wait_for_selector("#video-input video")
        pg.wait_for_timeout(500)
        cut = pg.evaluate(
            """() => [...document.querySelectorAll('#video-input button')].filter(b => b.getClientRects().length)
              .filter(b => { const r = b.getBoundingClientRect(), box = document.querySelector('#video-input')
                .getBoundingClientRect(); return r.height > 0 && (r.top < box.top - 1 || r.bottom > box.bottom + 1); })
              .map(b => b.outerHTML.slice(0, 100))"""
        )
        assert cut == []
        _shot(pg, f"{'phone' if viewport is PHONE else 'desktop'}-cold.png")
    finally:
        pg.context.close()


def test_focus_returns_to_analyze_after_a_file_is_chosen_and_its_ring_is_visible(browser, served, tmp_path):
    clip = make_talking_clip(tmp_path / "keyboard.mp4", seed=8)
    pg = _open(browser, served, DESKTOP)
    try:
        upload = pg.locator("#video-input button.upload-container")
        upload.wait_for()
        pg.wait_for_timeout(500)  # the page's own script has run (it names the upload area)
        with pg.expect_file_chooser(timeout=20_000) as chooser:
            upload.press("Enter")
        chooser.value.set_files(str(clip))
        pg.wait_for_selector("#video-input video")
        pg.wait_for_function("() => document.activeElement?.id === 'analyze-btn'", timeout=20_000)
        ring = pg.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"
        )
        assert ring[0] == "solid" and ring[1] >= 2, ring  # WCAG 2.2 focus appearance: at least 2 px, solid
        _shot(pg, "desktop-focus-on-analyze.png")
    finally:
        pg.context.close()


def test_upload_analyze_gauge_report_and_accessibility_on_desktop(page, served, tmp_path, axe_js):
    clip = make_talking_clip(tmp_path / "interview.mp4", seed=4)
    page.locator("#video-input input[type=file]").set_input_files(str(clip))
    page.wait_for_selector("#video-input video")
    page.click("#analyze-btn")
    page.wait_for_selector(".progress-text")  # while it runs: one progress indicator, in the verdict panel
    progress = page.evaluate(
        "() => [...document.querySelectorAll('.progress-text, .progress-bar, .eta-bar')]"
        ".filter(e => e.getClientRects().length && !e.closest('.hide')).map(e => e.closest('[id]')?.id)"
    )
    assert progress and set(progress) == {"verdict"}, progress
    assert _wait_for_verdict(page) in explain.TIER_LABELS.values()
    assert page.get_attribute("#verdict", "aria-live") == "polite"  # announced to screen readers
    tier_colours = {"rgb(26, 152, 80)", "rgb(230, 160, 0)", "rgb(215, 48, 39)"}  # the CSS survives sanitising
    assert page.evaluate("() => getComputedStyle(document.querySelector('#verdict')).borderLeftColor") in tier_colours

    gauge = page.locator("#verdict .gauge")
    assert gauge.count() == 1 and "line" in gauge.locator(".gauge-label").text_content()  # read out, not seen
    marker = page.locator("#verdict .gauge-marker").bounding_box()
    bar = page.locator("#verdict .gauge-bar").bounding_box()
    assert bar["width"] > 100 and bar["x"] - 3 <= marker["x"] <= bar["x"] + bar["width"] + 3  # drawn, on the bar
    words = page.inner_text("#verdict")
    assert any(w in words for w in ("below the", "above the"))
    assert "likely real" not in words.lower() and "likely manipulated" not in words.lower()

    page.wait_for_selector("#html-file a", state="attached")
    with page.expect_download() as dl:
        page.locator("#html-file a").first.click()
    html = Path(dl.value.path()).read_text(encoding="utf-8")
    assert hashlib.sha256(clip.read_bytes()).hexdigest() in html and "interview.mp4" in html
    assert page.inner_text("#verdict h2").strip() in html
    report_page = page.context.new_page()  # the downloaded report opens on its own and asks nothing from anywhere
    requested = []
    report_page.on("request", lambda r: None if r.url.startswith("data:") else requested.append(r.url))
    report_page.set_content(html)
    _shot(report_page, "desktop-html-report.png")
    assert requested == [] and report_page.locator("img").count() >= 3
    report_page.close()

    if page.locator("#recon-slider img").count():  # the real detector may find no face in a synthetic clip
        page.wait_for_function("() => document.querySelector('#heatmap img')?.naturalWidth > 0")
        page.wait_for_function("() => (document.querySelector('#heatmap img')?.alt || '').includes('Heatmap')")
        assert all(a for a in page.locator("#recon-slider img").evaluate_all("els => els.map(e => e.alt)"))
        assert _plot_points(page, "umap-plot") > 0
        _slider_moves_with_the_arrow_keys(page)
    assert _plot_points(page, "timeline-plot") > 0
    for plot in ("timeline-plot", "alignment-plot", "umap-plot"):  # each plot has a text alternative
        page.wait_for_function(f"() => document.querySelector('#{plot} .js-plotly-plot')?.getAttribute('aria-label')")
    assert _serious_axe_violations(page, axe_js) == []
    assert _unnamed_controls(page) == []
    shot = _shot(page, "desktop-analysed.png")
    assert shot.stat().st_size > 50_000
    assert served.leftover_uploads(clip) == []  # the upload is gone once the verdict is on screen
    assert page.external_requests == []  # type: ignore[attr-defined]


def _slider_moves_with_the_arrow_keys(page) -> None:
    """The reconstruction slider is a named, focusable slider, and the arrow keys move it (issue 32)."""
    handle = page.locator('#recon-slider [role="slider"]')
    handle.wait_for()
    assert handle.get_attribute("aria-label") and handle.get_attribute("tabindex") == "0"
    before = handle.evaluate("e => e.style.transform")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowLeft")
    page.wait_for_function("(b) => document.querySelector('#recon-slider [role=slider]').style.transform !== b",
                           arg=before)  # fmt: skip
    assert int(handle.get_attribute("aria-valuenow")) < 50
    assert page.evaluate("() => document.activeElement?.getAttribute('role')") == "slider"  # focus stays on it


def _unnamed_controls(page) -> list[str]:
    """Visible buttons, inputs and sliders without an accessible name (text, aria-label, title, label or picture)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, [role=slider]')]
          .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
          .filter(e => !(e.innerText?.trim() || e.getAttribute('aria-label') || e.getAttribute('title')
            || (e.getAttribute('aria-labelledby') && document.getElementById(e.getAttribute('aria-labelledby')))
            || (e.id && document.querySelector(`label[for="${e.id}"]`)) || e.closest('label')
            || e.querySelector('img[alt]:not([alt=""])') || (e.type === 'file')))
          .map(e => e.outerHTML.slice(0, 160))"""
    )


def test_text_is_at_least_14_px_where_the_page_explains_things(page):
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('#verdict p, #verdict li, .caption p, .header-model')]"
        ".filter(e => e.offsetParent && e.innerText.trim()).map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes and min(sizes) >= 14


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


def test_a_black_silent_clip_gets_its_own_grey_no_verdict_heading(page, tmp_path):
    import numpy as np
    from media_factory import write_video

    black = write_video(tmp_path / "black.mp4", np.zeros((25, 240, 320, 3), np.uint8), fps=25)
    clear = page.locator('#video-input button[aria-label="Clear"]')
    if clear.count():
        clear.first.click()
    page.locator("#video-input input[type=file]").set_input_files(str(black))
    page.wait_for_selector("#video-input video")
    page.click("#analyze-btn")
    page.wait_for_function("() => document.querySelector('#html-file')?.innerText.includes('black')", timeout=120_000)
    assert _wait_for_verdict(page) == "No face found — no verdict"
    grey = page.evaluate("() => getComputedStyle(document.querySelector('#verdict')).borderLeftColor")
    assert grey == "rgb(127, 127, 127)" and page.locator("#verdict .gauge").count() == 0
    assert "voice" not in page.inner_text("#verdict").split("Limits")[0].lower()  # no voice to speak of
    page.wait_for_selector("#timeline-plot .js-plotly-plot")
    for empty in ("#recon-slider", "#heatmap"):  # no face, no face pictures: no empty boxes either
        assert not page.locator(empty).is_visible()
    assert "One point per second" not in page.inner_text("#evidence")  # no guide to a timeline that is not there
    _shot(page, "desktop-no-face.png")


def test_bad_file_shows_only_the_projects_message(page, tmp_path):
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
    page.wait_for_timeout(500)
    assert "Video not playable" not in page.inner_text("body")  # the browser's own toast is dropped
    assert page.locator('[data-testid="toast-body"]').count() >= 1  # this request's warning is shown ...


def test_shipped_examples_are_labelled_and_a_lipsync_fake_is_analysed(page):
    gallery = page.locator("#video-examples")
    labels = gallery.inner_text()
    assert "Real: GRID speaker 1" in labels and "Fake (made here): voice delayed 0.4 s" in labels
    gallery.get_by_text("Fake (made here): voice delayed 0.4 s").click()
    page.wait_for_function(
        "() => document.querySelector('#html-file')?.innerText.includes('fake-lipsync-shift')", timeout=120_000
    )
    assert page.locator('[data-testid="toast-body"]').count() == 0  # ... and goes with the next request
    # Both lip-sync cues find the 0.4 s delay: a finding, named first, that keeps the clip at the middle tier.
    assert _wait_for_verdict(page) == explain.TIER_LABELS["uncertain"]
    why = page.locator("#verdict li").first.inner_text()
    assert why.startswith("Found: Lip movements and speech are out of step") and "editing" in why
    assert page.locator("#video-input video").count() == 1  # the example clip is loaded as the input
    page.wait_for_selector("#frame-pick", state="hidden")  # cached examples carry no per-frame picker
    note = page.inner_text("#examples-note")  # the labels say what each clip is, the verdict what was found
    assert "really is" in note and "no signs found" in note
    _shot(page, "desktop-example-lipsync-fake.png")


def _boxes_overlap(a, b, slack: float = 1.0) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"] + slack
        or b["x"] + b["width"] <= a["x"] + slack
        or a["y"] + a["height"] <= b["y"] + slack
        or b["y"] + b["height"] <= a["y"] + slack
    )


def test_phone_layout_has_no_cut_or_overlapping_plot_titles_and_scrolls_to_the_verdict(phone, axe_js):
    phone.locator("#video-examples").get_by_text("Real: GRID speaker 1").click()
    try:
        heading = _wait_for_verdict(phone)
    finally:
        _shot(phone, "phone-example-real.png")
    assert heading == "No signs of manipulation found"  # never "real": nothing was found
    phone.wait_for_timeout(1500)  # the smooth scroll
    top = phone.evaluate("() => document.querySelector('#verdict').getBoundingClientRect().top")
    assert -5 <= top < PHONE["height"] / 2  # the verdict is in view once it arrives
    assert phone.get_attribute("#verdict", "aria-live") == "polite"
    assert phone.locator("#verdict .gauge .gauge-marker").count() == 1
    _shot(phone, "phone-example-real.png")
    for plot in ("umap-plot", "timeline-plot", "alignment-plot"):
        phone.wait_for_selector(f"#{plot} .js-plotly-plot .main-svg")
        fig = phone.locator(f"#{plot} .js-plotly-plot").bounding_box()
        assert fig["width"] <= PHONE["width"]
        texts = phone.locator(f"#{plot} .g-gtitle text, #{plot} .annotation-text, #{plot} .g-xtitle text, "
                              f"#{plot} .g-x2title text, #{plot} .g-x3title text")  # fmt: skip
        found = [(texts.nth(i).text_content(), texts.nth(i).bounding_box()) for i in range(texts.count())]
        boxes = [b for _, b in found if b and b["width"] > 0]
        assert boxes, f"{plot}: no titles drawn"
        for text, b in found:  # nothing cut at the figure's edges
            if b and b["width"] > 0:
                assert fig["x"] - 1 <= b["x"] and b["x"] + b["width"] <= fig["x"] + fig["width"] + 1, (plot, text)
        legend = phone.locator(f"#{plot} .legend")
        if legend.count():
            lb = legend.first.bounding_box()
            title = phone.locator(f"#{plot} .g-gtitle text").first.bounding_box()
            assert not _boxes_overlap(lb, title), f"{plot}: legend over the title"
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not _boxes_overlap(a, b), f"{plot}: overlapping titles"
        assert phone.locator(f"#{plot} .modebar-container").evaluate("e => getComputedStyle(e).display") == "none"
    overlaps = phone.evaluate(
        """() => [...document.querySelectorAll('[data-testid="block-label"]')]
          .filter(l => l.offsetParent).flatMap(l => {
            const a = l.getBoundingClientRect();
            return [...l.parentElement.querySelectorAll('.icon-button-wrapper')].filter(w => w.offsetParent)
              .map(w => w.getBoundingClientRect())
              .filter(b => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
              .map(() => l.innerText);
        })"""
    )
    assert overlaps == []  # no panel toolbar over a panel label
    assert _serious_axe_violations(phone, axe_js) == []
    assert phone.external_requests == []  # type: ignore[attr-defined]
