/* Charts (canvas[data-chart], see components/chart.html): Chart.js with the theme's colours, the page's
   language for numbers and dates, and no animation for people who asked for less motion. */
(function () {
  "use strict";

  function themeColor(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return [
      themeColor("--accent-text", "#c4b5fd"),
      themeColor("--accent-2-text", "#f9a8d4"),
      themeColor("--info", "#93c5fd"),
      themeColor("--success", "#34d399"),
      themeColor("--warning", "#fbbf24"),
      themeColor("--danger", "#fca5a5"),
    ];
  }

  function build(canvas) {
    if (canvas.dataset.chartReady || !window.Chart) return;
    let config;
    try { config = JSON.parse(canvas.dataset.chart); } catch (e) { return; }
    canvas.dataset.chartReady = "1";
    const colors = palette();
    const text = themeColor("--muted", "#a9a1c0");
    const grid = themeColor("--border", "#342d4d");
    const filled = ["pie", "doughnut", "polarArea"].includes(config.type);
    (config.data.datasets || []).forEach((dataset, index) => {
      const color = colors[index % colors.length];
      if (!dataset.borderColor) dataset.borderColor = filled ? themeColor("--surface", "#181524") : color;
      if (!dataset.backgroundColor) dataset.backgroundColor = filled ? colors : color + (config.type === "line" ? "33" : "cc");
      if (config.type === "line" && dataset.tension === undefined) dataset.tension = 0.3;
    });
    config.options = config.options || {};
    config.options.maintainAspectRatio = false;
    config.options.responsive = true;
    config.options.locale = document.documentElement.lang || "pt-BR";
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) config.options.animation = false;
    window.Chart.defaults.color = text;
    window.Chart.defaults.borderColor = grid;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    new window.Chart(canvas, config);
  }

  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("canvas[data-chart]").forEach(build);
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:load", (event) => init(event.detail.elt));
})();
