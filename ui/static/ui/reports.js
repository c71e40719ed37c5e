/* Report charts: every [data-echart] element gets an ECharts instance with the option the server built.
   Runs on load and after each htmx swap (a changed parameter replaces the result). The last option set on
   each chart is kept on window.tfCharts for tests and debugging. */
(function () {
  "use strict";
  window.tfCharts = window.tfCharts || {};
  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    (root || document).querySelectorAll("[data-echart]").forEach(function (el) {
      var option;
      try { option = JSON.parse(el.getAttribute("data-echart")); } catch (e) { return; }
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option, true);
      var box = el.closest("[id]");
      window.tfCharts[box ? box.id : "chart"] = option;
    });
  }
  function boot() { draw(document); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
  document.addEventListener("htmx:afterSwap", function (ev) { draw(ev.target); });
  window.addEventListener("resize", function () {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll("[data-echart]").forEach(function (el) {
      var c = echarts.getInstanceByDom(el); if (c) { c.resize(); }
    });
  });
})();
