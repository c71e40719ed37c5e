/* Flow designer page (ui/routes/builder_flows.py): the bpmn-js modeler, toolbar, save into the draft with
   the parser's problems shown on their element, and a warning before leaving with unsaved changes.
   The side panel is flow_panel.js. window.tfFlowDesigner = {modeler, save()} is what browser tests drive. */
(function () {
  "use strict";

  var root = document.getElementById("flow-designer");
  if (!root || typeof window.BpmnJS !== "function" || !window.TfFlowPanel) return;
  var data = JSON.parse(document.getElementById("flow-data").textContent);
  var texts = JSON.parse(document.getElementById("flow-texts").textContent);
  var Panel = window.TfFlowPanel;
  var tx = function (k) { return texts[k] || k; };
  var status = document.getElementById("flow-status");
  var errorsBox = document.getElementById("flow-errors");
  var hintsBox = document.getElementById("flow-hints");
  var dirty = false;
  var marked = [];

  var modeler = new window.BpmnJS({
    container: document.getElementById("flow-canvas"),
    keyboard: { bindTo: document },
    moddleExtensions: { spiffworkflow: Panel.moddleExtension }
  });
  Panel.init(modeler, data, texts, markDirty);

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = "small ms-auto " + (kind === "error" ? "text-danger" : kind === "ok" ? "text-success" : "text-body-secondary");
  }

  function markDirty() {
    dirty = true;
    setStatus(tx("unsaved"), "");
  }

  function selectElement(id) {
    var el = modeler.get("elementRegistry").get(id);
    if (!el) return;
    modeler.get("selection").select(el);
    modeler.get("canvas").scrollToElement ? modeler.get("canvas").scrollToElement(el) : null;
  }

  function clearMarks() {
    var canvas = modeler.get("canvas");
    marked.forEach(function (id) { try { canvas.removeMarker(id, "tf-flow-error"); } catch (e) { /* gone */ } });
    marked = [];
  }

  function listInto(box, items, title) {
    box.innerHTML = "";
    if (!items.length) { box.classList.add("d-none"); return; }
    box.classList.remove("d-none");
    box.appendChild(Object.assign(document.createElement("div"), { className: "fw-semibold mb-1", textContent: title }));
    var ul = document.createElement("ul");
    ul.className = "mb-0";
    items.forEach(function (p) {
      var li = document.createElement("li");
      if (p.element && modeler.get("elementRegistry").get(p.element)) {
        var a = document.createElement("a");
        a.href = "#";
        a.className = "tf-flow-goto";
        a.setAttribute("data-element", p.element);
        var bo = modeler.get("elementRegistry").get(p.element).businessObject;
        a.textContent = bo.name || p.element;
        a.addEventListener("click", function (evt) { evt.preventDefault(); selectElement(p.element); });
        li.appendChild(a);
        li.appendChild(document.createTextNode("：" + p.message));
      } else {
        li.textContent = p.message;
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function showHints() {
    listInto(hintsBox, Panel.problems(), tx("hints_title"));
  }

  function save() {
    setStatus(tx("saving"), "");
    errorsBox.classList.add("d-none");
    clearMarks();
    return modeler.saveXML({ format: true }).then(function (out) {
      return fetch(data.save_url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ xml: out.xml })
      });
    }).then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) {
        if (res.body.ok) {
          dirty = false;
          setStatus(res.body.message || tx("saved"), "ok");
          root.setAttribute("data-saved", String(Date.now()));
          showHints();
          return true;
        }
        var errs = res.body.errors || [];
        var canvas = modeler.get("canvas");
        errs.forEach(function (e) {
          if (e.element && modeler.get("elementRegistry").get(e.element)) { canvas.addMarker(e.element, "tf-flow-error"); marked.push(e.element); }
        });
        listInto(errorsBox, errs, tx("errors_title"));
        setStatus(tx("not_saved"), "error");
        root.setAttribute("data-save-failed", String(Date.now()));
        if (errs[0] && errs[0].element) selectElement(errs[0].element);
        return false;
      }).catch(function () {
        setStatus(tx("not_saved"), "error");
        return false;
      });
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  /* Fit the diagram, then move it right of the palette (the palette floats over the canvas's left edge). */
  function fit() {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    if (canvas.zoom() > 1) canvas.zoom(1, "auto");
    var palette = document.querySelector("#flow-canvas .djs-palette");
    var inner = canvas.viewbox().inner;
    var scale = canvas.zoom();
    var leftEdge = (inner.x - canvas.viewbox().x) * scale;
    var need = (palette ? palette.offsetWidth + 24 : 0) - leftEdge;
    if (need > 0) canvas.scroll({ dx: need, dy: 0 });
  }

  modeler.importXML(data.xml).then(function (result) {
    fit();
    var warnings = (result && result.warnings) || [];
    setStatus(warnings.length ? tx("loaded_warnings") : tx("loaded"), warnings.length ? "error" : "");
    root.setAttribute("data-ready", "true");
    showHints();
  }).catch(function (err) {
    setStatus(tx("load_failed") + " " + (err && err.message ? err.message : ""), "error");
  });

  modeler.on("selection.changed", function (evt) { Panel.render(evt.newSelection[0] || null); });
  modeler.on("commandStack.changed", function () { markDirty(); });
  modeler.on("element.changed", function (evt) {
    var sel = modeler.get("selection").get()[0];
    var active = document.activeElement;
    var typing = active && document.getElementById("flow-panel").contains(active) && active.tagName !== "SELECT" && active.type !== "checkbox";
    if (sel && evt.element === sel && !typing) Panel.render(sel);
  });

  document.getElementById("flow-save").addEventListener("click", function () { save(); });
  document.getElementById("flow-undo").addEventListener("click", function () { modeler.get("commandStack").undo(); });
  document.getElementById("flow-redo").addEventListener("click", function () { modeler.get("commandStack").redo(); });
  document.getElementById("flow-zoom-in").addEventListener("click", function () { modeler.get("zoomScroll").stepZoom(1); });
  document.getElementById("flow-zoom-out").addEventListener("click", function () { modeler.get("zoomScroll").stepZoom(-1); });
  document.getElementById("flow-fit").addEventListener("click", fit);
  document.addEventListener("keydown", function (evt) {
    if ((evt.ctrlKey || evt.metaKey) && evt.key === "s") { evt.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", function (evt) {
    if (dirty) { evt.preventDefault(); evt.returnValue = ""; }
  });

  window.tfFlowDesigner = { modeler: modeler, save: save, fit: fit, isDirty: function () { return dirty; } };
})();
