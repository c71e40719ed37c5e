/* What the form, entity and view designers share: page state, words, undo/redo, saving, expression checks.
 *
 * Each designer keeps the documents it edits in one plain object (`doc`); every change goes through
 * `Designer.change()`, which records the previous state for undo, re-renders and tells the page.
 * Nothing here knows about forms or entities. */
(function () {
  "use strict";

  var MAX_HISTORY = 200;
  var IDENT = /^[a-z][a-z0-9_]{0,39}$/;

  function readState() {
    var el = document.getElementById("fd-state");
    return el ? JSON.parse(el.textContent) : null;
  }

  function csrf() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRF-Token"] || ""; } catch (e) { return ""; }
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), "Accept": "application/json, text/html" },
      body: JSON.stringify(body),
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.keys(value).forEach(function (k) { node.dataset[k] = value[k]; });
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clone(value) { return JSON.parse(JSON.stringify(value)); }

  function Designer(options) {
    this.state = readState();
    this.words = this.state.messages || {};
    this.doc = options.doc;
    this.render = options.render;
    this.payload = options.payload;
    this.afterChange = options.afterChange || function () {};
    this.undoStack = [];
    this.redoStack = [];
    this.saved = JSON.stringify(this.doc);
    this.pendingKey = null;
    this.saving = false;
    this.bindToolbar();
  }

  Designer.prototype.t = function (key, params) {
    var text = this.words[key] || key;
    Object.keys(params || {}).forEach(function (name) { text = text.split("{" + name + "}").join(params[name]); });
    return text;
  };

  /* A label in the page language, falling back to the other one (labels are "text" or {zh, en}). */
  Designer.prototype.label = function (label, fallback) {
    if (!label) return fallback || "";
    if (typeof label === "string") return label;
    var lang = this.state.lang;
    return label[lang] || label.zh || label.en || fallback || "";
  };

  Designer.prototype.isIdent = function (name) { return IDENT.test(name || ""); };

  /* Record the current state for undo, apply `mutate`, re-render. `key` merges a burst of typing
     into one undo step (the same input changing again before it loses focus). */
  Designer.prototype.change = function (mutate, key, options) {
    var before = JSON.stringify(this.doc);
    mutate(this.doc);
    if (JSON.stringify(this.doc) === before) { this.render(options || {}); return; } /* no step for a no-op */
    if (!key || key !== this.pendingKey) {
      this.undoStack.push(before);
      if (this.undoStack.length > MAX_HISTORY) this.undoStack.shift();
      this.redoStack = [];
    }
    this.pendingKey = key || null;
    this.render(options || {});
    this.changed();
  };

  Designer.prototype.endBurst = function () { this.pendingKey = null; };

  Designer.prototype.undo = function () {
    if (!this.undoStack.length) return;
    this.redoStack.push(JSON.stringify(this.doc));
    this.restore(this.undoStack.pop());
  };

  Designer.prototype.redo = function () {
    if (!this.redoStack.length) return;
    this.undoStack.push(JSON.stringify(this.doc));
    this.restore(this.redoStack.pop());
  };

  Designer.prototype.restore = function (snapshot) {
    var fresh = JSON.parse(snapshot);
    var doc = this.doc;
    Object.keys(doc).forEach(function (k) { delete doc[k]; });
    Object.keys(fresh).forEach(function (k) { doc[k] = fresh[k]; });
    this.pendingKey = null;
    this.render({ full: true });
    this.changed();
  };

  Designer.prototype.dirty = function () { return JSON.stringify(this.doc) !== this.saved; };

  Designer.prototype.changed = function () {
    document.getElementById("fd-undo").disabled = !this.undoStack.length;
    document.getElementById("fd-redo").disabled = !this.redoStack.length;
    this.status(this.dirty() ? "dirty" : "clean");
    this.afterChange();
  };

  Designer.prototype.status = function (kind, text) {
    var box = document.getElementById("fd-status");
    var looks = {
      dirty: ["text-bg-warning", "bi-pencil-fill", this.t("dirty")],
      clean: ["text-bg-light border", "bi-check2", this.t("clean")],
      saving: ["text-bg-light border", "bi-hourglass-split", this.t("saving")],
      saved: ["text-bg-success", "bi-check2-circle", this.t("saved")],
      failed: ["text-bg-danger", "bi-x-circle", text || this.t("save_failed")],
    }[kind];
    box.replaceChildren(el("span", { class: "badge rounded-pill " + looks[0], "data-status": kind }, [
      el("i", { class: "bi " + looks[1] + " me-1" }), looks[2],
    ]));
  };

  Designer.prototype.bindToolbar = function () {
    var self = this;
    document.getElementById("fd-undo").addEventListener("click", function () { self.undo(); });
    document.getElementById("fd-redo").addEventListener("click", function () { self.redo(); });
    document.getElementById("fd-save").addEventListener("click", function () { self.save(); });
    document.addEventListener("keydown", function (evt) {
      if (!(evt.ctrlKey || evt.metaKey)) return;
      var key = evt.key.toLowerCase();
      var typing = evt.target.matches && evt.target.matches("input[type=text], input:not([type]), textarea");
      if (key === "s") { evt.preventDefault(); self.save(); return; }
      if (typing) return; /* the browser's own undo inside a text box */
      if (key === "z" && !evt.shiftKey) { evt.preventDefault(); self.undo(); }
      else if (key === "y" || (key === "z" && evt.shiftKey)) { evt.preventDefault(); self.redo(); }
    });
    window.addEventListener("beforeunload", function (evt) {
      if (self.dirty()) { evt.preventDefault(); evt.returnValue = self.t("leave"); }
    });
  };

  Designer.prototype.save = function () {
    var self = this;
    if (self.saving) return;
    var body = self.payload();
    if (body && body.error) { self.status("failed", body.error); return; }
    self.saving = true;
    self.status("saving");
    var snapshot = JSON.stringify(self.doc);
    postJSON(self.state.urls.save, body).then(function (r) {
      return r.json().catch(function () { return { ok: false, errors: [{ where: "", message: "HTTP " + r.status }] }; });
    }).then(function (result) {
      self.saving = false;
      if (result.ok) {
        self.saved = snapshot;
        self.status(self.dirty() ? "dirty" : "saved");
        self.problems(result.warnings || [], false);
      } else {
        self.status("failed");
        self.problems(result.errors || [{ where: "", message: result.message || result.detail || "?" }], true);
      }
    }).catch(function (err) {
      self.saving = false;
      self.status("failed", self.t("save_error", { message: String(err) }));
    });
  };

  /* The problem list under the toolbar: errors of a refused save, or the draft's open problems. */
  Designer.prototype.problems = function (items, refused) {
    var box = document.getElementById("fd-problems");
    var list = document.getElementById("fd-problems-list");
    var self = this;
    box.classList.toggle("alert-danger", refused);
    box.classList.toggle("alert-warning", !refused);
    if (!items.length) {
      box.classList.remove("d-none", "alert-danger", "alert-warning");
      box.classList.add("alert-success");
      document.getElementById("fd-problems-title").textContent = self.t("no_problems");
      list.replaceChildren();
      return;
    }
    box.classList.remove("d-none", "alert-success");
    document.getElementById("fd-problems-title").textContent =
      refused ? self.t("save_failed") : self.t("warnings", { count: items.length });
    list.replaceChildren.apply(list, items.slice(0, 30).map(function (p) {
      var where = p.where ? el("strong", { text: p.where + "：" }) : null;
      var item = el("li", { "data-field": p.field || "" }, [where, p.message]);
      if (p.field && self.onProblemClick) {
        item.classList.add("fd-problem-link");
        item.addEventListener("click", function () { self.onProblemClick(p.field); });
      }
      return item;
    }));
  };

  /* An input whose expression is checked as the designer types; the verdict shows under it. */
  Designer.prototype.expressionInput = function (options) {
    var self = this;
    var id = options.id;
    var input = el("input", {
      class: "form-control form-control-sm font-monospace fd-expr", type: "text", id: id, value: options.value || "",
      spellcheck: "false", autocomplete: "off", placeholder: options.placeholder || "",
    });
    var feedback = el("div", { class: "fd-expr-feedback small", id: id + "-feedback", "aria-live": "polite" });
    var timer = null;
    var seq = 0;
    function check() {
      var source = input.value.trim();
      if (!source) { feedback.replaceChildren(); input.classList.remove("is-invalid", "is-valid"); return; }
      var mine = ++seq;
      feedback.replaceChildren(el("span", { class: "text-body-secondary", text: self.t("expr_checking") }));
      postJSON(self.state.urls.check, { expression: source, names: options.names() }).then(function (r) { return r.json(); })
        .then(function (result) {
          if (mine !== seq) return;
          var problems = result.problems || [];
          input.classList.toggle("is-invalid", problems.length > 0);
          input.classList.toggle("is-valid", problems.length === 0);
          feedback.replaceChildren(problems.length
            ? el("div", { class: "text-danger fd-expr-error" }, [el("i", { class: "bi bi-exclamation-circle me-1" }), problems.join("；")])
            : el("div", { class: "text-success fd-expr-ok" }, [el("i", { class: "bi bi-check-circle me-1" }), self.t("expr_ok")]));
        }).catch(function () { /* offline: the save reports problems anyway */ });
    }
    input.addEventListener("input", function () {
      options.onInput(input.value.trim());
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 250);
    });
    input.addEventListener("change", function () { self.endBurst(); });
    var picker = null;
    if (options.fields) {
      picker = el("select", { class: "form-select form-select-sm fd-insert", "aria-label": self.t("insert_field") }, [
        el("option", { value: "", text: self.t("insert_field") + "…" }),
      ].concat(options.fields().map(function (f) { return el("option", { value: f.name, text: f.label + " (" + f.name + ")" }); })));
      picker.addEventListener("change", function () {
        if (!picker.value) return;
        var start = input.selectionStart === null ? input.value.length : input.selectionStart;
        input.value = input.value.slice(0, start) + picker.value + input.value.slice(input.selectionEnd || start);
        picker.value = "";
        input.dispatchEvent(new Event("input"));
        input.focus();
      });
    }
    if (input.value) window.setTimeout(check, 0);
    return el("div", { class: "fd-expr-wrap" }, [
      el("div", { class: "d-flex gap-1" }, [input, picker]),
      feedback,
    ]);
  };

  /* Small property-panel controls every designer uses; each edit goes through D.change (undo). */
  function widgets(D) {
    var t = D.t.bind(D);
    function setKey(obj, key, value) {
      if (value === undefined || value === "" || value === null || value === false) delete obj[key]; else obj[key] = value;
    }
    function setLabel(obj, key, lang, value) {
      var label = obj[key];
      if (typeof label === "string") label = { zh: label };
      label = Object.assign({}, label || {});
      if (value) label[lang] = value; else delete label[lang];
      if (Object.keys(label).length) obj[key] = label; else delete obj[key];
    }
    function labelOf(obj, key, lang) {
      var label = obj[key];
      if (!label) return "";
      if (typeof label === "string") return lang === "zh" ? label : "";
      return label[lang] || "";
    }
    function group(title, children, cls) {
      return el("div", { class: "fd-group " + (cls || "") }, [title ? el("div", { class: "fd-group-title", text: title }) : null].concat(children));
    }
    function row(labelText, control, help) {
      return el("div", { class: "mb-2" }, [
        el("label", { class: "form-label small mb-1", for: control.id || null, text: labelText }), control,
        help ? el("div", { class: "form-text", text: help }) : null,
      ]);
    }
    function textInput(id, value, onInput, attrs) {
      var input = el("input", Object.assign({ class: "form-control form-control-sm", type: "text", id: id, value: value || "" }, attrs || {}));
      input.addEventListener("input", function () { onInput(input.value, input); });
      input.addEventListener("change", function () { D.endBurst(); });
      return input;
    }
    function numberInput(id, value, onValue, attrs) {
      var input = el("input", Object.assign({ class: "form-control form-control-sm", type: "number", id: id, value: value === undefined ? "" : value }, attrs || {}));
      input.addEventListener("input", function () {
        var raw = input.value.trim();
        var num = raw === "" ? undefined : Number(raw);
        if (raw !== "" && !isFinite(num)) return;
        onValue(num);
      });
      input.addEventListener("change", function () { D.endBurst(); });
      return input;
    }
    /* zh + en inputs of one label; typing edits the document without rebuilding the panel (focus stays). */
    function labelPair(get, key, idBase, required) {
      return el("div", { class: "row g-2 mb-2" }, ["zh", "en"].map(function (lang) {
        var input = textInput(idBase + "-" + lang, labelOf(get(), key, lang), function (value) {
          D.change(function () { setLabel(get(), key, lang, value.trim()); }, idBase + lang, { keepProps: true });
        });
        return el("div", { class: "col-6" }, [
          el("label", { class: "form-label small mb-1", for: idBase + "-" + lang, text: t("label_" + lang) + (required && lang === "zh" ? " *" : "") }), input,
        ]);
      }));
    }
    function switchRow(id, text, checked, onChange, help) {
      var input = el("input", { class: "form-check-input", type: "checkbox", role: "switch", id: id, checked: !!checked });
      input.addEventListener("change", function () { onChange(input.checked); });
      return el("div", { class: "form-check form-switch mb-1" }, [
        input, el("label", { class: "form-check-label small", for: id, text: text }),
        help ? el("div", { class: "form-text mt-0", text: help }) : null,
      ]);
    }
    function select(id, options, current, onChange) {
      var box = el("select", { class: "form-select form-select-sm", id: id }, options.map(function (o) {
        return el("option", { value: o.value, selected: o.value === current, text: o.label });
      }));
      box.addEventListener("change", function () { onChange(box.value); });
      return box;
    }
    return { setKey: setKey, setLabel: setLabel, labelOf: labelOf, group: group, row: row, textInput: textInput,
      numberInput: numberInput, labelPair: labelPair, switchRow: switchRow, select: select };
  }

  window.TesseraDesigner = { Designer: Designer, el: el, clone: clone, postJSON: postJSON, readState: readState, widgets: widgets };
})();
