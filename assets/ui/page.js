() => {
  // Accessibility and phone helpers Gradio has no attribute for (see PAGE_JS in app.py). Runs once on page load.
  const ALTS = [
    ["#recon-slider img", [".alt-crop", ".alt-recon"]],
    ["#heatmap img", [".alt-heat"]],
  ];
  const PLOTS = [
    ["#umap-plot", "#umap-note"],
    ["#timeline-plot", "#timeline-note"],
    ["#alignment-plot", "#alignment-note"],
  ];
  let lastVerdict = "";
  let focusAfterUpload = 0; // when a file was chosen: focus returns to Analyze once it has arrived
  const text = (sel) => document.querySelector(sel)?.textContent.trim() || "";
  // Toasts belong to their request: a new analysis (Analyze, an example) closes the warnings of earlier ones.
  const closeToasts = () =>
    document.querySelectorAll('[data-testid="toast-close"]').forEach((b) => b.click());
  document.addEventListener(
    "click",
    (e) => {
      if (e.target.closest?.("#analyze-btn, #video-examples button, #photo-examples button")) closeToasts();
    },
    true,
  );
  // After a file is chosen (keyboard or mouse), focus goes back to Analyze instead of the page body.
  document.addEventListener(
    "change",
    (e) => {
      if (e.target.matches?.("#video-input input[type=file], #photo-input input[type=file]")) {
        focusAfterUpload = Date.now();
      }
    },
    true,
  );
  const focusAnalyzeWhenLoaded = () => {
    if (!focusAfterUpload) return;
    if (Date.now() - focusAfterUpload > 60000) focusAfterUpload = 0;
    const loaded = document.querySelector("#video-input video, #photo-input img");
    const busy = document.querySelector("#video-input .uploading, #photo-input .uploading");
    if (!loaded || busy) return;
    focusAfterUpload = 0;
    setTimeout(() => document.querySelector("#analyze-btn")?.focus(), 100);
  };
  // The reconstruction slider moves with the arrow keys (Gradio's handle only follows a pointer): the keys are turned
  // into the pointer press its drag handler listens for.
  const sliderFraction = (handle) => {
    const img = handle.closest("#recon-slider")?.querySelector("img");
    const wrap = handle.parentElement;
    if (!img || !wrap) return null;
    const m = /translateX\(([-\d.]+)px\)/.exec(handle.style.transform || "");
    const at = m ? parseFloat(m[1]) : wrap.getBoundingClientRect().width / 2;
    const r = img.getBoundingClientRect();
    const left = r.left - wrap.getBoundingClientRect().left;
    return r.width > 0 ? Math.min(Math.max((at - left) / r.width, 0), 1) : null;
  };
  const moveSlider = (handle, fraction) => {
    const img = handle.closest("#recon-slider")?.querySelector("img");
    if (!img) return;
    const r = img.getBoundingClientRect();
    const opts = { bubbles: true, cancelable: true, view: window, button: 0 };
    const at = { ...opts, clientX: r.left + fraction * r.width, clientY: r.top + r.height / 2 };
    handle.dispatchEvent(new MouseEvent("mousedown", at));
    window.dispatchEvent(new MouseEvent("mouseup", at));
  };
  const STEPS = { ArrowLeft: -0.05, ArrowDown: -0.05, ArrowRight: 0.05, ArrowUp: 0.05, PageDown: -0.25, PageUp: 0.25 };
  const syncValue = (handle) => {
    const f = sliderFraction(handle);
    if (f === null) return;
    const pct = String(Math.round(100 * f));
    if (handle.getAttribute("aria-valuenow") !== pct) {
      handle.setAttribute("aria-valuenow", pct);
      handle.setAttribute("aria-valuetext", `${pct} % of the face shown as found, the rest as redrawn`);
    }
  };
  const keyedSlider = (handle) => {
    syncValue(handle);
    if (handle.dataset.keys) return;
    handle.dataset.keys = "1";
    handle.setAttribute("tabindex", "0");
    handle.setAttribute("role", "slider");
    handle.setAttribute("aria-label", "Compare the face as found with its redrawing");
    handle.setAttribute("aria-valuemin", "0");
    handle.setAttribute("aria-valuemax", "100");
    handle.addEventListener("keydown", (e) => {
      const now = sliderFraction(handle);
      if (now === null) return;
      let next = null;
      if (e.key in STEPS) next = now + STEPS[e.key];
      else if (e.key === "Home") next = 0;
      else if (e.key === "End") next = 1;
      if (next === null) return;
      e.preventDefault();
      moveSlider(handle, Math.min(Math.max(next, 0), 1));
      requestAnimationFrame(() => syncValue(handle));
    });
    window.addEventListener("mouseup", () => requestAnimationFrame(() => syncValue(handle)));
  };


  const apply = () => {
    const verdict = document.querySelector("#verdict");
    if (verdict && verdict.getAttribute("aria-live") !== "polite") {
      verdict.setAttribute("aria-live", "polite");
      verdict.setAttribute("role", "status");
      verdict.setAttribute("aria-atomic", "true");
    }
    for (const [imgSel, altSels] of ALTS) {
      document.querySelectorAll(imgSel).forEach((img, i) => {
        const alt = text(`#frame-note ${altSels[Math.min(i, altSels.length - 1)]}`);
        if (alt && img.getAttribute("alt") !== alt) img.setAttribute("alt", alt);
      });
    }
    for (const [plotSel, noteSel] of PLOTS) {
      const plot = document.querySelector(`${plotSel} .js-plotly-plot`);
      const summary = text(`${noteSel} .plot-summary`);
      if (plot && summary && plot.getAttribute("aria-label") !== summary) {
        plot.setAttribute("role", "img");
        plot.setAttribute("aria-label", summary);
      }
    }
    const heading = document.querySelector("#verdict h2, #verdict h3");
    const now = heading ? heading.textContent : "";
    if (now && now !== lastVerdict && !now.startsWith("Upload")) {
      lastVerdict = now;
      if (window.innerWidth < 768) verdict.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    // Upload areas: the accessible name must contain the visible words (WCAG 2.5.3, label in name).
    document.querySelectorAll("button.upload-container[aria-label]").forEach((btn) => {
      const seen = btn.innerText.replace(/\s+/g, " ").trim();
      const label = btn.getAttribute("aria-label");
      if (seen && !label.includes(seen)) btn.setAttribute("aria-label", `${seen}: ${label}`);
    });
    focusAnalyzeWhenLoaded();
    document.querySelectorAll('#recon-slider [data-testid="slider"]').forEach(keyedSlider);
    // Every control has a name: a picture button (the heatmap's enlarge button) is named by its picture.
    document.querySelectorAll("button:not([aria-label]):not([title])").forEach((btn) => {
      if (btn.innerText.trim()) return;
      const alt = btn.querySelector("img")?.getAttribute("alt");
      const label = alt || (btn.querySelector("img") ? "Enlarge the picture" : "");
      if (label) btn.setAttribute("aria-label", label);
    });
    // The browser's own toast for a file it cannot preview; the verdict panel explains the problem instead.

    document.querySelectorAll(".toast-body").forEach((t) => {
      if (t.textContent.includes("Video not playable")) t.closest(".toast-wrap, .toast-body")?.remove();
    });
  };
  new MutationObserver(apply).observe(document.body, { childList: true, subtree: true, characterData: true });
  apply();
}
