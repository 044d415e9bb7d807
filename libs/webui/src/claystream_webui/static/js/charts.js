/* Draws Chart.js charts declared as <canvas data-chart='{json config}'> (no inline script).
 * Re-draws after htmx swaps: a canvas that already has a chart is updated, not duplicated.
 * Load after the vendored chart-4.6.1.umd.min.js. */
(function () {
  "use strict";
  if (!window.Chart) { return; }

  function styles() {
    var css = getComputedStyle(document.documentElement);
    return {
      text: css.getPropertyValue("--muted").trim() || "#5a6175",
      grid: css.getPropertyValue("--border").trim() || "#dfe3ec",
      font: css.getPropertyValue("--font").trim() || "system-ui"
    };
  }

  function applyDefaults() {
    var s = styles();
    Chart.defaults.color = s.text;
    Chart.defaults.borderColor = s.grid;
    Chart.defaults.font.family = s.font;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false;
  }

  function draw(root) {
    var canvases = (root || document).querySelectorAll("canvas[data-chart]");
    canvases.forEach(function (canvas) {
      var config;
      try { config = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
      var box = canvas.parentElement;
      if (box && box.dataset.height) { box.style.height = parseInt(box.dataset.height, 10) + "px"; }
      var existing = Chart.getChart(canvas);
      if (existing) {
        existing.data = config.data;
        existing.update("none");
        return;
      }
      new Chart(canvas, config);
    });
  }

  applyDefaults();
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.detail && event.detail.elt); });
})();
