/* Flow designer side panel (ui/routes/builder_flows.py): binds the selected BPMN element to what the
   workflow host reads (workflows/README.md, runtime/workflows/assignment.py):
   - user task: spiffworkflow:properties form, role, assignee, due, outcomes, pool
   - start event: properties entity, form, starter_roles
   - lane: its name is the role id (Spiff gives a task its lane's name as the role)
   - timer event: timeDuration, an expression, so the ISO duration is written quoted ('PT2H')
   - service task: spiffworkflow:serviceTaskOperator id=<action> with parameters (expressions)
   - gateway / sequence flow: conditionExpression in the expression language, default flow
   Exposes window.TfFlowPanel = {moddleExtension, render(element), problems()}. */
(function () {
  "use strict";

  var NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var SPIFF = {
    name: "SpiffWorkflow", prefix: "spiffworkflow", uri: NS, xml: { tagAlias: "lowerCase" }, associations: [],
    types: [
      { name: "Properties", superClass: ["Element"], properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"], properties: [
        { name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "ServiceTaskOperator", superClass: ["Element"], properties: [
        { name: "id", isAttr: true, type: "String" }, { name: "resultVariable", isAttr: true, type: "String" },
        { name: "parameterList", type: "Parameters" }] },
      { name: "Parameters", superClass: ["Element"], properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      { name: "Parameter", superClass: ["Element"], properties: [
        { name: "id", isAttr: true, type: "String" }, { name: "type", isAttr: true, type: "String" },
        { name: "value", isAttr: true, type: "String" }] }
    ]
  };

  var state = { modeler: null, data: null, texts: {}, onChange: function () {}, checkTimer: {} };

  function tx(key) { return state.texts[key] || key; }

  /* tiny DOM builder: h("div", {class: "x", onclick: fn}, [children]) */
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
      if (c === null || c === undefined) return;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function svc(name) { return state.modeler.get(name); }
  function is(bo, type) { return bo && typeof bo.$instanceOf === "function" && bo.$instanceOf(type); }

  // spiffworkflow:properties ------------------------------------------------------------------------
  function extValues(bo) { return (bo.extensionElements && bo.extensionElements.get("values")) || []; }
  function findExt(bo, type) { return extValues(bo).find(function (v) { return v.$type === type; }) || null; }

  function ensureExt(bo, type, attrs) {
    var moddle = svc("moddle");
    if (!bo.extensionElements) {
      bo.extensionElements = moddle.create("bpmn:ExtensionElements", { values: [] });
      bo.extensionElements.$parent = bo;
    }
    var found = findExt(bo, type);
    if (!found) {
      found = moddle.create(type, attrs || {});
      found.$parent = bo.extensionElements;
      bo.extensionElements.get("values").push(found);
    }
    return found;
  }

  function dropEmptyExt(bo) {
    if (bo.extensionElements && !extValues(bo).length) bo.extensionElements = undefined;
  }

  function getProp(bo, name) {
    var props = findExt(bo, "spiffworkflow:Properties");
    if (!props) return "";
    var p = props.get("properties").find(function (x) { return x.name === name; });
    return p ? (p.value || "") : "";
  }

  function setProp(bo, name, value) {
    value = (value || "").trim();
    var props = value ? ensureExt(bo, "spiffworkflow:Properties", { properties: [] }) : findExt(bo, "spiffworkflow:Properties");
    if (!props) return;
    var list = props.get("properties");
    var found = list.find(function (x) { return x.name === name; });
    if (!value) {
      if (found) list.splice(list.indexOf(found), 1);
      if (!list.length) {
        var values = extValues(bo);
        values.splice(values.indexOf(props), 1);
        dropEmptyExt(bo);
      }
    } else if (found) {
      found.value = value;
    } else {
      found = svc("moddle").create("spiffworkflow:Property", { name: name, value: value });
      found.$parent = props;
      list.push(found);
    }
    state.onChange();
  }

  // durations: ISO 8601 <-> number + unit -------------------------------------------------------------
  function parseDuration(text) {
    var m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec((text || "").trim().toUpperCase());
    if (!m) return { n: "", unit: "H" };
    if (m[1] && !m[2] && !m[3]) return { n: m[1], unit: "D" };
    if (m[3] && !m[1] && !m[2]) return { n: m[3], unit: "M" };
    var hours = (+m[1] || 0) * 24 + (+m[2] || 0);
    return { n: hours ? String(hours) : "", unit: "H" };
  }
  function isoDuration(n, unit) {
    n = parseInt(n, 10);
    if (!n || n < 0) return "";
    return unit === "D" ? "P" + n + "D" : "PT" + n + unit;
  }

  // field widgets -----------------------------------------------------------------------------------
  var uid = 0;
  function field(label, control, help) {
    var id = control.id || ("fp-" + (++uid));
    control.id = id;
    return h("div", { class: "mb-3" }, [
      h("label", { class: "form-label small fw-semibold mb-1", for: id, text: label }), control,
      help ? h("div", { class: "form-text", text: help }) : null
    ]);
  }

  function textInput(value, onchange, attrs) {
    var input = h("input", Object.assign({ class: "form-control form-control-sm", type: "text", value: value || "" }, attrs || {}));
    input.addEventListener("change", function () { onchange(input.value); });
    return input;
  }

  function select(options, value, onchange, attrs) {
    var sel = h("select", Object.assign({ class: "form-select form-select-sm" }, attrs || {}));
    var known = false;
    options.forEach(function (o) {
      var opt = h("option", { value: o.value, text: o.label });
      if (o.value === (value || "")) { opt.selected = true; known = true; }
      sel.appendChild(opt);
    });
    if (value && !known) sel.appendChild(h("option", { value: value, selected: true, text: value + " (" + tx("unknown") + ")" }));
    sel.addEventListener("change", function () { onchange(sel.value); });
    return sel;
  }

  function durationInput(iso, onchange, idBase) {
    var d = parseDuration(iso);
    var num = h("input", { class: "form-control form-control-sm", type: "number", min: "0", step: "1", value: d.n, id: idBase,
      "aria-label": tx("duration") });
    var unit = h("select", { class: "form-select form-select-sm tf-flow-unit", id: idBase + "-unit", "aria-label": tx("unit") }, [
      h("option", { value: "M", text: tx("minutes") }), h("option", { value: "H", text: tx("hours") }),
      h("option", { value: "D", text: tx("days") })
    ]);
    unit.value = d.unit;
    function fire() { onchange(isoDuration(num.value, unit.value)); }
    num.addEventListener("change", fire);
    unit.addEventListener("change", fire);
    return h("div", { class: "input-group input-group-sm", id: idBase + "-group" }, [num, unit]);
  }

  /* An expression input checked as you type against /builder/_expression. */
  function exprInput(value, onchange, attrs) {
    var input = h("input", Object.assign({ class: "form-control form-control-sm font-monospace", type: "text", value: value || "",
      spellcheck: "false", autocomplete: "off" }, attrs || {}));
    var feedback = h("div", { class: "invalid-feedback" });
    var wrap = h("div", { class: "tf-flow-expr" }, [input, feedback]);
    function check() {
      var text = input.value;
      if (!text.trim()) { input.classList.remove("is-invalid", "is-valid"); return; }
      fetch(state.data.check_url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ expression: text })
      }).then(function (r) { return r.json(); }).then(function (res) {
        if (input.value !== text) return;
        input.classList.toggle("is-invalid", !res.ok);
        input.classList.toggle("is-valid", !!res.ok);
        input.setAttribute("data-check", res.ok ? "ok" : "error");
        feedback.textContent = res.ok ? "" : tx("expr_error") + res.message;
      }).catch(function () {});
    }
    input.addEventListener("input", function () {
      clearTimeout(state.checkTimer[input.id]);
      state.checkTimer[input.id] = setTimeout(check, 250);
    });
    input.addEventListener("change", function () { onchange(input.value.trim()); });
    if (value) setTimeout(check, 0);
    wrap.input = input;
    return wrap;
  }

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function optionsOf(list, blank) {
    var out = blank === undefined ? [] : [{ value: "", label: blank }];
    list.forEach(function (x) { out.push({ value: x.id, label: x.label === x.id ? x.id : x.label + " (" + x.id + ")" }); });
    return out;
  }

  // panels per element kind -------------------------------------------------------------------------
  function nameField(element) {
    var bo = element.businessObject;
    return field(tx("name"), textInput(bo.name, function (v) {
      svc("modeling").updateProperties(element, { name: v || undefined });
    }, { id: "fp-name" }));
  }

  function userTaskPanel(element) {
    var bo = element.businessObject;
    var outcomes = getProp(bo, "outcomes");
    return [
      field(tx("form"), select(optionsOf(state.data.forms, tx("no_form")), getProp(bo, "form"), function (v) { setProp(bo, "form", v); },
        { id: "fp-form" }), tx("form_help")),
      field(tx("role"), select(optionsOf(state.data.roles, tx("role_from_lane")), getProp(bo, "role"), function (v) { setProp(bo, "role", v); },
        { id: "fp-role" }), tx("role_help")),
      field(tx("assignee"), exprInput(getProp(bo, "assignee"), function (v) { setProp(bo, "assignee", v); }, { id: "fp-assignee",
        placeholder: "requester_manager" }), tx("assignee_help")),
      field(tx("outcomes"), select([
        { value: "", label: tx("outcomes_none") }, { value: "approve,reject", label: tx("outcomes_approve") },
        { value: "resubmit,abandon", label: tx("outcomes_resubmit") }
      ], outcomes, function (v) { setProp(bo, "outcomes", v); }, { id: "fp-outcomes" })),
      field(tx("due"), durationInput(getProp(bo, "due"), function (v) { setProp(bo, "due", v); }, "fp-due"), tx("due_help")),
      h("div", { class: "form-check mb-3" }, [
        (function () {
          var cb = h("input", { class: "form-check-input", type: "checkbox", id: "fp-pool" });
          cb.checked = getProp(bo, "pool") === "true";
          cb.addEventListener("change", function () { setProp(bo, "pool", cb.checked ? "true" : ""); });
          return cb;
        })(),
        h("label", { class: "form-check-label small", for: "fp-pool", text: tx("pool") })
      ])
    ];
  }

  function startPanel(element) {
    var bo = element.businessObject;
    var starters = getProp(bo, "starter_roles").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    var boxes = h("div", { class: "tf-flow-checks", id: "fp-starters" });
    var all = [{ id: "*", label: tx("everyone") }].concat(state.data.roles);
    all.forEach(function (r) {
      var id = "fp-starter-" + r.id.replace(/[^a-z0-9_]/gi, "_");
      var cb = h("input", { class: "form-check-input", type: "checkbox", id: id, value: r.id });
      cb.checked = starters.indexOf(r.id) >= 0;
      cb.addEventListener("change", function () {
        var chosen = Array.prototype.slice.call(boxes.querySelectorAll("input:checked")).map(function (x) { return x.value; });
        setProp(bo, "starter_roles", chosen.indexOf("*") >= 0 ? "*" : chosen.join(","));
      });
      boxes.appendChild(h("div", { class: "form-check" }, [cb, h("label", { class: "form-check-label small", for: id, text: r.label })]));
    });
    return [
      field(tx("entity"), select(optionsOf(state.data.entities, tx("no_entity")), getProp(bo, "entity"), function (v) { setProp(bo, "entity", v); },
        { id: "fp-entity" }), tx("entity_help")),
      field(tx("start_form"), select(optionsOf(state.data.forms, tx("no_form")), getProp(bo, "form"), function (v) { setProp(bo, "form", v); },
        { id: "fp-start-form" })),
      h("div", { class: "mb-3" }, [h("div", { class: "form-label small fw-semibold mb-1", text: tx("starters") }), boxes,
        h("div", { class: "form-text", text: tx("starters_help") })])
    ];
  }

  function lanePanel(element) {
    var bo = element.businessObject;
    return [field(tx("lane_role"), select(optionsOf(state.data.roles, tx("choose")), bo.name || "", function (v) {
      svc("modeling").updateProperties(element, { name: v || undefined });
    }, { id: "fp-lane-role" }), tx("lane_help"))];
  }

  function timerPanel(element, def) {
    var current = def.timeDuration && def.timeDuration.body ? def.timeDuration.body.replace(/^['"]|['"]$/g, "") : "";
    return [field(tx("timer"), durationInput(current, function (v) {
      var expr = v ? svc("moddle").create("bpmn:FormalExpression", { body: "'" + v + "'" }) : undefined;
      if (expr) expr.$parent = def;
      svc("modeling").updateModdleProperties(element, def, { timeDuration: expr, timeDate: undefined, timeCycle: undefined });
    }, "fp-timer"), tx("timer_help"))];
  }

  function servicePanel(element) {
    var bo = element.businessObject;
    var op = findExt(bo, "spiffworkflow:ServiceTaskOperator");
    var rows = h("div", { id: "fp-params" });
    function params() { return op && op.parameterList ? op.parameterList.get("parameters") : []; }
    function setAction(name) {
      if (!name) {
        if (op) { extValues(bo).splice(extValues(bo).indexOf(op), 1); dropEmptyExt(bo); op = null; }
      } else {
        op = ensureExt(bo, "spiffworkflow:ServiceTaskOperator", { id: name });
        op.id = name;
        if (!op.parameterList) {
          op.parameterList = svc("moddle").create("spiffworkflow:Parameters", { parameters: [] });
          op.parameterList.$parent = op;
        }
        var action = state.data.actions.find(function (a) { return a.id === name; });
        (action ? action.params : []).forEach(function (p) {
          if (!params().some(function (x) { return x.id === p; })) addParam(p, "");
        });
      }
      state.onChange();
      drawRows();
    }
    function addParam(id, value) {
      var p = svc("moddle").create("spiffworkflow:Parameter", { id: id, type: "any", value: value });
      p.$parent = op.parameterList;
      op.parameterList.get("parameters").push(p);
    }
    function drawRows() {
      rows.innerHTML = "";
      if (!op) return;
      params().forEach(function (p, i) {
        var nameIn = h("input", { class: "form-control form-control-sm font-monospace", value: p.id || "", "aria-label": tx("param_name"),
          id: "fp-param-name-" + i });
        nameIn.addEventListener("change", function () { p.id = nameIn.value.trim(); state.onChange(); });
        var val = exprInput(p.value, function (v) { p.value = v; state.onChange(); }, { id: "fp-param-" + (p.id || i),
          "aria-label": tx("param_value"), placeholder: tx("param_value") });
        var del = h("button", { class: "btn btn-sm btn-outline-danger", type: "button", "aria-label": tx("remove"), title: tx("remove"),
          onclick: function () { params().splice(i, 1); state.onChange(); drawRows(); } }, [h("i", { class: "bi bi-x-lg" })]);
        rows.appendChild(h("div", { class: "tf-flow-param mb-2" }, [nameIn, val, del]));
      });
      rows.appendChild(h("button", { class: "btn btn-sm btn-outline-primary", type: "button", id: "fp-param-add",
        onclick: function () { addParam("", ""); state.onChange(); drawRows(); } }, [h("i", { class: "bi bi-plus-lg me-1" }), tx("add_param")]));
    }
    drawRows();
    return [
      field(tx("action"), select(optionsOf(state.data.actions.map(function (a) { return { id: a.id, label: tx("action." + a.id) }; }),
        tx("choose")), op ? op.id : "", setAction, { id: "fp-action" }), tx("action_help")),
      h("div", { class: "mb-3" }, [h("div", { class: "form-label small fw-semibold mb-1", text: tx("params") }), rows,
        h("div", { class: "form-text", text: tx("params_help") })])
    ];
  }

  function flowCondition(flowEl, withName) {
    var bo = flowEl.businessObject;
    var gateway = bo.sourceRef;
    var isDefault = gateway && gateway.default === bo;
    var idBase = "fp-cond-" + bo.id;
    var cond = exprInput(bo.conditionExpression ? bo.conditionExpression.body : "", function (v) {
      var expr;
      if (v) { expr = svc("moddle").create("bpmn:FormalExpression", { body: v }); }
      svc("modeling").updateProperties(flowEl, { conditionExpression: expr });
    }, { id: idBase, placeholder: isDefault ? tx("default_flow") : "outcome == 'approve'", disabled: isDefault });
    var def = h("input", { class: "form-check-input", type: "checkbox", id: idBase + "-default" });
    def.checked = isDefault;
    def.addEventListener("change", function () {
      var gwEl = svc("elementRegistry").get(gateway.id);
      svc("modeling").updateProperties(gwEl, { "default": def.checked ? bo : undefined });
      if (def.checked && bo.conditionExpression) svc("modeling").updateProperties(flowEl, { conditionExpression: undefined });
      render(svc("selection").get()[0] || null);
    });
    var target = bo.targetRef ? (bo.targetRef.name || bo.targetRef.id) : "?";
    return h("div", { class: "tf-flow-cond mb-3", "data-flow": bo.id }, [
      withName ? h("div", { class: "small fw-semibold mb-1" }, [h("i", { class: "bi bi-arrow-right me-1" }), tx("to") + " " + target]) : null,
      withName ? null : field(tx("name"), textInput(bo.name, function (v) { svc("modeling").updateProperties(flowEl, { name: v || undefined }); },
        { id: "fp-name" })),
      h("label", { class: "form-label small mb-1", for: idBase, text: tx("condition") }), cond,
      h("div", { class: "form-check mt-1" }, [def, h("label", { class: "form-check-label small", for: idBase + "-default", text: tx("default_flow") })])
    ]);
  }

  function gatewayPanel(element) {
    var registry = svc("elementRegistry");
    var out = (element.businessObject.outgoing || []).map(function (f) { return registry.get(f.id); }).filter(Boolean);
    if (out.length < 2) return [h("p", { class: "small text-body-secondary", text: tx("gateway_few") })];
    return [h("div", { class: "small text-body-secondary mb-2", text: tx("gateway_help") })].concat(out.map(function (f) { return flowCondition(f, true); }));
  }

  function typeLabel(bo) {
    var t = bo.$type;
    if (is(bo, "bpmn:StartEvent") && bo.eventDefinitions && bo.eventDefinitions.length) t = "bpmn:StartEvent.timer";
    if (is(bo, "bpmn:IntermediateCatchEvent") || is(bo, "bpmn:BoundaryEvent")) t = "bpmn:TimerEvent";
    return tx("type." + t) === "type." + t ? bo.$type.replace("bpmn:", "") : tx("type." + t);
  }

  function render(element) {
    var body = document.getElementById("flow-panel-body");
    if (!body) return;
    body.innerHTML = "";
    if (!element || element.type === "label") {
      element = element && element.labelTarget ? element.labelTarget : null;
    }
    if (!element) {
      body.appendChild(h("p", { class: "text-body-secondary small mb-0", text: tx("select_hint") }));
      body.setAttribute("data-element", "");
      return;
    }
    var bo = element.businessObject;
    body.setAttribute("data-element", bo.id);
    body.appendChild(h("div", { class: "d-flex align-items-center gap-2 mb-3" }, [
      h("span", { class: "badge text-bg-primary-subtle border border-primary-subtle text-primary-emphasis", text: typeLabel(bo) }),
      h("span", { class: "small text-body-secondary font-monospace text-truncate", text: bo.id })
    ]));
    var parts = [];
    var timer = (bo.eventDefinitions || []).find(function (d) { return is(d, "bpmn:TimerEventDefinition"); });
    if (is(bo, "bpmn:Lane")) parts = lanePanel(element);
    else if (is(bo, "bpmn:SequenceFlow")) {
      parts = is(bo.sourceRef, "bpmn:ExclusiveGateway") || is(bo.sourceRef, "bpmn:InclusiveGateway")
        ? [flowCondition(element, false)] : [nameField(element)];
    } else {
      parts = [nameField(element)];
      if (is(bo, "bpmn:UserTask")) parts = parts.concat(userTaskPanel(element));
      else if (is(bo, "bpmn:StartEvent") && !(bo.eventDefinitions || []).length) parts = parts.concat(startPanel(element));
      else if (timer) parts = parts.concat(timerPanel(element, timer));
      else if (is(bo, "bpmn:ServiceTask")) parts = parts.concat(servicePanel(element));
      else if (is(bo, "bpmn:ExclusiveGateway") || is(bo, "bpmn:InclusiveGateway")) parts = parts.concat(gatewayPanel(element));
      else if (is(bo, "bpmn:Task") && !is(bo, "bpmn:ScriptTask")) parts.push(h("p", { class: "small text-body-secondary", text: tx("task_hint") }));
    }
    parts.forEach(function (p) { body.appendChild(p); });
  }

  /* Designer-level hints before saving: tasks without form or role, gateways without conditions. */
  function problems() {
    var out = [];
    svc("elementRegistry").getAll().forEach(function (el) {
      var bo = el.businessObject;
      if (!bo || el.type === "label") return;
      if (is(bo, "bpmn:UserTask")) {
        if (!getProp(bo, "form")) out.push({ element: bo.id, message: tx("hint_no_form") });
        var lane = (bo.lanes || [])[0] || null;
        var inLane = svc("elementRegistry").filter(function (x) {
          return is(x.businessObject, "bpmn:Lane") && (x.businessObject.flowNodeRef || []).indexOf(bo) >= 0;
        }).length;
        if (!getProp(bo, "role") && !getProp(bo, "assignee") && !lane && !inLane) out.push({ element: bo.id, message: tx("hint_no_role") });
      }
      if ((is(bo, "bpmn:ExclusiveGateway") || is(bo, "bpmn:InclusiveGateway")) && (bo.outgoing || []).length > 1) {
        var bare = bo.outgoing.filter(function (f) { return !f.conditionExpression && bo.default !== f; });
        if (bare.length) out.push({ element: bo.id, message: tx("hint_no_condition") });
      }
    });
    return out;
  }

  window.TfFlowPanel = {
    moddleExtension: SPIFF,
    init: function (modeler, data, texts, onChange) {
      state.modeler = modeler; state.data = data; state.texts = texts || {}; state.onChange = onChange || function () {};
    },
    render: render,
    problems: problems,
    tx: tx
  };
})();
