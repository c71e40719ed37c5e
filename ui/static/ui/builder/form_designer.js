/* The form designer: palette, canvas (tabs > sections > fields, SortableJS), properties, live preview.
 *
 * The page edits two documents together: the form (layout and per-form conditions) and its entity
 * (the fields themselves). A field dragged from the palette is added to both; option sets created
 * for new choice fields travel in the same save. The preview pane is the real record form, rendered
 * by the server from the unsaved documents after every change. */
(function () {
  "use strict";
  var TD = window.TesseraDesigner;
  if (!TD || !document.getElementById("form-designer")) return;
  var el = TD.el;
  var state = TD.readState();
  var doc = { form: TD.clone(state.form), entity: TD.clone(state.entity), optionSets: {} };
  var sel = { kind: "form" };
  var activeTab = 0;
  var kinds = {};
  state.palette.forEach(function (g) { g.items.forEach(function (k) { kinds[k.type] = k; }); });
  var D = new TD.Designer({ doc: doc, render: render, payload: payload, afterChange: schedulePreview });
  var t = D.t.bind(D);
  var L = D.label.bind(D);
  D.onProblemClick = function (name) { if (field(name)) { selectField(name); } };

  /* ---- model helpers ---------------------------------------------------------------------- */
  function tabs() {
    return doc.form.tabs ? doc.form.tabs : [{ label: doc.form.label, sections: doc.form.sections || (doc.form.sections = []), implicit: true }];
  }
  function field(name) { return (doc.entity.fields || []).find(function (f) { return f.name === name; }); }
  function placed() {
    var names = [];
    tabs().forEach(function (tab) { tab.sections.forEach(function (s) { names.push.apply(names, s.fields); }); });
    return names;
  }
  function isNew(name) { return state.deployedFields.indexOf(name) < 0; }
  function optionSet(id) { return doc.optionSets[id] || state.optionSets[id]; }
  function ownSet(id) { return !!doc.optionSets[id] || state.ownOptionSets.indexOf(id) >= 0; }
  function fieldNames() { return (doc.entity.fields || []).map(function (f) { return f.name; }); }
  function fieldChoices() {
    return (doc.entity.fields || []).map(function (f) { return { name: f.name, label: L(f.label, f.name) }; });
  }
  function sectionOf(name) {
    var found = null;
    tabs().forEach(function (tab, ti) {
      tab.sections.forEach(function (s, si) { if (s.fields.indexOf(name) >= 0) found = { tab: ti, sec: si }; });
    });
    return found;
  }
  function uniqueName(base) {
    var taken = fieldNames().concat(state.systemFields);
    var n = 1;
    while (taken.indexOf(base + "_" + n) >= 0) n += 1;
    return { name: base + "_" + n, n: n };
  }
  function newOptionSet(fieldName, label) {
    var taken = Object.keys(state.optionSets).concat(Object.keys(doc.optionSets));
    var base = (doc.entity.id + "_" + fieldName).slice(0, 36);
    var id = base;
    var n = 2;
    while (taken.indexOf(id) >= 0) { id = base + "_" + n; n += 1; }
    doc.optionSets[id] = {
      id: id, label: TD.clone(label),
      options: [1, 2].map(function (i) {
        return { value: "opt" + i, label: { zh: "选项 " + i, en: "Option " + i } };
      }),
    };
    return id;
  }
  function applyType(f, type) {
    ["option_set", "entity", "fields", "expression", "result_type", "format", "min", "max", "decimals", "scale",
      "min_length", "max_length", "pattern", "pattern_message", "max_files", "accept", "default", "unique", "indexed"]
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
  function createField(type) {
    var kind = kinds[type];
    var made = uniqueName(type);
    var f = { name: made.name, type: type, label: { zh: kind.zh + " " + made.n, en: kind.en + " " + made.n } };
    applyType(f, type);
    doc.entity.fields.push(f);
    return f.name;
  }
  function dropFromEntityIfNew(name) {
    if (!isNew(name) || state.usedElsewhere.indexOf(name) >= 0) return;
    var f = field(name);
    doc.entity.fields = doc.entity.fields.filter(function (x) { return x.name !== name; });
    if (f && f.option_set && doc.optionSets[f.option_set] && !state.optionSets[f.option_set] &&
        !doc.entity.fields.some(function (x) { return x.option_set === f.option_set; })) {
      delete doc.optionSets[f.option_set];
    }
    if (doc.entity.title_field === name) delete doc.entity.title_field;
  }
  function removeFromForm(name) {
    tabs().forEach(function (tab) {
      tab.sections.forEach(function (s) { s.fields = s.fields.filter(function (n) { return n !== name; }); });
    });
    if (doc.form.conditions) {
      delete doc.form.conditions[name];
      if (!Object.keys(doc.form.conditions).length) delete doc.form.conditions;
    }
    dropFromEntityIfNew(name);
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

  /* ---- palette ---------------------------------------------------------------------------- */
  function renderPalette() {
    var box = document.getElementById("fd-palette");
    var groups = state.palette.map(function (g) {
      return el("div", { class: "fd-pal-group" }, [
        el("div", { class: "fd-pal-title", text: g.label }),
        el("div", { class: "fd-pal-list", "data-palette": "new" }, g.items.map(function (k) {
          return el("button", {
            type: "button", class: "fd-pal-item", "data-new-type": k.type, id: "pal-" + k.type, title: k.label,
          }, [el("i", { class: "bi " + k.icon }), el("span", { text: k.label })]);
        })),
      ]);
    });
    var onForm = placed();
    var rest = (doc.entity.fields || []).filter(function (f) { return onForm.indexOf(f.name) < 0; });
    var existing = el("div", { class: "fd-pal-group" }, [
      el("div", { class: "fd-pal-title", text: t("existing_fields") }),
      rest.length ? el("div", { class: "fd-pal-list", "data-palette": "existing" }, rest.map(function (f) {
        var k = kinds[f.type] || { icon: "bi-question" };
        return el("button", { type: "button", class: "fd-pal-item fd-pal-existing", "data-existing": f.name, id: "pal-f-" + f.name },
          [el("i", { class: "bi " + k.icon }), el("span", { text: L(f.label, f.name) })]);
      })) : el("div", { class: "small text-body-secondary px-1", text: t("none_left") }),
    ]);
    box.replaceChildren.apply(box, [existing].concat(groups));
    box.querySelectorAll(".fd-pal-list").forEach(function (list) {
      window.Sortable.create(list, {
        group: { name: "fields", pull: "clone", put: false }, sort: false, forceFallback: true, fallbackTolerance: 4,
        draggable: ".fd-pal-item", onEnd: onDragEnd,
      });
    });
    box.querySelectorAll(".fd-pal-item").forEach(function (item) {
      item.addEventListener("click", function () { addByClick(item); });
    });
  }

  function targetSection() {
    var here = sel.kind === "field" ? sectionOf(sel.name) : sel.kind === "section" ? { tab: sel.tab, sec: sel.sec } : null;
    if (here && tabs()[here.tab] && tabs()[here.tab].sections[here.sec]) return here;
    var sections = tabs()[activeTab].sections;
    return { tab: activeTab, sec: Math.max(0, sections.length - 1) };
  }

  function addByClick(item) {
    var where = targetSection();
    var name = null;
    D.change(function () {
      var sections = tabs()[where.tab].sections;
      if (!sections.length) sections.push({ label: { zh: t("new_section") }, columns: 2, fields: [] });
      name = item.dataset.newType ? createField(item.dataset.newType) : item.dataset.existing;
      sections[where.sec].fields.push(name);
      sel = { kind: "field", name: name };
    });
  }

  /* ---- drag and drop ------------------------------------------------------------------------ */
  function onDragEnd(evt) {
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
    if (!evt.to.classList.contains("fd-fields")) return;
    var lists = Array.prototype.slice.call(document.querySelectorAll("#fd-canvas .fd-fields"));
    var plan = lists.map(function (list) {
      return {
        tab: Number(list.dataset.tab), sec: Number(list.dataset.sec),
        items: Array.prototype.slice.call(list.children).filter(function (c) { return c.dataset.field || c.dataset.newType || c.dataset.existing; })
          .map(function (c) { return { field: c.dataset.field, type: c.dataset.newType, existing: c.dataset.existing }; }),
      };
    });
    window.setTimeout(function () {
      D.change(function () {
        plan.forEach(function (p) {
          var section = tabs()[p.tab].sections[p.sec];
          section.fields = p.items.map(function (it) {
            if (it.type) { var made = createField(it.type); sel = { kind: "field", name: made }; return made; }
            if (it.existing) { sel = { kind: "field", name: it.existing }; return it.existing; }
            return it.field;
          });
        });
      });
    }, 0);
  }

  function onSectionDragEnd(evt) {
    if (evt.oldIndex === evt.newIndex) return;
    window.setTimeout(function () {
      D.change(function () {
        var sections = tabs()[activeTab].sections;
        var moved = sections.splice(evt.oldIndex, 1)[0];
        sections.splice(evt.newIndex, 0, moved);
        sel = { kind: "section", tab: activeTab, sec: evt.newIndex };
      });
    }, 0);
  }

  /* ---- canvas -------------------------------------------------------------------------------- */
  function renderCanvas() {
    var canvas = document.getElementById("fd-canvas");
    var all = tabs();
    if (activeTab >= all.length) activeTab = all.length - 1;
    var parts = [];
    if (doc.form.tabs) {
      parts.push(el("div", { class: "fd-tabstrip", role: "tablist" }, all.map(function (tab, i) {
        return el("button", {
          type: "button", role: "tab", class: "fd-tab" + (i === activeTab ? " active" : "") + (sel.kind === "tab" && sel.tab === i ? " selected" : ""),
          id: "fd-tab-" + i, "aria-selected": i === activeTab ? "true" : "false",
          onclick: function () { activeTab = i; sel = { kind: "tab", tab: i }; render({}); },
        }, [L(tab.label, t("tab") + " " + (i + 1))]);
      }).concat([el("button", { type: "button", class: "fd-tab fd-tab-add", id: "fd-add-tab", onclick: addTab },
        [el("i", { class: "bi bi-plus-lg" }), t("add_tab")])])));
    }
    var sections = el("div", { class: "fd-sections", id: "fd-sections" }, all[activeTab].sections.map(function (s, si) {
      return renderSection(s, activeTab, si);
    }));
    parts.push(sections);
    parts.push(el("div", { class: "d-flex gap-2 mt-2" }, [
      el("button", { type: "button", class: "btn btn-sm btn-outline-primary", id: "fd-add-section", onclick: addSection },
        [el("i", { class: "bi bi-plus-lg" }), t("add_section")]),
      doc.form.tabs ? null : el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", id: "fd-use-tabs", onclick: function () { useTabs(true); } },
        [el("i", { class: "bi bi-folder-plus" }), t("use_tabs")]),
    ]));
    canvas.replaceChildren.apply(canvas, parts);
    canvas.querySelectorAll(".fd-fields").forEach(function (list) {
      window.Sortable.create(list, {
        group: { name: "fields", pull: true, put: true }, animation: 150, forceFallback: true, fallbackTolerance: 4,
        draggable: ".fd-field", filter: ".fd-field-remove", preventOnFilter: false, ghostClass: "fd-ghost", onEnd: onDragEnd,
      });
    });
    window.Sortable.create(sections, {
      group: "sections", handle: ".fd-section-grip", draggable: ".fd-section", animation: 150, forceFallback: true,
      onEnd: onSectionDragEnd,
    });
  }

  function renderSection(s, ti, si) {
    var selected = sel.kind === "section" && sel.tab === ti && sel.sec === si;
    var columns = Math.max(1, Math.min(4, s.columns || 2));
    var head = el("div", { class: "fd-section-head", onclick: function () { sel = { kind: "section", tab: ti, sec: si }; render({}); } }, [
      el("span", { class: "fd-section-grip", title: t("move_up") }, [el("i", { class: "bi bi-grip-vertical" })]),
      el("span", { class: "fd-section-label", text: L(s.label, t("untitled_section")) }),
      s.visible_when ? el("span", { class: "badge text-bg-light border fd-badge", text: t("conditional") }) : null,
      el("span", { class: "ms-auto small text-body-secondary", text: t("columns_n", { n: columns }) }),
    ]);
    var fields = el("div", {
      class: "fd-fields fd-cols-" + columns, "data-tab": ti, "data-sec": si, id: "fd-sec-" + ti + "-" + si,
      "data-empty": t("drop_here"),
    }, s.fields.map(function (name) { return renderFieldChip(name); }));
    return el("section", { class: "fd-section" + (selected ? " selected" : ""), "data-sec": si }, [head, fields]);
  }

  function renderFieldChip(name) {
    var f = field(name) || { name: name, type: "text", label: name };
    var k = kinds[f.type] || { icon: "bi-question", label: f.type };
    var conds = (doc.form.conditions || {})[name] || {};
    var conditional = conds.visible_when || conds.required_when || conds.read_only_when || f.visible_when || f.required_when;
    var wide = f.type === "child_table" || f.type === "long_text" || f.type === "json";
    var chip = el("div", {
      class: "fd-field" + (sel.kind === "field" && sel.name === name ? " selected" : "") + (wide ? " fd-wide" : ""),
      "data-field": name, id: "fd-f-" + name, tabindex: "0", role: "button",
    }, [
      el("i", { class: "bi " + k.icon + " fd-field-icon" }),
      el("span", { class: "fd-field-label" }, [L(f.label, name), f.required ? el("span", { class: "fd-req", text: "*" }) : null]),
      el("span", { class: "fd-field-type", text: k.label }),
      isNew(name) ? el("span", { class: "badge rounded-pill fd-new", text: t("new_badge") }) : null,
      conditional ? el("i", { class: "bi bi-eye-slash fd-cond", title: t("conditional") }) : null,
      el("button", { type: "button", class: "btn btn-sm fd-field-remove", title: t("remove_from_form"), "aria-label": t("remove_from_form"),
        onclick: function (evt) { evt.stopPropagation(); D.change(function () { removeFromForm(name); if (sel.name === name) sel = { kind: "form" }; }); } },
      [el("i", { class: "bi bi-x-lg" })]),
    ]);
    chip.addEventListener("click", function () { selectField(name); });
    chip.addEventListener("keydown", function (evt) { if (evt.key === "Enter") selectField(name); });
    return chip;
  }

  function selectField(name) {
    var where = sectionOf(name);
    if (where) activeTab = where.tab;
    sel = { kind: "field", name: name };
    render({});
  }

  function addSection() {
    D.change(function () {
      var sections = tabs()[activeTab].sections;
      sections.push({ label: { zh: t("new_section") + " " + (sections.length + 1) }, columns: 2, fields: [] });
      sel = { kind: "section", tab: activeTab, sec: sections.length - 1 };
    });
  }
  function addTab() {
    D.change(function () {
      doc.form.tabs.push({ label: { zh: t("new_tab") + " " + (doc.form.tabs.length + 1) }, sections: [{ columns: 2, fields: [] }] });
      activeTab = doc.form.tabs.length - 1;
      sel = { kind: "tab", tab: activeTab };
    });
  }
  function useTabs(on) {
    D.change(function () {
      if (on && !doc.form.tabs) {
        doc.form.tabs = [{ label: { zh: "基本信息", en: "Basics" }, sections: doc.form.sections || [] }];
        delete doc.form.sections;
      } else if (!on && doc.form.tabs) {
        doc.form.sections = [].concat.apply([], doc.form.tabs.map(function (tab) { return tab.sections; }));
        delete doc.form.tabs;
        activeTab = 0;
      }
    });
  }

  /* ---- properties ---------------------------------------------------------------------------- */
  function group(title, children, cls) {
    return el("div", { class: "fd-group " + (cls || "") }, [title ? el("div", { class: "fd-group-title", text: title }) : null].concat(children));
  }
  function row(labelText, control, help, id) {
    return el("div", { class: "mb-2" }, [
      el("label", { class: "form-label small mb-1", for: id || (control && control.id) || null, text: labelText }),
      control,
      help ? el("div", { class: "form-text", text: help }) : null,
    ]);
  }
  function textInput(id, value, onInput, attrs) {
    var input = el("input", Object.assign({ class: "form-control form-control-sm", type: "text", id: id, value: value || "" }, attrs || {}));
    input.addEventListener("input", function () { onInput(input.value, input); });
    input.addEventListener("change", function () { D.endBurst(); });
    return input;
  }
  function labelPair(obj, key, idBase, required) {
    return el("div", { class: "row g-2 mb-2" }, ["zh", "en"].map(function (lang) {
      var input = textInput(idBase + "-" + lang, labelOf(obj(), key, lang), function (value) {
        D.change(function () { setLabel(obj(), key, lang, value.trim()); }, idBase + lang, { keepProps: true });
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
  function setKey(obj, key, value) { if (value === undefined || value === "" || value === null || value === false) delete obj[key]; else obj[key] = value; }

  function renderProps(options) {
    if (options.keepProps) return;
    var box = document.getElementById("fd-props");
    var title = document.getElementById("fd-props-title");
    var content;
    if (sel.kind === "field" && field(sel.name)) { title.textContent = t("field_props"); content = fieldProps(field(sel.name)); }
    else if (sel.kind === "section" && tabs()[sel.tab] && tabs()[sel.tab].sections[sel.sec]) { title.textContent = t("section_props"); content = sectionProps(sel.tab, sel.sec); }
    else if (sel.kind === "tab" && doc.form.tabs && doc.form.tabs[sel.tab]) { title.textContent = t("tab_props"); content = tabProps(sel.tab); }
    else { sel = { kind: "form" }; title.textContent = t("form_props"); content = formProps(); }
    box.replaceChildren.apply(box, content);
  }

  function formProps() {
    return [
      group(t("form_label"), [labelPair(function () { return doc.form; }, "label", "fp-label")]),
      group(null, [switchRow("fp-tabs", t("use_tabs"), !!doc.form.tabs, function (on) { useTabs(on); })]),
      el("p", { class: "small text-body-secondary mb-0", text: t("select_hint") }),
    ];
  }

  function tabProps(ti) {
    var tab = doc.form.tabs[ti];
    return [
      group(t("label"), [labelPair(function () { return doc.form.tabs[ti]; }, "label", "tp-label", true)]),
      doc.form.tabs.length > 1 ? el("button", { type: "button", class: "btn btn-sm btn-outline-danger", id: "tp-remove", onclick: function () {
        D.change(function () {
          var removed = doc.form.tabs.splice(ti, 1)[0];
          var into = doc.form.tabs[Math.max(0, ti - 1)];
          into.sections.push.apply(into.sections, removed.sections);
          activeTab = Math.max(0, ti - 1);
          sel = { kind: "tab", tab: activeTab };
        });
      } }, [el("i", { class: "bi bi-trash" }), t("remove_tab")]) : null,
      el("p", { class: "small text-body-secondary mt-2 mb-0", text: t("field_count", { count: tab.sections.reduce(function (n, s) { return n + s.fields.length; }, 0) }) }),
    ];
  }

  function sectionProps(ti, si) {
    var get = function () { return tabs()[ti].sections[si]; };
    var s = get();
    var cols = el("div", { class: "btn-group btn-group-sm w-100", role: "group", "aria-label": t("columns") }, [1, 2, 3, 4].map(function (n) {
      return el("button", { type: "button", class: "btn " + ((s.columns || 2) === n ? "btn-primary" : "btn-outline-secondary"), id: "sp-cols-" + n,
        onclick: function () { D.change(function () { get().columns = n; }); } }, [String(n)]);
    }));
    var parts = [
      group(t("label"), [labelPair(get, "label", "sp-label")]),
      group(t("columns"), [cols]),
      group(t("visible_when"), [D.expressionInput({
        id: "sp-visible", value: s.visible_when, names: fieldNames, fields: fieldChoices,
        onInput: function (v) { D.change(function () { setKey(get(), "visible_when", v); }, "sp-visible" + ti + si, { keepProps: true }); },
      })]),
    ];
    if (doc.form.tabs && doc.form.tabs.length > 1) {
      var move = el("select", { class: "form-select form-select-sm", id: "sp-move" }, doc.form.tabs.map(function (tab, i) {
        return el("option", { value: String(i), selected: i === ti, text: L(tab.label, t("tab") + " " + (i + 1)) });
      }));
      move.addEventListener("change", function () {
        var to = Number(move.value);
        D.change(function () {
          var moved = doc.form.tabs[ti].sections.splice(si, 1)[0];
          doc.form.tabs[to].sections.push(moved);
          activeTab = to;
          sel = { kind: "section", tab: to, sec: doc.form.tabs[to].sections.length - 1 };
        });
      });
      parts.push(group(t("move_to_tab"), [move]));
    }
    parts.push(el("button", { type: "button", class: "btn btn-sm btn-outline-danger", id: "sp-remove", onclick: function () {
      if (get().fields.length && !window.confirm(t("remove_section_confirm"))) return;
      D.change(function () {
        var removed = tabs()[ti].sections.splice(si, 1)[0];
        removed.fields.forEach(function (name) { dropFromEntityIfNew(name); });
        sel = { kind: "form" };
      });
    } }, [el("i", { class: "bi bi-trash" }), t("remove_section")]));
    return parts;
  }

  function fieldProps(f) {
    var name = f.name;
    var get = function () { return field(name); };
    var k = kinds[f.type] || { icon: "bi-question", label: f.type };
    var fresh = isNew(name);
    var key = function (suffix) { return "fp-" + name + "-" + suffix; };
    var change = function (mutate, burst) { D.change(function () { mutate(get()); }, burst ? key(burst) : null, burst ? { keepProps: true } : {}); };
    var parts = [];
    parts.push(el("div", { class: "fd-prop-head" }, [
      el("i", { class: "bi " + k.icon }), el("span", { class: "fw-semibold", text: k.label }),
      fresh ? el("span", { class: "badge rounded-pill fd-new", text: t("new_badge") }) : null,
      el("code", { class: "ms-auto small", text: name }),
    ]));
    parts.push(group(t("label"), [labelPair(get, "label", "fp-label", true)]));
    if (fresh) parts.push(group(null, [nameEditor(f), typeEditor(f)]));
    parts.push(el("div", { class: "small text-body-secondary mb-2 fd-note" }, [el("i", { class: "bi bi-info-circle me-1" }), t("entity_level")]));
    var flags = [
      switchRow("fp-required", t("required"), f.required, function (on) { change(function (x) { setKey(x, "required", on); }); }, t("required_help")),
      switchRow("fp-read-only", t("read_only"), f.read_only, function (on) { change(function (x) { setKey(x, "read_only", on); }); }),
      switchRow("fp-sensitive", t("sensitive"), f.sensitive, function (on) { change(function (x) { setKey(x, "sensitive", on); }); }),
    ];
    if (["child_table", "long_text", "json", "multiselect", "tags", "file", "image", "region"].indexOf(f.type) < 0) {
      flags.push(switchRow("fp-indexed", t("indexed"), f.indexed, function (on) { change(function (x) { setKey(x, "indexed", on); }); }));
      if (f.type !== "computed") flags.push(switchRow("fp-unique", t("unique"), f.unique, function (on) { change(function (x) { setKey(x, "unique", on); }); }));
    }
    parts.push(group(t("flags") || null, flags));
    parts.push.apply(parts, typeProps(f, get, change, key));
    var def = defaultEditor(f, get, change);
    if (def) parts.push(group(t("default"), [def]));
    parts.push(group(t("help"), [labelPair(get, "help", "fp-help")]));
    if (["text", "long_text", "phone", "email", "cn_id", "integer", "decimal", "money", "percent", "tags"].indexOf(f.type) >= 0) {
      parts.push(group(t("placeholder"), [labelPair(get, "placeholder", "fp-placeholder")]));
    }
    parts.push(conditionsGroup(f));
    parts.push(el("button", { type: "button", class: "btn btn-sm btn-outline-danger mt-1", id: "fp-remove", onclick: function () {
      D.change(function () { removeFromForm(name); sel = { kind: "form" }; });
    } }, [el("i", { class: "bi bi-box-arrow-left" }), t("remove_from_form")]));
    return parts;
  }

  function nameEditor(f) {
    var error = el("div", { class: "invalid-feedback", id: "fp-name-error" });
    var input = textInput("fp-name", f.name, function () {}, { class: "form-control form-control-sm font-monospace", spellcheck: "false" });
    input.addEventListener("change", function () {
      var wanted = input.value.trim();
      if (wanted === f.name) return;
      var problem = !D.isIdent(wanted) ? t("name_invalid")
        : (fieldNames().indexOf(wanted) >= 0 || state.systemFields.indexOf(wanted) >= 0) ? t("name_taken") : "";
      input.classList.toggle("is-invalid", !!problem);
      error.textContent = problem;
      if (problem) return;
      var old = f.name;
      D.change(function () {
        field(old).name = wanted;
        tabs().forEach(function (tab) { tab.sections.forEach(function (s) { s.fields = s.fields.map(function (n) { return n === old ? wanted : n; }); }); });
        if (doc.form.conditions && doc.form.conditions[old]) { doc.form.conditions[wanted] = doc.form.conditions[old]; delete doc.form.conditions[old]; }
        if (doc.entity.title_field === old) doc.entity.title_field = wanted;
        sel = { kind: "field", name: wanted };
      });
    });
    return el("div", { class: "mb-2" }, [
      el("label", { class: "form-label small mb-1", for: "fp-name", text: t("name") }), input, error,
      el("div", { class: "form-text", text: t("name_help") }),
    ]);
  }

  function typeEditor(f) {
    var select = el("select", { class: "form-select form-select-sm", id: "fp-type" }, state.palette.map(function (g) {
      return el("optgroup", { label: g.label }, g.items.map(function (k) { return el("option", { value: k.type, selected: k.type === f.type, text: k.label }); }));
    }));
    select.addEventListener("change", function () {
      var name = f.name;
      D.change(function () { applyType(field(name), select.value); });
    });
    return row(t("type"), select);
  }

  function typeProps(f, get, change, key) {
    var out = [];
    var type = f.type;
    if (type === "text" || type === "long_text") {
      out.push(group(null, [el("div", { class: "row g-2" }, [
        el("div", { class: "col-6" }, [row(t("min_length"), numberInput("fp-min-length", f.min_length, function (v) { change(function (x) { setKey(x, "min_length", v); }, "minl"); }, { min: 0 }))]),
        el("div", { class: "col-6" }, [row(t("max_length"), numberInput("fp-max-length", f.max_length, function (v) { change(function (x) { setKey(x, "max_length", v); }, "maxl"); }, { min: 1 }))]),
      ])]));
      var feedback = el("div", { class: "invalid-feedback", text: t("pattern_bad") });
      var pattern = textInput("fp-pattern", f.pattern, function (v, input) {
        var ok = true;
        try { if (v) new RegExp(v); } catch (e) { ok = false; }
        input.classList.toggle("is-invalid", !ok);
        change(function (x) { setKey(x, "pattern", v); }, "pattern");
      }, { class: "form-control form-control-sm font-monospace", spellcheck: "false" });
      out.push(group(t("pattern"), [pattern, feedback]));
      if (f.pattern) out.push(group(t("pattern_message"), [labelPair(get, "pattern_message", "fp-pattern-message")]));
    }
    if (["integer", "decimal", "money", "percent"].indexOf(type) >= 0) {
      var cells = [
        el("div", { class: "col-6" }, [row(t("min"), numberInput("fp-min", f.min, function (v) { change(function (x) { setKey(x, "min", v); }, "min"); }))]),
        el("div", { class: "col-6" }, [row(t("max"), numberInput("fp-max", f.max, function (v) { change(function (x) { setKey(x, "max", v); }, "max"); }))]),
      ];
      if (type !== "integer") {
        cells.push(el("div", { class: "col-6" }, [row(t("decimals"), numberInput("fp-decimals", f.decimals, function (v) { change(function (x) { setKey(x, "decimals", v); }, "dec"); }, { min: 0, max: 8 }))]));
      }
      out.push(group(null, [el("div", { class: "row g-2" }, cells)]));
    }
    if (type === "rating") {
      out.push(group(null, [row(t("scale"), numberInput("fp-scale", f.scale || 5, function (v) { change(function (x) { setKey(x, "scale", v); }, "scale"); }, { min: 3, max: 10 }))]));
    }
    if (type === "file" || type === "image") {
      out.push(group(null, [row(t("max_files"), numberInput("fp-max-files", f.max_files, function (v) { change(function (x) { setKey(x, "max_files", v); }, "files"); }, { min: 1, max: 50 }))]));
    }
    if (type === "select" || type === "multiselect") out.push(optionsEditor(f));
    if (type === "reference") {
      var target = el("select", { class: "form-select form-select-sm", id: "fp-entity" }, state.entities.map(function (e) {
        return el("option", { value: e.id, selected: e.id === f.entity, text: e.label });
      }));
      target.addEventListener("change", function () { change(function (x) { x.entity = target.value; }); });
      out.push(group(t("reference_to"), [target]));
    }
    if (type === "computed") {
      out.push(group(t("computed_expression"), [D.expressionInput({
        id: "fp-expression", value: f.expression, names: function () { return fieldNames().filter(function (n) { return n !== f.name; }); }, fields: fieldChoices,
        onInput: function (v) { change(function (x) { x.expression = v || "0"; }, "expr"); },
      })]));
      var result = el("select", { class: "form-select form-select-sm", id: "fp-result-type" }, state.resultTypes.map(function (r) {
        return el("option", { value: r, selected: r === f.result_type, text: t("result." + r) });
      }));
      result.addEventListener("change", function () { change(function (x) { x.result_type = result.value; }); });
      out.push(group(t("result_type"), [result]));
    }
    if (type === "autonumber") out.push(autonumberEditor(f, change));
    if (type === "child_table") {
      out.push(group(t("child_fields"), [
        el("ul", { class: "small mb-1 ps-3" }, (f.fields || []).map(function (c) { return el("li", { text: L(c.label, c.name) + " · " + ((kinds[c.type] || {}).label || c.type) }); })),
        el("a", { class: "small", href: state.urls.entity, text: t("edit_in_entity") }),
      ]));
    }
    return out;
  }

  function autonumberEditor(f, change) {
    var sample = el("div", { class: "form-text", id: "fp-format-sample" });
    var error = el("div", { class: "invalid-feedback", id: "fp-format-error", text: t("autonumber_bad") });
    function show(format) {
      var now = new Date();
      var pad = function (n, w) { n = String(n); while (n.length < w) n = "0" + n; return n; };
      var text = format.replace(/\{yyyy\}/g, now.getFullYear()).replace(/\{yy\}/g, String(now.getFullYear()).slice(2))
        .replace(/\{mm\}/g, pad(now.getMonth() + 1, 2)).replace(/\{dd\}/g, pad(now.getDate(), 2))
        .replace(/\{seq(?::(\d))?\}/g, function (m, w) { return pad(1, Number(w || 1)); });
      sample.textContent = t("autonumber_sample", { sample: text });
    }
    var input = textInput("fp-format", f.format, function (v, box) {
      var ok = /\{seq(:\d)?\}/.test(v);
      box.classList.toggle("is-invalid", !ok);
      show(v);
      if (v) change(function (x) { x.format = v; }, "format");
    }, { class: "form-control form-control-sm font-monospace", spellcheck: "false" });
    show(f.format || "");
    return group(t("autonumber_format"), [input, error, sample, el("div", { class: "form-text", text: t("autonumber_help") })]);
  }

  function optionsEditor(f) {
    var setId = f.option_set;
    var name = f.name;
    var sets = Object.assign({}, state.optionSets, doc.optionSets);
    var picker = el("select", { class: "form-select form-select-sm", id: "fp-option-set" }, Object.keys(sets).sort().map(function (id) {
      return el("option", { value: id, selected: id === setId, text: L(sets[id].label, id) });
    }));
    picker.addEventListener("change", function () { D.change(function () { field(name).option_set = picker.value; }); });
    var create = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary text-nowrap", id: "fp-new-set", onclick: function () {
      D.change(function () { var x = field(name); x.option_set = newOptionSet(x.name, x.label); });
    } }, [el("i", { class: "bi bi-plus-lg" }), t("new_option_set")]);
    var parts = [el("div", { class: "d-flex gap-1 mb-2" }, [picker, create])];
    var oset = optionSet(setId);
    if (oset) {
      var sharing = (doc.entity.fields || []).filter(function (x) { return x.option_set === setId; }).length;
      if (!ownSet(setId)) {
        parts.push(el("div", { class: "small text-body-secondary mb-1", text: t("foreign_set") }));
        parts.push(el("ul", { class: "small ps-3 mb-0" }, oset.options.map(function (o) { return el("li", { text: L(o.label, o.value) }); })));
      } else {
        if (sharing > 1) parts.push(el("div", { class: "small text-warning-emphasis mb-1", text: t("shared_set", { count: sharing }) }));
        parts.push(optionRows(setId));
      }
    }
    return group(t("options"), parts);
  }

  function editableSet(setId) {
    if (!doc.optionSets[setId]) doc.optionSets[setId] = TD.clone(state.optionSets[setId]);
    return doc.optionSets[setId];
  }

  function optionRows(setId) {
    var oset = optionSet(setId);
    var list = el("div", { class: "fd-options", id: "fp-options" }, oset.options.map(function (o, i) {
      var inputs = ["zh", "en"].map(function (lang) {
        var input = textInput("fp-opt-" + i + "-" + lang, labelOf(o, "label", lang), function (v) {
          D.change(function () { setLabel(editableSet(setId).options[i], "label", lang, v.trim()); }, "opt" + setId + i + lang, { keepProps: true });
        }, { placeholder: t("label_" + lang), "aria-label": t("label_" + lang) });
        return input;
      });
      return el("div", { class: "fd-option" }, [
        el("span", { class: "fd-option-grip" }, [el("i", { class: "bi bi-grip-vertical" })]),
        inputs[0], inputs[1],
        el("button", { type: "button", class: "btn btn-sm btn-link text-danger px-1", title: t("remove"), "aria-label": t("remove"), onclick: function () {
          if (oset.options.length <= 1) return;
          D.change(function () { editableSet(setId).options.splice(i, 1); });
        } }, [el("i", { class: "bi bi-x-lg" })]),
      ]);
    }));
    window.Sortable.create(list, { handle: ".fd-option-grip", animation: 120, forceFallback: true, onEnd: function (evt) {
      if (evt.oldIndex === evt.newIndex) return;
      window.setTimeout(function () {
        D.change(function () { var opts = editableSet(setId).options; opts.splice(evt.newIndex, 0, opts.splice(evt.oldIndex, 1)[0]); });
      }, 0);
    } });
    var add = el("button", { type: "button", class: "btn btn-sm btn-outline-primary mt-1", id: "fp-add-option", onclick: function () {
      D.change(function () {
        var opts = editableSet(setId).options;
        var values = opts.map(function (o) { return o.value; });
        var n = opts.length + 1;
        while (values.indexOf("opt" + n) >= 0) n += 1;
        opts.push({ value: "opt" + n, label: { zh: "选项 " + n, en: "Option " + n } });
      });
    } }, [el("i", { class: "bi bi-plus-lg" }), t("add_option")]);
    return el("div", {}, [list, add]);
  }

  function defaultEditor(f, get, change) {
    var type = f.type;
    var current = f.default;
    if (type === "date" || type === "datetime") {
      var fn = type === "date" ? "today()" : "now()";
      return switchRow("fp-default-today", t(type === "date" ? "default_today" : "default_now"),
        current && current.expression === fn, function (on) { change(function (x) { setKey(x, "default", on ? { expression: fn } : undefined); }); });
    }
    if (type === "boolean") {
      var pick = el("select", { class: "form-select form-select-sm", id: "fp-default" }, [
        el("option", { value: "", text: t("none"), selected: current === undefined }),
        el("option", { value: "1", text: t("yes"), selected: current === true }),
        el("option", { value: "0", text: t("no"), selected: current === false }),
      ]);
      pick.addEventListener("change", function () {
        change(function (x) { if (pick.value === "") delete x.default; else x.default = pick.value === "1"; });
      });
      return pick;
    }
    if (type === "select") {
      var oset = optionSet(f.option_set);
      var choose = el("select", { class: "form-select form-select-sm", id: "fp-default" }, [el("option", { value: "", text: t("none") })].concat(
        (oset ? oset.options : []).map(function (o) { return el("option", { value: o.value, selected: o.value === current, text: L(o.label, o.value) }); })));
      choose.addEventListener("change", function () { change(function (x) { setKey(x, "default", choose.value); }); });
      return choose;
    }
    if (["integer", "decimal", "money", "percent", "rating", "nps"].indexOf(type) >= 0) {
      return numberInput("fp-default", typeof current === "number" ? current : undefined, function (v) { change(function (x) { setKey(x, "default", v); }, "default"); });
    }
    if (["text", "long_text", "phone", "email"].indexOf(type) >= 0) {
      return textInput("fp-default", typeof current === "string" ? current : "", function (v) { change(function (x) { setKey(x, "default", v); }, "default"); });
    }
    return null;
  }

  function conditionsGroup(f) {
    var name = f.name;
    var conds = (doc.form.conditions || {})[name] || {};
    var rows = ["visible_when", "required_when", "read_only_when"].map(function (kind) {
      var id = "fp-" + kind.replace(/_/g, "-");
      return el("div", { class: "mb-2" }, [
        el("label", { class: "form-label small mb-1", for: id, text: t(kind) }),
        D.expressionInput({
          id: id, value: conds[kind], names: fieldNames, fields: fieldChoices,
          onInput: function (v) {
            D.change(function () {
              var all = doc.form.conditions || {};
              var mine = Object.assign({}, all[name] || {});
              setKey(mine, kind, v);
              if (Object.keys(mine).length) all[name] = mine; else delete all[name];
              if (Object.keys(all).length) doc.form.conditions = all; else delete doc.form.conditions;
            }, "cond" + name + kind, { keepProps: true });
          },
        }),
        f[kind] ? el("div", { class: "form-text", text: t("inherited", { expr: f[kind] }) }) : null,
      ]);
    });
    return group(t("conditions"), [el("div", { class: "form-text mt-0 mb-2", text: t("conditions_help") })].concat(rows), "fd-conditions");
  }

  /* ---- preview ------------------------------------------------------------------------------- */
  var previewTimer = null;
  var previewSeq = 0;
  function schedulePreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 300);
  }
  function refreshPreview() {
    var mine = ++previewSeq;
    var busy = document.getElementById("fd-preview-busy");
    busy.classList.remove("d-none");
    TD.postJSON(state.urls.preview, designBody()).then(function (r) { return r.text(); }).then(function (html) {
      if (mine !== previewSeq) return;
      busy.classList.add("d-none");
      var box = document.getElementById("fd-preview");
      box.innerHTML = html;
      box.dataset.version = String(mine);
    }).catch(function () { busy.classList.add("d-none"); });
  }
  var stateTimer = null;
  function previewInput(evt) {
    if (!evt.target.closest("#fd-preview-form")) return;
    window.clearTimeout(stateTimer);
    stateTimer = window.setTimeout(function () {
      var form = document.getElementById("fd-preview-form");
      if (!form) return;
      var values = {};
      new FormData(form).forEach(function (value, key) { (values[key] = values[key] || []).push(String(value)); });
      var body = designBody();
      body.values = values;
      TD.postJSON(state.urls.previewState, body).then(function (r) { return r.json(); }).then(function (result) {
        Object.keys(result.states || {}).forEach(function (name) {
          var wrapper = form.querySelector('[data-field="' + name + '"]');
          if (!wrapper) return;
          wrapper.classList.toggle("d-none", !result.states[name].visible);
          wrapper.classList.toggle("is-required", result.states[name].required);
        });
        form.querySelectorAll("fieldset.tf-section").forEach(function (section) {
          var fields = section.querySelectorAll(".tf-field");
          var anyVisible = Array.prototype.some.call(fields, function (x) { return !x.classList.contains("d-none"); });
          section.classList.toggle("d-none", !anyVisible);
        });
      });
    }, 250);
  }
  document.getElementById("fd-preview").addEventListener("input", previewInput);
  document.getElementById("fd-preview").addEventListener("change", previewInput);

  /* ---- saving -------------------------------------------------------------------------------- */
  function cleanForm() {
    var form = TD.clone(doc.form);
    var all = form.tabs ? form.tabs : [{ sections: form.sections || [] }];
    all.forEach(function (tab) { tab.sections = tab.sections.filter(function (s) { return s.fields.length; }); });
    if (form.tabs) form.tabs = form.tabs.filter(function (tab) { return tab.sections.length; });
    else form.sections = all[0].sections;
    var names = fieldNames();
    if (form.conditions) {
      Object.keys(form.conditions).forEach(function (n) { if (names.indexOf(n) < 0) delete form.conditions[n]; });
      if (!Object.keys(form.conditions).length) delete form.conditions;
    }
    return form;
  }
  function designBody() { return { form: cleanForm(), entity: doc.entity, option_sets: doc.optionSets }; }
  function payload() {
    var body = designBody();
    var empty = body.form.tabs ? !body.form.tabs.length : !body.form.sections.length;
    if (empty) return { error: t("empty_form") };
    return body;
  }

  /* ---- render -------------------------------------------------------------------------------- */
  function render(options) {
    renderPalette();
    renderCanvas();
    renderProps(options || {});
  }

  render({});
  D.changed();
  if (state.isNew) D.saved = "";
  D.changed();
})();
