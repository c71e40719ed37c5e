/* Form-style editor for rules, templates, scores, reports and follow-up plans (ui/routes/builder_editors.py).
   The form is drawn from the kind's JSON Schema (resolved on the server: labels, texts and expressions carry
   x-widget), edits a JS copy of the document, and saves it with fetch; problems come back with their JSON
   pointer and are shown next to the field. Follow-up plans also get their timeline drawn. */
(function () {
  "use strict";

  var root = document.getElementById("doc-editor");
  if (!root) return;
  var data = JSON.parse(document.getElementById("editor-data").textContent);
  var texts = JSON.parse(document.getElementById("editor-texts").textContent);
  var doc = JSON.parse(JSON.stringify(data.doc || {}));
  var body = document.getElementById("doc-form-body");
  var statusEl = document.getElementById("doc-status");
  var dirty = false;
  var uid = 0;
  var timers = {};
  var ENTITY_FIELD_KEYS = ["field", "date_field", "anchor", "via", "title_field"];

  function tx(key, fallback) { return texts[key] || (fallback === undefined ? key : fallback); }
  function propLabel(key) { return tx("prop." + key, key.replace(/_/g, " ")); }

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k.indexOf("on") === 0) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function changed() {
    dirty = true;
    statusEl.textContent = tx("unsaved");
    statusEl.className = "small ms-auto text-body-secondary";
    drawTimeline();
  }

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function ptrId(ptr) { return "ed" + (ptr || "/").replace(/[^a-zA-Z0-9]+/g, "-"); }

  // schema helpers ----------------------------------------------------------------------------------
  function typeOf(s) {
    if (!s) return "string";
    if (s["x-widget"]) return s["x-widget"];
    if (s["enum"]) return "enum";
    if (s["const"] !== undefined) return "const";
    if (s.oneOf) return "oneOf";
    var t = Array.isArray(s.type) ? s.type[0] : s.type;
    if (t === "object" && !s.properties && s.additionalProperties && typeof s.additionalProperties === "object") return "map";
    if (t === "object" && !s.properties) return "freeobject";
    return t || (s.properties ? "object" : "string");
  }

  function variantName(v, i) {
    if (v.properties && v.properties.type && v.properties.type["const"] !== undefined) return String(v.properties.type["const"]);
    if (v.required && v.required.length) return v.required[0];
    var t = Array.isArray(v.type) ? v.type[0] : v.type;
    return t || ("#" + (i + 1));
  }

  function variantMatches(v, value) {
    if (value === undefined || value === null) return false;
    var t = Array.isArray(v.type) ? v.type[0] : v.type;
    if (t === "string") return typeof value === "string";
    if (t === "array") return Array.isArray(value);
    if (typeof value !== "object" || Array.isArray(value)) return false;
    if (v.properties && v.properties.type && v.properties.type["const"] !== undefined) return value.type === v.properties.type["const"];
    return (v.required || []).every(function (k) { return k in value; });
  }

  function emptyFor(s) {
    var t = typeOf(s);
    if (t === "object") {
      var o = {};
      (s.required || []).forEach(function (k) {
        var sub = s.properties[k];
        if (sub && sub["const"] !== undefined) o[k] = sub["const"];
        else if (sub && (typeOf(sub) === "object" || typeOf(sub) === "array")) o[k] = emptyFor(sub);
      });
      return o;
    }
    if (t === "array") return [];
    if (t === "map" || t === "freeobject") return {};
    if (t === "oneOf") {
      var v = s.oneOf[0];
      var e = emptyFor(v);
      if (v.properties && v.properties.type && v.properties.type["const"] !== undefined) e.type = v.properties.type["const"];
      if (typeOf(v) === "object" && v.required) v.required.forEach(function (k) { if (!(k in e)) e[k] = emptyFor(v.properties ? (v.properties[k] || {}) : {}) || ""; });
      return e;
    }
    if (t === "label" || t === "text") return { zh: "", en: "" };
    return undefined;
  }

  /* Drop what the user left empty: "" strings, empty optional objects/arrays, labels without text. */
  function prune(value) {
    if (Array.isArray(value)) return value.map(prune).filter(function (v) { return v !== undefined; });
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value).forEach(function (k) {
        var v = prune(value[k]);
        if (v === undefined || v === "" || (v && typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length)) return;
        out[k] = v;
      });
      return out;
    }
    return value === "" || value === null ? undefined : value;
  }

  // hints: entities, their fields, forms, roles, templates --------------------------------------------
  function datalist(id, items) {
    if (document.getElementById(id)) return id;
    var dl = h("datalist", { id: id });
    items.forEach(function (x) { dl.appendChild(h("option", { value: x.id, text: x.label })); });
    document.body.appendChild(dl);
    return id;
  }

  function entityFields(entityId) {
    var e = (data.hints.entities || []).find(function (x) { return x.id === entityId; });
    return e ? e.fields : [];
  }

  function listFor(key, ctx) {
    if (key === "entity") return datalist("dl-entities", data.hints.entities || []);
    if (key === "form") return datalist("dl-forms", data.hints.forms || []);
    if (key === "role") return datalist("dl-roles", data.hints.roles || []);
    if (key === "template") return datalist("dl-templates", data.hints.templates || []);
    if (key === "process") return datalist("dl-processes", data.hints.processes || []);
    if (ENTITY_FIELD_KEYS.indexOf(key) >= 0) {
      var ent = (ctx && ctx.entity) || doc.entity;
      if (ent) return datalist("dl-fields-" + ent, entityFields(ent).concat([{ id: "created_at", label: tx("created_at") }]));
    }
    return null;
  }

  // widgets -----------------------------------------------------------------------------------------
  function wrapField(label, control, opts) {
    opts = opts || {};
    var id = control.getAttribute && control.getAttribute("id");
    return h("div", { class: "tf-ed-field mb-3" + (opts.inline ? " tf-ed-inline" : ""), "data-ptr": opts.ptr || "" }, [
      h(id ? "label" : "div", { class: "form-label small fw-semibold mb-1", for: id || null }, [label,
        opts.required ? h("span", { class: "text-danger ms-1", text: "*" }) : null]),
      control,
      opts.help ? h("div", { class: "form-text", text: opts.help }) : null,
      h("div", { class: "invalid-feedback d-block tf-ed-error", "data-error-for": opts.ptr || "" })
    ]);
  }

  function scalarInput(s, value, set, ptr, key, ctx) {
    var t = typeOf(s);
    var id = ptrId(ptr);
    if (t === "enum") {
      var sel = h("select", { class: "form-select form-select-sm", id: id });
      sel.appendChild(h("option", { value: "", text: tx("choose") }));
      s["enum"].forEach(function (v) {
        var label = tx("enum." + v, String(v));
        var opt = h("option", { value: String(v), text: label === String(v) ? label : label + "（" + v + "）" });
        if (String(value) === String(v)) opt.selected = true;
        sel.appendChild(opt);
      });
      sel.addEventListener("change", function () {
        var raw = sel.value;
        var typed = s["enum"].find(function (v) { return String(v) === raw; });
        set(raw === "" ? undefined : typed);
        changed();
      });
      return sel;
    }
    if (t === "boolean") {
      var cb = h("input", { class: "form-check-input", type: "checkbox", id: id, role: "switch" });
      cb.checked = value === undefined ? s["default"] === true : !!value;
      cb.addEventListener("change", function () { set(cb.checked); changed(); });
      return h("div", { class: "form-check form-switch" }, [cb]);
    }
    if (t === "number" || t === "integer") {
      var num = h("input", { class: "form-control form-control-sm tf-ed-num", type: "number", id: id,
        step: t === "integer" ? "1" : "any", value: value === undefined ? "" : String(value), min: s.minimum, max: s.maximum });
      num.addEventListener("change", function () {
        set(num.value === "" ? undefined : (t === "integer" ? parseInt(num.value, 10) : parseFloat(num.value)));
        changed();
      });
      return num;
    }
    if (t === "expression") return exprInput(value, set, id);
    var long = (s.maxLength || 0) > 400 || key === "body" || key === "description";
    var input = h(long ? "textarea" : "input", { class: "form-control form-control-sm", id: id, type: long ? null : "text",
      rows: long ? "3" : null, maxlength: s.maxLength, list: listFor(key, ctx), autocomplete: "off" });
    input.value = value === undefined ? "" : String(value);
    input.addEventListener("change", function () { set(input.value.trim() === "" ? undefined : input.value.trim()); changed(); });
    return input;
  }

  function exprInput(value, set, id) {
    var input = h("input", { class: "form-control form-control-sm font-monospace", type: "text", id: id, spellcheck: "false",
      autocomplete: "off" });
    input.value = value || "";
    var fb = h("div", { class: "invalid-feedback" });
    function check() {
      var text = input.value;
      if (!text.trim()) { input.classList.remove("is-invalid", "is-valid"); return; }
      fetch(data.check_url, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify({ expression: text }) })
        .then(function (r) { return r.json(); }).then(function (res) {
          if (input.value !== text) return;
          input.classList.toggle("is-invalid", !res.ok);
          input.classList.toggle("is-valid", !!res.ok);
          input.setAttribute("data-check", res.ok ? "ok" : "error");
          fb.textContent = res.ok ? "" : tx("expr_error") + res.message;
        }).catch(function () {});
    }
    input.addEventListener("input", function () { clearTimeout(timers[id]); timers[id] = setTimeout(check, 250); });
    input.addEventListener("change", function () { set(input.value.trim() || undefined); changed(); });
    if (value) setTimeout(check, 0);
    return h("div", { id: id + "-wrap" }, [input, fb]);
  }

  function labelInput(value, set, id, multiline) {
    var v = typeof value === "string" ? { zh: value, en: "" } : (value || {});
    var tag = multiline ? "textarea" : "input";
    var zh = h(tag, { class: "form-control form-control-sm", id: id + "-zh", rows: multiline ? "3" : null, "aria-label": "中文" });
    var en = h(tag, { class: "form-control form-control-sm", id: id + "-en", rows: multiline ? "3" : null, "aria-label": "English" });
    zh.value = v.zh || "";
    en.value = v.en || "";
    function fire() {
      var a = zh.value.trim(), b = en.value.trim();
      set(!a && !b ? undefined : (a && b ? { zh: a, en: b } : (multiline ? (a || b) : (a ? { zh: a } : { en: b }))));
      changed();
    }
    zh.addEventListener("change", fire);
    en.addEventListener("change", fire);
    return h("div", { class: "tf-ed-label", id: id }, [
      h("div", { class: "input-group input-group-sm" }, [h("span", { class: "input-group-text", text: "中" }), zh]),
      h("div", { class: "input-group input-group-sm mt-1" }, [h("span", { class: "input-group-text", text: "EN" }), en])
    ]);
  }

  function mapInput(s, value, set, ptr) {
    var obj = value && typeof value === "object" ? value : {};
    var box = h("div", { class: "tf-ed-map", id: ptrId(ptr) });
    var valueSchema = s.additionalProperties && typeof s.additionalProperties === "object" ? s.additionalProperties : { type: "string" };
    var isExpr = typeOf(s) === "map" && valueSchema.type === "string" && (s.description || "").indexOf("expression") >= 0;
    function commit(rows) {
      var out = {};
      rows.forEach(function (r) { if (r.k) out[r.k] = coerce(r.v); });
      set(Object.keys(out).length ? out : undefined);
      changed();
    }
    function coerce(v) {
      if (typeOf(s) !== "freeobject") return v;
      if (v === "true") return true;
      if (v === "false") return false;
      if (/^-?\d+(\.\d+)?$/.test(v)) return parseFloat(v);
      return v;
    }
    var rows = Object.keys(obj).map(function (k) { return { k: k, v: String(obj[k]) }; });
    function draw() {
      box.innerHTML = "";
      rows.forEach(function (r, i) {
        var k = h("input", { class: "form-control form-control-sm font-monospace", value: r.k, "aria-label": tx("key"), placeholder: tx("key"),
          id: ptrId(ptr) + "-k" + i, list: typeOf(s) === "freeobject" ? null : listFor("field") });
        k.addEventListener("change", function () { r.k = k.value.trim(); commit(rows); });
        var v;
        if (isExpr) {
          v = exprInput(r.v, function (x) { r.v = x || ""; commit(rows); }, ptrId(ptr) + "-v" + i);
        } else {
          v = h("input", { class: "form-control form-control-sm", value: r.v, "aria-label": tx("value"), placeholder: tx("value"),
            id: ptrId(ptr) + "-v" + i });
          v.addEventListener("change", function () { r.v = v.value; commit(rows); });
        }
        var del = h("button", { class: "btn btn-sm btn-outline-danger", type: "button", title: tx("remove"), "aria-label": tx("remove"),
          onclick: function () { rows.splice(i, 1); commit(rows); draw(); } }, [h("i", { class: "bi bi-x-lg" })]);
        box.appendChild(h("div", { class: "tf-ed-maprow mb-2" }, [k, v, del]));
      });
      box.appendChild(h("button", { class: "btn btn-sm btn-outline-primary", type: "button", id: ptrId(ptr) + "-add",
        onclick: function () { rows.push({ k: "", v: "" }); draw(); } }, [h("i", { class: "bi bi-plus-lg me-1" }), tx("add_row")]));
    }
    draw();
    return box;
  }

  function scalarArray(s, value, set, ptr, key, ctx) {
    var items = s.items || {};
    var list = Array.isArray(value) ? value.slice() : [];
    if (items["enum"]) {
      var box = h("div", { class: "tf-ed-checks", id: ptrId(ptr) });
      items["enum"].forEach(function (v, i) {
        var id = ptrId(ptr) + "-" + i;
        var cb = h("input", { class: "form-check-input", type: "checkbox", id: id });
        cb.checked = list.indexOf(v) >= 0;
        cb.addEventListener("change", function () {
          list = items["enum"].filter(function (x, j) { return document.getElementById(ptrId(ptr) + "-" + j).checked; });
          set(list.length ? list : undefined);
          changed();
        });
        box.appendChild(h("div", { class: "form-check form-check-inline" }, [cb, h("label", { class: "form-check-label small", for: id,
          text: tx("enum." + v, String(v)) })]));
      });
      return box;
    }
    var input = h("input", { class: "form-control form-control-sm", id: ptrId(ptr), placeholder: tx("comma_hint"),
      list: listFor(key === "fields" || key === "on_change_of" ? "field" : key, ctx) });
    input.value = list.join(", ");
    input.addEventListener("change", function () {
      var parts = input.value.split(/[,，、]/).map(function (x) { return x.trim(); }).filter(Boolean);
      var typed = parts.map(function (p) { return (items.type === "number" || (Array.isArray(items.type) && /^-?\d+(\.\d+)?$/.test(p) && items.type.indexOf("number") >= 0)) ? parseFloat(p) : p; });
      set(typed.length ? typed : undefined);
      changed();
    });
    return input;
  }

  function objectArray(s, value, set, ptr, key) {
    var list = Array.isArray(value) ? value : [];
    var box = h("div", { class: "tf-ed-list", id: ptrId(ptr) });
    function draw() {
      box.innerHTML = "";
      list.forEach(function (item, i) {
        var head = h("div", { class: "tf-ed-item-head d-flex align-items-center gap-2" }, [
          h("span", { class: "badge rounded-pill text-bg-light border", text: String(i + 1) }),
          h("span", { class: "small fw-semibold text-truncate flex-grow-1", text: itemTitle(item) }),
          h("button", { class: "btn btn-sm btn-link px-1", type: "button", title: tx("up"), "aria-label": tx("up"), disabled: i === 0,
            onclick: function () { list.splice(i - 1, 0, list.splice(i, 1)[0]); set(list); changed(); draw(); } }, [h("i", { class: "bi bi-arrow-up" })]),
          h("button", { class: "btn btn-sm btn-link px-1", type: "button", title: tx("down"), "aria-label": tx("down"), disabled: i === list.length - 1,
            onclick: function () { list.splice(i + 1, 0, list.splice(i, 1)[0]); set(list); changed(); draw(); } }, [h("i", { class: "bi bi-arrow-down" })]),
          h("button", { class: "btn btn-sm btn-link text-danger px-1", type: "button", title: tx("remove"), "aria-label": tx("remove"),
            id: ptrId(ptr + "/" + i) + "-remove",
            onclick: function () { list.splice(i, 1); set(list.length ? list : undefined); changed(); draw(); } }, [h("i", { class: "bi bi-trash" })])
        ]);
        var inner = h("div", { class: "tf-ed-item-body" });
        renderValue(s.items, item, function (v) { list[i] = v; set(list); head.querySelector(".fw-semibold").textContent = itemTitle(v); },
          ptr + "/" + i, inner, key, item);
        box.appendChild(h("div", { class: "tf-ed-item card mb-2", "data-ptr": ptr + "/" + i }, [h("div", { class: "card-body p-2 p-sm-3" }, [head, inner])]));
      });
      box.appendChild(h("button", { class: "btn btn-sm btn-outline-primary", type: "button", id: ptrId(ptr) + "-add",
        onclick: function () { list.push(emptyFor(s.items) || {}); set(list); changed(); draw(); } },
      [h("i", { class: "bi bi-plus-lg me-1" }), tx("add_item", "") + tx("item." + key, propLabel(key))]));
    }
    draw();
    return box;
  }

  function itemTitle(item) {
    if (!item || typeof item !== "object") return String(item || "");
    var label = item.label;
    if (label && typeof label === "object") label = label[data.lang] || label.zh || label.en;
    return label || item.id || item.name || item.field || (item.type ? tx("enum." + item.type, item.type) : "") || "";
  }

  function oneOfInput(s, value, set, ptr, key, ctx) {
    var variants = s.oneOf;
    var current = variants.findIndex(function (v) { return variantMatches(v, value); });
    if (current < 0) current = value === undefined ? -1 : 0;
    var id = ptrId(ptr) + "-variant";
    var sel = h("select", { class: "form-select form-select-sm mb-2 tf-ed-variant", id: id });
    if (current < 0) sel.appendChild(h("option", { value: "-1", text: tx("choose") }));
    variants.forEach(function (v, i) {
      var name = variantName(v, i);
      sel.appendChild(h("option", { value: String(i), text: tx("variant." + name, tx("enum." + name, propLabel(name))), selected: i === current }));
    });
    var holder = h("div", { class: "tf-ed-variant-body" });
    function draw(i, val) {
      holder.innerHTML = "";
      if (i < 0) return;
      var v = variants[i];
      var own = Object.assign({}, v);
      if (!own.type && s.type) own.type = s.type;
      if (!own.properties && s.properties) own.properties = s.properties;
      renderValue(own, val, set, ptr, holder, key, ctx, true);
    }
    sel.addEventListener("change", function () {
      var i = parseInt(sel.value, 10);
      var v = variants[i];
      var fresh = emptyFor(Object.assign({ type: s.type }, v));
      if (fresh && typeof fresh === "object" && v.properties && v.properties.type && v.properties.type["const"] !== undefined) fresh.type = v.properties.type["const"];
      if (fresh && typeof fresh === "object" && v.required) v.required.forEach(function (k) { if (!(k in fresh)) fresh[k] = undefined; });
      set(fresh);
      changed();
      draw(i, fresh);
    });
    draw(current, value);
    return h("div", { class: "tf-ed-oneof", id: ptrId(ptr) }, [sel, holder]);
  }

  /* Draw `value` (described by schema s) into `into`; `set` stores a new value in the parent. */
  function renderValue(s, value, set, ptr, into, key, ctx, bare) {
    var t = typeOf(s);
    if (t === "object") {
      var obj = value && typeof value === "object" && !Array.isArray(value) ? value : {};
      if (obj !== value) set(obj);
      var grid = h("div", { class: "row g-x-3 tf-ed-grid" });
      Object.keys(s.properties || {}).forEach(function (k) {
        var sub = s.properties[k];
        if (sub["const"] !== undefined && (s.required || []).indexOf(k) >= 0) { obj[k] = sub["const"]; return; }
        if (sub["const"] !== undefined) {  // an optional fixed value (e.g. recipient "owner": true) is a switch
          var cid = ptrId(ptr + "/" + k);
          var cb = h("input", { class: "form-check-input", type: "checkbox", id: cid, role: "switch" });
          cb.checked = obj[k] === sub["const"];
          cb.addEventListener("change", function () { if (cb.checked) obj[k] = sub["const"]; else delete obj[k]; changed(); });
          grid.appendChild(h("div", { class: "col-12 col-md-6" }, [wrapField(propLabel(k), h("div", { class: "form-check form-switch" }, [cb]),
            { ptr: ptr + "/" + k })]));
          return;
        }
        if (ptr === "" && k === "id" && !data.is_new) {
          grid.appendChild(h("div", { class: "col-12 col-md-6" }, [wrapField(propLabel("id"),
            h("input", { class: "form-control form-control-sm font-monospace", id: "ed-id", value: obj.id || "", readonly: true }), { ptr: "/id" })]));
          return;
        }
        var required = (s.required || []).indexOf(k) >= 0;
        var st = typeOf(sub);
        var wide = ["object", "array", "oneOf", "map", "freeobject", "text"].indexOf(st) >= 0 || (sub.maxLength || 0) > 400 || k === "description";
        var col = h("div", { class: wide ? "col-12" : "col-12 col-md-6" });
        var childPtr = ptr + "/" + k;
        var setter = function (v) { if (v === undefined) delete obj[k]; else obj[k] = v; };
        var holder = h("div", {});
        if (st === "object" && !required && obj[k] === undefined) {
          holder.appendChild(h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", id: ptrId(childPtr) + "-enable",
            onclick: function () { obj[k] = emptyFor(sub); changed(); holder.innerHTML = ""; renderValue(sub, obj[k], setter, childPtr, holder, k, obj); } },
          [h("i", { class: "bi bi-plus-lg me-1" }), tx("add_item", "") + propLabel(k)]));
        } else {
          renderValue(sub, obj[k], setter, childPtr, holder, k, obj);
        }
        col.appendChild(st === "object" || st === "oneOf"
          ? h("fieldset", { class: "tf-ed-group mb-3", "data-ptr": childPtr }, [h("legend", { class: "small fw-semibold" }, [propLabel(k),
            required ? h("span", { class: "text-danger ms-1", text: "*" }) : null]), holder,
          h("div", { class: "invalid-feedback d-block tf-ed-error", "data-error-for": childPtr })])
          : wrapField(propLabel(k), holder, { required: required, ptr: childPtr, help: tx("help." + k, "") }));
        if (holder.firstChild && holder.firstChild.id && col.querySelector("label.form-label")) {
          col.querySelector("label.form-label").setAttribute("for", holder.querySelector("input,select,textarea") ? holder.querySelector("input,select,textarea").id : "");
        }
        grid.appendChild(col);
      });
      into.appendChild(grid);
      return;
    }
    var control;
    if (t === "oneOf") control = oneOfInput(s, value, set, ptr, key, ctx);
    else if (t === "label") control = labelInput(value, function (v) { set(v); }, ptrId(ptr), false);
    else if (t === "text") control = labelInput(value, function (v) { set(v); }, ptrId(ptr), true);
    else if (t === "map" || t === "freeobject") control = mapInput(s, value, set, ptr);
    else if (t === "array") {
      var it = typeOf(s.items || {});
      control = (it === "object" || it === "oneOf" || it === "freeobject") ? objectArray(s, value, set, ptr, key) : scalarArray(s, value, set, ptr, key, ctx);
    } else control = scalarInput(s, value, set, ptr, key, ctx);
    into.appendChild(control);
    if (bare) return;
  }

  // follow-up timeline ------------------------------------------------------------------------------
  function drawTimeline() {
    var box = document.getElementById("fu-timeline");
    if (!box) return;
    box.innerHTML = "";
    var steps = (doc.steps || []).map(function (s) {
      var off = s.offset || {};
      return { s: s, at: (off.days || 0) + (off.hours || 0) / 24 };
    }).sort(function (a, b) { return a.at - b.at; });
    if (!steps.length) { box.appendChild(h("p", { class: "small text-body-secondary mb-0", text: tx("timeline_empty") })); return; }
    var min = Math.min(0, steps[0].at), max = Math.max(1, steps[steps.length - 1].at);
    var track = h("div", { class: "tf-fu-track" });
    track.appendChild(h("div", { class: "tf-fu-anchor", style: "left:" + ((0 - min) / (max - min) * 100) + "%" }, [
      h("span", { class: "tf-fu-anchor-label", text: tx("anchor_day") + (doc.anchor ? "（" + doc.anchor + "）" : "") })]));
    steps.forEach(function (x, i) {
      var left = (x.at - min) / (max - min) * 100;
      var label = x.s.label && typeof x.s.label === "object" ? (x.s.label[data.lang] || x.s.label.zh || x.s.label.en) : (x.s.label || x.s.id || "");
      var day = x.at === Math.round(x.at) ? x.at : x.at.toFixed(1);
      track.appendChild(h("div", { class: "tf-fu-dot tf-fu-ch-" + (x.s.channel || "none") + (i % 2 ? " tf-fu-low" : ""),
        style: "left:" + left + "%", "data-step": x.s.id || "", title: label }, [
        h("i", { class: "bi " + ({ sms: "bi-chat-dots", email: "bi-envelope", in_app: "bi-bell", phone: "bi-telephone", visit: "bi-house-heart", review: "bi-clipboard2-pulse" }[x.s.channel] || "bi-circle") }),
        h("span", { class: "tf-fu-dot-label" }, [h("strong", { text: tx("day_n").replace("{n}", (day > 0 ? "+" : "") + day) }), h("br"), label])
      ]));
    });
    box.appendChild(track);
  }

  // errors, save ------------------------------------------------------------------------------------
  function showProblems(box, list, title) {
    box.innerHTML = "";
    document.querySelectorAll(".tf-ed-error").forEach(function (e) { e.textContent = ""; });
    document.querySelectorAll(".tf-ed-has-error").forEach(function (e) { e.classList.remove("tf-ed-has-error"); });
    if (!list.length) { box.classList.add("d-none"); return; }
    box.classList.remove("d-none");
    box.appendChild(h("div", { class: "fw-semibold mb-1", text: title }));
    var ul = h("ul", { class: "mb-0 small" });
    list.forEach(function (p) {
      var where = p.pointer ? p.pointer.split("/").filter(Boolean).map(function (seg) { return /^\d+$/.test(seg) ? "#" + (+seg + 1) : propLabel(seg); }).join(" › ") : "";
      ul.appendChild(h("li", {}, [where ? h("strong", { text: where + "：" }) : null, p.message]));
      var ptr = p.pointer || "";
      while (ptr) {
        var slot = document.querySelector('[data-error-for="' + ptr.replace(/"/g, "") + '"]');
        if (slot) { slot.textContent = p.message; slot.parentElement.classList.add("tf-ed-has-error"); break; }
        ptr = ptr.slice(0, ptr.lastIndexOf("/"));
      }
    });
    box.appendChild(ul);
  }

  function save() {
    statusEl.textContent = tx("saving");
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    var clean = prune(doc) || {};
    return fetch(data.save_url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify({ doc: clean }) })
      .then(function (r) { return r.json(); }).then(function (res) {
        if (res.ok) {
          dirty = false;
          showProblems(document.getElementById("doc-errors"), [], "");
          showProblems(document.getElementById("doc-warnings"), res.warnings || [], tx("warnings_title"));
          statusEl.textContent = res.message;
          statusEl.className = "small ms-auto text-success";
          root.setAttribute("data-saved", String(Date.now()));
          if (res.redirect) window.location.assign(res.redirect);
          return true;
        }
        showProblems(document.getElementById("doc-errors"), res.errors || [], tx("errors_title"));
        statusEl.textContent = tx("not_saved");
        statusEl.className = "small ms-auto text-danger";
        root.setAttribute("data-save-failed", String(Date.now()));
        return false;
      });
  }

  renderValue(data.schema, doc, function (v) { doc = v; }, "", body, "", doc);
  drawTimeline();
  document.getElementById("doc-save").addEventListener("click", save);
  window.addEventListener("beforeunload", function (evt) { if (dirty) { evt.preventDefault(); evt.returnValue = ""; } });
  window.tfDocEditor = { doc: function () { return prune(doc); }, save: save };
})();
