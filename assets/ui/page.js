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
  const text = (sel) => document.querySelector(sel)?.textContent.trim() || "";
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
    // The browser's own toast for a file it cannot preview; the verdict panel explains the problem instead.
    document.querySelectorAll(".toast-body").forEach((t) => {
      if (t.textContent.includes("Video not playable")) t.closest(".toast-wrap, .toast-body")?.remove();
    });
  };
  new MutationObserver(apply).observe(document.body, { childList: true, subtree: true, characterData: true });
  apply();
}
