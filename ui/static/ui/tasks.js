/* Task inbox and workflow pages: filters that apply on change, the confirm of withdraw,
   and the bpmn-js diagram with the current steps highlighted (markers tf-wf-current / tf-wf-done). */
(function () {
  "use strict";

  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.hasAttribute && el.hasAttribute("data-tf-autosubmit") && el.form) el.form.requestSubmit();
  });

  document.addEventListener("submit", function (evt) {
    var button = evt.submitter;
    var message = button && button.getAttribute("data-tf-confirm");
    if (message && !window.confirm(message)) evt.preventDefault();
  });

  function ids(box, name) {
    return (box.getAttribute(name) || "").split(" ").filter(Boolean);
  }

  function drawDiagram() {
    var box = document.getElementById("wf-diagram");
    var source = document.getElementById("wf-diagram-xml");
    if (!box || !source || typeof window.BpmnJS !== "function") return;
    var status = box.querySelector(".tf-wf-diagram-status");
    var viewer = new window.BpmnJS({ container: box });
    viewer.importXML(JSON.parse(source.textContent)).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      ids(box, "data-completed").forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, "tf-wf-done");
      });
      ids(box, "data-current").forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, "tf-wf-current");
      });
      canvas.zoom("fit-viewport", "auto");
      if (status) status.remove();
      box.setAttribute("data-rendered", "true");
    }).catch(function () {
      if (status) status.textContent = box.getAttribute("data-failed");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawDiagram);
  else drawDiagram();
})();
