/* The entity designer: the fields of one entity (drag to order), their types and constraints, references,
 * child tables with their columns, auto-number patterns and computed fields (formula checked as you type).
 *
 * Published fields keep their id and type (changing them would strand stored data); new ones may
 * still be renamed or retyped until the draft is published. */
(function () {
  "use strict";
  var TD = window.TesseraDesigner;
  if (!TD || !document.getElementById("entity-designer")) return;
  var el = TD.el;
  var state = TD.readState();
  var doc = { entity: TD.clone(state.entity), optionSets: {} };
  var sel = null; /* {name} or {name, child} */
  var kinds = {};
  state.palette.forEach(function (g) { g.items.forEach(function (k) { kinds[k.type] = k; }); });
  var D = new TD.Designer({ doc: doc, render: render, payload: payload });
  var W = TD.widgets(D);
  var t = D.t.bind(D);
  var L = D.label.bind(D);
  D.onProblemClick = function (name) { if (top(name)) { sel = { name: name }; render({}); } };
  var UNINDEXABLE = ["child_table", "long_text", "json", "multiselect", "tags", "file", "image", "region"];

  function fields() { return doc.entity.fields; }
  function top(name) { return fields().find(function (f) { return f.name === name; }); }
  function selected() {
    if (!sel) return null;
    var f = top(sel.name);
    if (!f || !sel.child) return f || null;
    return (f.fields || []).find(function (c) { return c.name === sel.child; }) || null;
  }
  function isNew(name, child) {
    if (!child) return state.deployedFields.indexOf(name) < 0;
    return (state.deployedChildren[name] || []).indexOf(child) < 0;
  }
  function names(list) { return list.map(function (f) { return f.name; }); }
  function optionSets() { return Object.assign({}, state.optionSets, doc.optionSets); }

  function makeField(list, type) {
    var kind = kinds[type];
    var taken = names(list).concat(state.systemFields);
    var n = 1;
    while (taken.indexOf(type + "_" + n) >= 0) n += 1;
    var f = { name: type + "_" + n, type: type, label: { zh: kind.zh + " " + n, en: kind.en + " " + n } };
    applyType(f, type);
    return f;
  }
  function applyType(f, type) {
    ["option_set", "entity", "fields", "expression", "result_type", "format", "min", "max", "decimals", "scale",
      "min_length", "max_length", "pattern", "pattern_message", "max_files", "default", "unique", "indexed"]
      .forEach(function (k) { delete f[k]; });
    f.type = type;
    if (type === "select" || type === "multiselect") f.option_set = newOptionSet(f.name, f.label);
    else if (type === "reference") {
      var other = state.entities.find(function (e) { return e.id !== doc.entity.id; }) || state.entities[0];
      f.entity = other ? other.id : doc.entity.id;
    } else if (type === "child_table") f.fields = [{ name: "item", type: "text", label: { zh: "项目", en: "Item" } }];
    else if (type === "computed") { f.expression = "0"; f.result_type = "decimal"; }
    else if (type === "autonumber") f.format = "{yyyy}{mm}{dd}-{seq:4}";
  }
  function newOptionSet(fieldName, label) {
    var taken = Object.keys(optionSets());
    var base = (doc.entity.id + "_" + fieldName).slice(0, 36);
    var id = base;
    var n = 2;
    while (taken.indexOf(id) >= 0) { id = base + "_" + n; n += 1; }
    doc.optionSets[id] = { id: id, label: TD.clone(label), options: [1, 2].map(function (i) {
      return { value: "opt" + i, label: { zh: "选项 " + i, en: "Option " + i } };
    }) };
    return id;
  }

  /* ---- the add-field menu --------------------------------------------------------------- */
  function renderAddMenu() {
    var menu = document.getElementById("ed-add-menu");
    var items = [];
    state.palette.forEach(function (g) {
      items.push(el("h6", { class: "dropdown-header", text: g.label }));
      g.items.forEach(function (k) {
        items.push(el("button", { type: "button", class: "dropdown-item", id: "ed-add-" + k.type, onclick: function () {
          D.change(function () { var f = makeField(fields(), k.type); fields().push(f); sel = { name: f.name }; });
        } }, [el("i", { class: "bi " + k.icon + " me-2" }), k.label]));
      });
    });
    menu.replaceChildren.apply(menu, items);
  }

  /* ---- settings ----------------------------------------------------------------------------- */
  function renderSettings() {
    var box = document.getElementById("ed-settings");
    var titleOptions = [{ value: "", label: t("none") }].concat(fields().filter(function (f) {
      return ["child_table", "json", "file", "image"].indexOf(f.type) < 0;
    }).map(function (f) { return { value: f.name, label: L(f.label, f.name) }; }));
    box.replaceChildren(
      el("div", { class: "row g-3" }, [
        el("div", { class: "col-md-7" }, [W.group(t("entity_label"), [W.labelPair(function () { return doc.entity; }, "label", "ed-label", true)])]),
        el("div", { class: "col-md-5" }, [W.group(t("title_field"), [W.select("ed-title-field", titleOptions, doc.entity.title_field || "", function (v) {
          D.change(function () { W.setKey(doc.entity, "title_field", v); });
        })])]),
      ])
    );
  }

  /* ---- field list ------------------------------------------------------------------------- */
  function flagBadges(f) {
    var out = [];
    var add = function (text, cls) { out.push(el("span", { class: "badge " + (cls || "text-bg-light border"), text: text })); };
    if (f.required) add(t("required"), "text-bg-danger-subtle text-danger-emphasis border border-danger-subtle");
    if (f.unique) add(t("unique"));
    if (f.indexed) add(t("indexed").split("（")[0].split(" (")[0]);
    if (f.sensitive) add(t("sensitive").split("（")[0].split(" (")[0]);
    if (f.type === "reference") {
      var target = state.entities.find(function (e) { return e.id === f.entity; });
      add("→ " + (target ? target.label : f.entity), "text-bg-primary-subtle text-primary-emphasis");
    }
    if (f.type === "autonumber") add(f.format, "text-bg-light border font-monospace");
    if (f.type === "computed") add("= " + f.expression, "text-bg-light border font-monospace");
    return out;
  }
  function fieldRow(f, parent) {
    var k = kinds[f.type] || { icon: "bi-question", label: f.type };
    var isSel = sel && (parent ? sel.name === parent.name && sel.child === f.name : sel.name === f.name && !sel.child);
    var fresh = parent ? isNew(parent.name, f.name) : isNew(f.name);
    var row = el("div", {
      class: "ed-row" + (isSel ? " selected" : ""), "data-field": f.name, id: parent ? "ed-c-" + parent.name + "-" + f.name : "ed-f-" + f.name,
      tabindex: "0", role: "button",
    }, [
      el("span", { class: "ed-grip" }, [el("i", { class: "bi bi-grip-vertical" })]),
      el("span", { class: "ed-name" }, [
        el("i", { class: "bi " + k.icon + " text-primary me-2" }), L(f.label, f.name),
        el("code", { class: "ms-2 small text-body-secondary", text: f.name }),
        fresh ? el("span", { class: "badge rounded-pill fd-new ms-1", text: t("new_badge") }) : null,
      ]),
      el("span", { class: "ed-type", text: k.label }),
      el("span", { class: "ed-flags" }, flagBadges(f)),
    ]);
    row.addEventListener("click", function (evt) {
      evt.stopPropagation();
      sel = parent ? { name: parent.name, child: f.name } : { name: f.name };
      render({});
    });
    return row;
  }
  function renderFields() {
    var box = document.getElementById("ed-fields");
    var rows = [];
    fields().forEach(function (f) {
      var wrap = el("div", { class: "ed-item", "data-field": f.name }, [fieldRow(f)]);
      if (f.type === "child_table") {
        var kids = el("div", { class: "ed-children", "data-parent": f.name }, (f.fields || []).map(function (c) { return fieldRow(c, f); }));
        kids.appendChild(el("button", { type: "button", class: "btn btn-sm btn-outline-primary ed-add-col", id: "ed-add-col-" + f.name, onclick: function () {
          D.change(function () { var c = makeField(top(f.name).fields, "text"); top(f.name).fields.push(c); sel = { name: f.name, child: c.name }; });
        } }, [el("i", { class: "bi bi-plus-lg" }), t("add_column")]));
        wrap.appendChild(kids);
        window.Sortable.create(kids, { handle: ".ed-grip", draggable: ".ed-row", animation: 150, forceFallback: true, onEnd: function (evt) {
          move(evt, function () { return top(f.name).fields; });
        } });
      }
      rows.push(wrap);
    });
    box.replaceChildren.apply(box, rows);
    var previous = window.Sortable.get(box);
    if (previous) previous.destroy(); /* the list element stays; one Sortable per element */
    window.Sortable.create(box, { handle: ".ed-row > .ed-grip", draggable: ".ed-item", animation: 150, forceFallback: true, onEnd: function (evt) {
      move(evt, fields);
    } });
  }
  function move(evt, list) {
    if (evt.oldIndex === evt.newIndex) return;
    window.setTimeout(function () {
      D.change(function () { var l = list(); l.splice(evt.newIndex, 0, l.splice(evt.oldIndex, 1)[0]); });
    }, 0);
  }

  /* ---- references ------------------------------------------------------------------------- */
  function renderLinks() {
    var box = document.getElementById("ed-links");
    var outgoing = fields().filter(function (f) { return f.type === "reference"; });
    var parts = [];
    parts.push(outgoing.length ? el("ul", { class: "mb-2 small" }, outgoing.map(function (f) {
      var target = state.entities.find(function (e) { return e.id === f.entity; });
      return el("li", {}, [L(f.label, f.name) + " → ", el("strong", { text: target ? target.label : f.entity })]);
    })) : el("p", { class: "small text-body-secondary mb-2", text: t("no_references") }));
    state.links.incoming.forEach(function (i) {
      parts.push(el("div", { class: "small" }, [el("a", { href: i.href, text: i.label }), " · " + i.field + " → " + L(doc.entity.label)]));
    });
    var forms = el("div", { class: "d-flex flex-wrap gap-2 mt-2" }, state.links.forms.map(function (f) {
      return el("a", { class: "btn btn-sm btn-outline-secondary", href: f.href }, [el("i", { class: "bi bi-ui-checks" }), f.label]);
    }).concat([el("a", { class: "btn btn-sm btn-outline-primary", href: state.urls.newForm, id: "ed-new-form" }, [el("i", { class: "bi bi-plus-lg" }), t("new_form") || "+"])]));
    var views = el("div", { class: "d-flex flex-wrap gap-2 mt-2" }, state.links.views.map(function (v) {
      return el("a", { class: "btn btn-sm btn-outline-secondary", href: v.href }, [el("i", { class: "bi bi-table" }), v.label]);
    }).concat([el("a", { class: "btn btn-sm btn-outline-primary", href: state.urls.newView, id: "ed-new-view" }, [el("i", { class: "bi bi-plus-lg" }), t("new_view") || "+"])]));
    parts.push(el("div", { class: "fd-group-title mt-3 mb-0", text: t("forms") }), forms, el("div", { class: "fd-group-title mt-3 mb-0", text: t("views") }), views);
    box.replaceChildren.apply(box, parts);
  }

  /* ---- properties --------------------------------------------------------------------------- */
  function renderProps(options) {
    if (options.keepProps) return;
    var box = document.getElementById("fd-props");
    var f = selected();
    document.getElementById("fd-props-title").textContent = f ? t("field_props") : t("properties");
    if (!f) { box.replaceChildren(el("p", { class: "small text-body-secondary mb-0", text: t("select_hint_entity") })); return; }
    box.replaceChildren.apply(box, fieldProps(f));
  }

  function fieldProps(f) {
    var path = { name: sel.name, child: sel.child };
    var get = function () {
      var p = top(path.name);
      return path.child ? p.fields.find(function (c) { return c.name === path.child; }) : p;
    };
    var change = function (mutate, burst) {
      D.change(function () { mutate(get()); }, burst ? "ep-" + path.name + (path.child || "") + burst : null, burst ? { keepProps: true } : {});
    };
    var fresh = isNew(path.name, path.child);
    var k = kinds[f.type] || { icon: "bi-question", label: f.type };
    var parts = [el("div", { class: "fd-prop-head" }, [
      el("i", { class: "bi " + k.icon }), el("span", { class: "fw-semibold", text: k.label }),
      fresh ? el("span", { class: "badge rounded-pill fd-new", text: t("new_badge") }) : null,
      el("code", { class: "ms-auto small", text: f.name }),
    ])];
    parts.push(W.group(t("label"), [W.labelPair(get, "label", "ep-label", true)]));
    if (fresh) {
      var error = el("div", { class: "invalid-feedback", id: "ep-name-error" });
      var nameInput = W.textInput("ep-name", f.name, function () {}, { class: "form-control form-control-sm font-monospace", spellcheck: "false" });
      nameInput.addEventListener("change", function () {
        var wanted = nameInput.value.trim();
        if (wanted === path.child || (!path.child && wanted === path.name)) return;
        var siblings = path.child ? names(top(path.name).fields) : names(fields());
        var problem = !D.isIdent(wanted) ? t("name_invalid") : (siblings.indexOf(wanted) >= 0 || state.systemFields.indexOf(wanted) >= 0) ? t("name_taken") : "";
        nameInput.classList.toggle("is-invalid", !!problem);
        error.textContent = problem;
        if (problem) return;
        D.change(function () {
          get().name = wanted;
          if (!path.child && doc.entity.title_field === path.name) doc.entity.title_field = wanted;
          sel = path.child ? { name: path.name, child: wanted } : { name: wanted };
        });
      });
      var types = state.palette.reduce(function (acc, g) { return acc.concat(g.items); }, []).filter(function (kk) {
        return !path.child || state.rowTypes.indexOf(kk.type) >= 0;
      }).map(function (kk) { return { value: kk.type, label: kk.label }; });
      parts.push(W.group(null, [
        el("div", { class: "mb-2" }, [el("label", { class: "form-label small mb-1", for: "ep-name", text: t("name") }), nameInput, error,
          el("div", { class: "form-text", text: t("name_help") })]),
        W.row(t("type"), W.select("ep-type", types, f.type, function (v) { change(function (x) { applyType(x, v); }); })),
      ]));
    } else {
      parts.push(el("div", { class: "small text-body-secondary mb-2 fd-note" }, [el("i", { class: "bi bi-lock me-1" }), t("name_locked") + "；" + t("type_locked")]));
    }
    var flags = [
      W.switchRow("ep-required", t("required"), f.required, function (on) { change(function (x) { W.setKey(x, "required", on); }); }, t("required_help")),
      W.switchRow("ep-read-only", t("read_only"), f.read_only, function (on) { change(function (x) { W.setKey(x, "read_only", on); }); }),
      W.switchRow("ep-sensitive", t("sensitive"), f.sensitive, function (on) { change(function (x) { W.setKey(x, "sensitive", on); }); }),
    ];
    if (!path.child && UNINDEXABLE.indexOf(f.type) < 0) {
      flags.push(W.switchRow("ep-indexed", t("indexed"), f.indexed, function (on) { change(function (x) { W.setKey(x, "indexed", on); }); }));
      if (f.type !== "computed") flags.push(W.switchRow("ep-unique", t("unique"), f.unique, function (on) { change(function (x) { W.setKey(x, "unique", on); }); }));
    }
    parts.push(W.group(t("flags"), flags));
    parts.push.apply(parts, typeProps(f, change, path));
    parts.push(W.group(t("help"), [W.labelPair(get, "help", "ep-help")]));
    parts.push(el("button", { type: "button", class: "btn btn-sm btn-outline-danger mt-1", id: "ep-remove", onclick: function () {
      if (!window.confirm(t("remove_field_confirm", { name: L(f.label, f.name) }))) return;
      D.change(function () {
        if (path.child) {
          var p = top(path.name);
          if (p.fields.length > 1) p.fields = p.fields.filter(function (c) { return c.name !== path.child; });
        } else {
          doc.entity.fields = fields().filter(function (x) { return x.name !== path.name; });
          if (doc.entity.title_field === path.name) delete doc.entity.title_field;
        }
        sel = null;
      });
    } }, [el("i", { class: "bi bi-trash" }), t("remove_field")]));
    return parts;
  }

  function scope(path) {
    var own = names(fields());
    if (path.child) own = own.concat(names(top(path.name).fields));
    return own;
  }

  function typeProps(f, change, path) {
    var out = [];
    var type = f.type;
    if (type === "text" || type === "long_text") {
      out.push(W.group(null, [el("div", { class: "row g-2" }, [
        el("div", { class: "col-6" }, [W.row(t("min_length"), W.numberInput("ep-min-length", f.min_length, function (v) { change(function (x) { W.setKey(x, "min_length", v); }, "minl"); }, { min: 0 }))]),
        el("div", { class: "col-6" }, [W.row(t("max_length"), W.numberInput("ep-max-length", f.max_length, function (v) { change(function (x) { W.setKey(x, "max_length", v); }, "maxl"); }, { min: 1 }))]),
      ])]));
      out.push(W.group(t("pattern"), [W.textInput("ep-pattern", f.pattern, function (v, input) {
        var ok = true;
        try { if (v) new RegExp(v); } catch (e) { ok = false; }
        input.classList.toggle("is-invalid", !ok);
        change(function (x) { W.setKey(x, "pattern", v); }, "pattern");
      }, { class: "form-control form-control-sm font-monospace", spellcheck: "false" })]));
    }
    if (["integer", "decimal", "money", "percent"].indexOf(type) >= 0) {
      out.push(W.group(null, [el("div", { class: "row g-2" }, [
        el("div", { class: "col-6" }, [W.row(t("min"), W.numberInput("ep-min", f.min, function (v) { change(function (x) { W.setKey(x, "min", v); }, "min"); }))]),
        el("div", { class: "col-6" }, [W.row(t("max"), W.numberInput("ep-max", f.max, function (v) { change(function (x) { W.setKey(x, "max", v); }, "max"); }))]),
      ])]));
    }
    if (type === "select" || type === "multiselect") {
      var sets = optionSets();
      var choices = Object.keys(sets).sort().map(function (id) { return { value: id, label: L(sets[id].label, id) }; });
      out.push(W.group(t("option_set"), [
        el("div", { class: "d-flex gap-1" }, [
          W.select("ep-option-set", choices, f.option_set, function (v) { change(function (x) { x.option_set = v; }); }),
          el("button", { type: "button", class: "btn btn-sm btn-outline-secondary text-nowrap", id: "ep-new-set", onclick: function () {
            change(function (x) { x.option_set = newOptionSet(x.name, x.label); });
          } }, [el("i", { class: "bi bi-plus-lg" }), t("new_option_set")]),
        ]),
        el("ul", { class: "small ps-3 mt-2 mb-0" }, ((sets[f.option_set] || {}).options || []).map(function (o) { return el("li", { text: L(o.label, o.value) }); })),
      ]));
    }
    if (type === "reference") {
      out.push(W.group(t("reference_to"), [W.select("ep-entity", state.entities.map(function (e) { return { value: e.id, label: e.label }; }), f.entity, function (v) {
        change(function (x) { x.entity = v; });
      })]));
    }
    if (type === "computed") {
      out.push(W.group(t("computed_expression"), [D.expressionInput({
        id: "ep-expression", value: f.expression,
        names: function () { return scope(path).filter(function (n) { return n !== f.name; }); },
        fields: function () { return fields().map(function (x) { return { name: x.name, label: L(x.label, x.name) }; }); },
        onInput: function (v) { change(function (x) { x.expression = v || "0"; }, "expr"); },
      })]));
      out.push(W.group(t("result_type"), [W.select("ep-result-type", state.resultTypes.map(function (r) { return { value: r, label: t("result." + r) }; }), f.result_type, function (v) {
        change(function (x) { x.result_type = v; });
      })]));
    }
    if (type === "autonumber") {
      var sample = el("div", { class: "form-text", id: "ep-format-sample" });
      var show = function (format) {
        var now = new Date();
        var pad = function (n, w) { n = String(n); while (n.length < w) n = "0" + n; return n; };
        sample.textContent = t("autonumber_sample", { sample: format.replace(/\{yyyy\}/g, now.getFullYear()).replace(/\{yy\}/g, String(now.getFullYear()).slice(2))
          .replace(/\{mm\}/g, pad(now.getMonth() + 1, 2)).replace(/\{dd\}/g, pad(now.getDate(), 2))
          .replace(/\{seq(?::(\d))?\}/g, function (m, w) { return pad(1, Number(w || 1)); }) });
      };
      var input = W.textInput("ep-format", f.format, function (v, box) {
        box.classList.toggle("is-invalid", !/\{seq(:\d)?\}/.test(v));
        show(v);
        if (v) change(function (x) { x.format = v; }, "format");
      }, { class: "form-control form-control-sm font-monospace", spellcheck: "false" });
      show(f.format || "");
      out.push(W.group(t("autonumber_format"), [input, el("div", { class: "invalid-feedback", text: t("autonumber_bad") }), sample,
        el("div", { class: "form-text", text: t("autonumber_help") })]));
    }
    if (type === "child_table") {
      out.push(W.group(t("child_fields"), [el("div", { class: "small text-body-secondary", text: t("field_count", { count: (f.fields || []).length }) })]));
    }
    return out;
  }

  function payload() { return { entity: doc.entity, option_sets: doc.optionSets }; }

  function render(options) {
    renderAddMenu();
    var settings = document.getElementById("ed-settings");
    if (!(options && options.keepProps && settings.contains(document.activeElement))) renderSettings();
    renderFields();
    renderLinks();
    renderProps(options || {});
  }
  render({});
  D.changed();
})();
