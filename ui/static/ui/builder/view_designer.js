/* The view designer: list columns (drag to order, drag in from the field list), default filters and sort,
 * board grouping field, calendar date field, page size, quick filters, search fields and the form used.
 *
 * Filter operators offered for a field are its type's run-time operators (palette filter_ops), so
 * a saved view never carries a filter the runtime would refuse. */
(function () {
  "use strict";
  var TD = window.TesseraDesigner;
  if (!TD || !document.getElementById("view-designer")) return;
  var el = TD.el;
  var state = TD.readState();
  var doc = { view: TD.clone(state.view) };
  var kinds = {};
  state.palette.forEach(function (g) { g.items.forEach(function (k) { kinds[k.type] = k; }); });
  var D = new TD.Designer({ doc: doc, render: render, payload: payload });
  var W = TD.widgets(D);
  var t = D.t.bind(D);
  var L = D.label.bind(D);
  var SYSTEM = ["id", "created_at", "updated_at", "created_by", "updated_by", "owner_id", "department_id"];
  var SYSTEM_TYPES = { id: "integer", created_at: "datetime", updated_at: "datetime", created_by: "user", updated_by: "user", owner_id: "user", department_id: "department" };

  function view() { return doc.view; }
  function entityFields() { return state.entity.fields || []; }
  function fieldInfo(name) {
    var f = entityFields().find(function (x) { return x.name === name; });
    if (f) return { name: name, type: f.type === "computed" ? (f.result_type || "text") : f.type, rawType: f.type, label: L(f.label, name), field: f };
    if (SYSTEM.indexOf(name) >= 0) return { name: name, type: SYSTEM_TYPES[name], rawType: SYSTEM_TYPES[name], label: t("system." + name), system: true };
    return { name: name, type: "text", rawType: "text", label: name };
  }
  function candidates() {
    return entityFields().filter(function (f) { return f.type !== "child_table"; }).map(function (f) { return f.name; }).concat(SYSTEM);
  }
  function kindOf(info) { return kinds[info.rawType] || kinds[info.type] || { icon: "bi-dot", filter_ops: ["eq"], sortable: true }; }
  function opsFor(name) {
    var info = fieldInfo(name);
    if (info.system) return ["eq", "ne", "in", "lt", "lte", "gt", "gte", "between", "empty"];
    var ops = kindOf(info).filter_ops;
    if (info.field && info.field.sensitive) ops = ops.filter(function (o) { return ["eq", "ne", "in", "empty"].indexOf(o) >= 0; });
    return ops;
  }

  /* ---- columns ---------------------------------------------------------------------------- */
  function chip(name, removable) {
    var info = fieldInfo(name);
    return el("div", { class: "vd-chip", "data-name": name, id: (removable ? "vd-col-" : "vd-av-") + name }, [
      el("i", { class: "bi " + kindOf(info).icon + " text-primary" }), el("span", { text: info.label }),
      removable ? el("button", { type: "button", class: "btn btn-sm", title: t("remove"), "aria-label": t("remove"), onclick: function () {
        D.change(function () { view().columns = view().columns.filter(function (n) { return n !== name; }); });
      } }, [el("i", { class: "bi bi-x-lg" })]) : el("button", { type: "button", class: "btn btn-sm", title: t("add_field"), "aria-label": t("add_field"), onclick: function () {
        D.change(function () { (view().columns = view().columns || []).push(name); });
      } }, [el("i", { class: "bi bi-plus-lg" })]),
    ]);
  }
  function renderColumns() {
    var box = document.getElementById("vd-columns");
    var shown = view().columns || [];
    var rest = candidates().filter(function (n) { return shown.indexOf(n) < 0; });
    var shownList = el("div", { class: "vd-list", id: "vd-shown" }, shown.map(function (n) { return chip(n, true); }));
    var restList = el("div", { class: "vd-list", id: "vd-available" }, rest.map(function (n) { return chip(n, false); }));
    box.replaceChildren(el("div", { class: "vd-columns" }, [
      el("div", {}, [el("div", { class: "fd-group-title", text: t("shown_columns") }), shownList]),
      el("div", {}, [el("div", { class: "fd-group-title", text: t("available_columns") }), restList]),
    ]));
    var sync = function (evt) {
      if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
      var order = Array.prototype.map.call(shownList.children, function (c) { return c.dataset.name; });
      window.setTimeout(function () { D.change(function () { view().columns = order; }); }, 0);
    };
    window.Sortable.create(shownList, { group: "columns", animation: 150, forceFallback: true, fallbackTolerance: 4, filter: ".btn", preventOnFilter: false, onEnd: sync });
    window.Sortable.create(restList, { group: "columns", sort: false, animation: 150, forceFallback: true, fallbackTolerance: 4, filter: ".btn", preventOnFilter: false, onEnd: sync });
  }

  /* ---- filters and sort ------------------------------------------------------------------- */
  function valueText(value) { return Array.isArray(value) ? value.join(", ") : value === undefined || value === null ? "" : String(value); }
  function typedValue(name, op, text) {
    var info = fieldInfo(name);
    var numeric = ["integer", "decimal", "money", "percent", "rating", "nps", "reference", "user", "department"].indexOf(info.type) >= 0;
    var one = function (s) { s = s.trim(); if (numeric && s !== "" && isFinite(Number(s))) return Number(s); if (info.type === "boolean") return s === "true"; return s; };
    if (op === "in" || op === "between") return text.replace(/，/g, ",").split(",").map(one).filter(function (v) { return v !== ""; });
    return one(text);
  }
  function filterRow(flt, i) {
    var options = candidates().map(function (n) { return { value: n, label: fieldInfo(n).label }; });
    var fieldSel = W.select("vd-filter-field-" + i, options, flt.field, function (v) {
      D.change(function () { var f = view().filters[i]; f.field = v; if (opsFor(v).indexOf(f.op) < 0) f.op = opsFor(v)[0]; if (f.op === "empty") f.value = true; else delete f.value; });
    });
    var opSel = W.select("vd-filter-op-" + i, opsFor(flt.field).map(function (o) { return { value: o, label: t("op." + o) }; }), flt.op, function (v) {
      D.change(function () { var f = view().filters[i]; f.op = v; if (v === "empty") f.value = true; else if (f.value === true || f.value === false) delete f.value; });
    });
    var value;
    var info = fieldInfo(flt.field);
    if (flt.op === "empty") {
      value = W.select("vd-filter-value-" + i, [{ value: "true", label: t("yes") }, { value: "false", label: t("no") }], String(flt.value !== false), function (v) {
        D.change(function () { view().filters[i].value = v === "true"; });
      });
    } else if (info.type === "select" && flt.op !== "in" && state.optionSets[info.field.option_set]) {
      var opts = state.optionSets[info.field.option_set].options.map(function (o) { return { value: o.value, label: L(o.label, o.value) }; });
      value = W.select("vd-filter-value-" + i, [{ value: "", label: t("none") }].concat(opts), flt.value || "", function (v) {
        D.change(function () { W.setKey(view().filters[i], "value", v); });
      });
    } else if (info.type === "boolean") {
      value = W.select("vd-filter-value-" + i, [{ value: "true", label: t("yes") }, { value: "false", label: t("no") }], String(flt.value === true), function (v) {
        D.change(function () { view().filters[i].value = v === "true"; });
      });
    } else {
      value = W.textInput("vd-filter-value-" + i, valueText(flt.value), function (v) {
        D.change(function () { W.setKey(view().filters[i], "value", typedValue(flt.field, view().filters[i].op, v)); }, "fv" + i, { keepProps: true });
      }, { placeholder: t("value"), "aria-label": t("value") });
    }
    return el("div", { class: "vd-rule", "data-index": i }, [fieldSel, opSel, value, el("button", {
      type: "button", class: "btn btn-sm btn-link text-danger px-1", title: t("remove"), "aria-label": t("remove"), id: "vd-filter-remove-" + i,
      onclick: function () { D.change(function () { view().filters.splice(i, 1); if (!view().filters.length) delete view().filters; }); },
    }, [el("i", { class: "bi bi-x-lg" })])]);
  }
  function sortRow(s, i) {
    var options = candidates().filter(function (n) { var info = fieldInfo(n); return info.system || kindOf(info).sortable; })
      .map(function (n) { return { value: n, label: fieldInfo(n).label }; });
    return el("div", { class: "vd-rule", "data-index": i }, [
      W.select("vd-sort-field-" + i, options, s.field, function (v) { D.change(function () { view().sort[i].field = v; }); }),
      W.select("vd-sort-dir-" + i, [{ value: "asc", label: t("asc") }, { value: "desc", label: t("desc") }], s.desc ? "desc" : "asc", function (v) {
        D.change(function () { W.setKey(view().sort[i], "desc", v === "desc"); });
      }),
      el("span"),
      el("button", { type: "button", class: "btn btn-sm btn-link text-danger px-1", title: t("remove"), "aria-label": t("remove"),
        onclick: function () { D.change(function () { view().sort.splice(i, 1); if (!view().sort.length) delete view().sort; }); } },
      [el("i", { class: "bi bi-x-lg" })]),
    ]);
  }
  function renderFilters(options) {
    var box = document.getElementById("vd-filters");
    if (options.keepProps && box.contains(document.activeElement)) return;
    var filters = view().filters || [];
    var sort = view().sort || [];
    box.replaceChildren(
      W.group(t("filters"), filters.map(filterRow).concat([el("button", { type: "button", class: "btn btn-sm btn-outline-primary", id: "vd-add-filter", onclick: function () {
        var first = candidates()[0];
        D.change(function () { (view().filters = view().filters || []).push({ field: first, op: opsFor(first)[0] }); });
      } }, [el("i", { class: "bi bi-plus-lg" }), t("add_filter")])])),
      W.group(t("sort"), sort.map(sortRow).concat([el("button", { type: "button", class: "btn btn-sm btn-outline-primary", id: "vd-add-sort", onclick: function () {
        D.change(function () { (view().sort = view().sort || []).push({ field: "updated_at", desc: true }); });
      } }, [el("i", { class: "bi bi-plus-lg" }), t("add_sort")])]))
    );
  }

  /* ---- settings ----------------------------------------------------------------------------- */
  function checkList(id, names, key) {
    var chosen = view()[key] || [];
    return el("div", { class: "d-flex flex-wrap gap-2", id: id }, names.map(function (n) {
      var box = el("input", { class: "form-check-input", type: "checkbox", id: id + "-" + n, checked: chosen.indexOf(n) >= 0 });
      box.addEventListener("change", function () {
        D.change(function () {
          var list = (view()[key] || []).filter(function (x) { return x !== n; });
          if (box.checked) list.push(n);
          W.setKey(view(), key, list.length ? list : undefined);
        });
      });
      return el("div", { class: "form-check form-check-inline m-0" }, [box, el("label", { class: "form-check-label small", for: id + "-" + n, text: fieldInfo(n).label })]);
    }));
  }
  function renderSettings(options) {
    var box = document.getElementById("vd-settings");
    if (options.keepProps && box.contains(document.activeElement)) return;
    var v = view();
    var typeButtons = el("div", { class: "btn-group btn-group-sm w-100", role: "group" }, ["list", "kanban", "calendar"].map(function (type) {
      return el("button", { type: "button", class: "btn " + (v.type === type ? "btn-primary" : "btn-outline-secondary"), id: "vd-type-" + type, onclick: function () {
        D.change(function () {
          view().type = type;
          if (type === "kanban" && !view().group_by) { var s = entityFields().find(function (f) { return f.type === "select"; }); if (s) view().group_by = s.name; }
          if (type === "calendar" && !view().date_field) { var d = entityFields().find(function (f) { return f.type === "date" || f.type === "datetime"; }); if (d) view().date_field = d.name; }
        });
      } }, [t("type." + type)]);
    }));
    var parts = [
      W.group(t("view_label"), [W.labelPair(view, "label", "vd-label")]),
      W.group(t("view_type"), [typeButtons]),
    ];
    var selects = entityFields().filter(function (f) { return f.type === "select"; }).map(function (f) { return { value: f.name, label: L(f.label, f.name) }; });
    var dates = entityFields().filter(function (f) { return f.type === "date" || f.type === "datetime"; }).map(function (f) { return { value: f.name, label: L(f.label, f.name) }; });
    if (v.type === "kanban" || v.group_by) {
      parts.push(W.group(t("group_by"), [W.select("vd-group-by", [{ value: "", label: t("none") }].concat(selects), v.group_by || "", function (x) { D.change(function () { W.setKey(view(), "group_by", x); }); })]));
    }
    if (v.type === "calendar" || v.date_field) {
      parts.push(W.group(t("date_field"), [W.select("vd-date-field", [{ value: "", label: t("none") }].concat(dates), v.date_field || "", function (x) { D.change(function () { W.setKey(view(), "date_field", x); }); })]));
    }
    parts.push(W.group(t("page_size"), [W.numberInput("vd-page-size", v.page_size, function (n) { D.change(function () { W.setKey(view(), "page_size", n); }, "ps", { keepProps: true }); }, { min: 5, max: 200 })]));
    parts.push(W.group(t("view_form"), [W.select("vd-form", [{ value: "", label: t("default_form") }].concat(state.forms), v.form || "", function (x) { D.change(function () { W.setKey(view(), "form", x); }); })]));
    var filterable = entityFields().filter(function (f) { return ["select", "boolean", "user", "department", "reference"].indexOf(f.type) >= 0; }).map(function (f) { return f.name; });
    var searchable = entityFields().filter(function (f) { return ["text", "long_text", "phone", "email", "autonumber"].indexOf(f.type) >= 0; }).map(function (f) { return f.name; });
    if (filterable.length) parts.push(W.group(t("quick_filters"), [checkList("vd-quick", filterable, "quick_filters")]));
    if (searchable.length) parts.push(W.group(t("search_fields"), [checkList("vd-search", searchable, "search_fields")]));
    box.replaceChildren.apply(box, parts);
  }

  function payload() {
    var v = TD.clone(view());
    if (!v.columns || !v.columns.length) delete v.columns;
    return { view: v };
  }
  function render(options) {
    options = options || {};
    renderColumns();
    renderFilters(options);
    renderSettings(options);
  }
  render({});
  if (state.isNew) D.saved = "";
  D.changed();
})();
