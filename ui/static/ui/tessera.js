/* Tessera UI conveniences on top of server-rendered pages and htmx.
 *
 * The server decides everything (validation, visibility, required, computed values); this file
 * only applies the states it sends, adds/removes child-table rows, drives the reference picker,
 * file chips, toasts, and the kanban drag-and-drop. Pages keep working as plain forms without it.
 */
(function () {
  "use strict";

  /* ---- form states from /r/{entity}/_form (an out-of-band <ul id="tf-state">) ---- */
  function applyFormState() {
    var list = document.getElementById("tf-state");
    var form = document.getElementById("record-form");
    if (!list || !form) return;
    list.querySelectorAll("li[data-field]").forEach(function (item) {
      var wrapper = document.getElementById("fw-" + item.dataset.field);
      if (!wrapper) return;
      var visible = item.dataset.visible === "true";
      var required = item.dataset.required === "true";
      var readOnly = item.dataset.readonly === "true";
      wrapper.classList.toggle("d-none", !visible);
      wrapper.classList.toggle("is-required", required);
      wrapper.classList.toggle("is-readonly", readOnly);
      wrapper.querySelectorAll("input:not([type=hidden]), textarea, select").forEach(function (input) {
        if (required) input.setAttribute("aria-required", "true"); else input.removeAttribute("aria-required");
        if (input.closest(".tf-readonly")) return;
        if (input.tagName === "SELECT" || input.type === "checkbox" || input.type === "radio") {
          input.disabled = readOnly;
        } else {
          input.readOnly = readOnly;
        }
      });
    });
    form.querySelectorAll("fieldset.tf-section").forEach(function (section) {
      var fields = section.querySelectorAll(".tf-field");
      var anyVisible = Array.prototype.some.call(fields, function (f) { return !f.classList.contains("d-none"); });
      section.classList.toggle("d-none", fields.length > 0 && !anyVisible);
    });
  }

  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    if (evt.target && evt.target.id === "tf-state") applyFormState();
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.id === "record-form") applyFormState();
  });

  /* ---- child tables: add and remove rows ---- */
  function renumber(child) {
    child.querySelectorAll("[data-tf-rows] > tr").forEach(function (row, i) {
      var cell = row.querySelector("[data-tf-rownum]");
      if (cell) cell.textContent = String(i + 1);
    });
  }

  function addRow(child) {
    var template = child.querySelector("template[data-tf-row-template]");
    var body = child.querySelector("[data-tf-rows]");
    if (!template || !body) return;
    var index = parseInt(child.dataset.nextRow || "0", 10);
    child.dataset.nextRow = String(index + 1);
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.split("__row__").join(String(index));
    var row = holder.firstElementChild;
    body.appendChild(row);
    if (window.htmx) window.htmx.process(row);
    renumber(child);
    var first = row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }

  function changed(element) {
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  /* ---- reference picker ---- */
  function pick(button) {
    var box = button.closest("[data-tf-ref]");
    if (!box) return;
    var value = box.querySelector("[data-tf-ref-value]");
    var search = box.querySelector("[data-tf-ref-search]");
    value.value = button.dataset.id;
    search.value = button.dataset.title;
    box.querySelector(".tf-ref-results").innerHTML = "";
    changed(value);
  }

  function clearReference(box) {
    var value = box.querySelector("[data-tf-ref-value]");
    box.querySelector("[data-tf-ref-search]").value = "";
    box.querySelector(".tf-ref-results").innerHTML = "";
    if (value.value !== "") { value.value = ""; changed(value); }
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target.closest("[data-tf-add-row], [data-tf-remove-row], [data-tf-ref-pick], [data-tf-ref-clear], " +
      "[data-tf-file-remove], [data-tf-clear-radios], [data-tf-goto-tab]");
    if (!target) {
      document.querySelectorAll(".tf-ref-results").forEach(function (r) {
        if (!r.parentElement.contains(evt.target)) r.innerHTML = "";
      });
      return;
    }
    if (target.hasAttribute("data-tf-add-row")) {
      addRow(target.closest("[data-tf-child]"));
    } else if (target.hasAttribute("data-tf-remove-row")) {
      var child = target.closest("[data-tf-child]");
      target.closest("tr").remove();
      renumber(child);
      changed(child);
    } else if (target.hasAttribute("data-tf-ref-pick")) {
      pick(target);
    } else if (target.hasAttribute("data-tf-ref-clear")) {
      clearReference(target.closest("[data-tf-ref]"));
    } else if (target.hasAttribute("data-tf-file-remove")) {
      var files = target.closest("[data-tf-files]");
      target.closest(".tf-file-chip").remove();
      changed(files);
    } else if (target.hasAttribute("data-tf-clear-radios")) {
      var name = target.dataset.tfClearRadios;
      var field = target.closest(".tf-field");
      field.querySelectorAll("input[type=radio]").forEach(function (r) {
        if (r.name === name) r.checked = false;
      });
      changed(field);
    } else if (target.hasAttribute("data-tf-goto-tab")) {
      showTab(target.dataset.tfGotoTab);
      var input = document.getElementById(target.getAttribute("href").slice(1));
      if (input) {
        evt.preventDefault();
        window.setTimeout(function () { input.focus(); input.scrollIntoView({ block: "center" }); }, 180);
      }
    }
  });

  document.addEventListener("input", function (evt) {
    var search = evt.target.closest && evt.target.closest("[data-tf-ref-search]");
    if (search && search.value.trim() === "") {
      var box = search.closest("[data-tf-ref]");
      var value = box.querySelector("[data-tf-ref-value]");
      if (value.value !== "") { value.value = ""; changed(value); }
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") {
      document.querySelectorAll(".tf-ref-results").forEach(function (r) { r.innerHTML = ""; });
    }
  });

  /* ---- uploads: clear the file input after the chips arrived ---- */
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-tf-upload")) {
      elt.value = "";
      var files = elt.closest("[data-tf-files]");
      if (files) {
        window.setTimeout(function () {
          files.querySelectorAll("[data-tf-transient]").forEach(function (e) { e.remove(); });
        }, 6000);
        changed(files);
      }
    }
  });

  /* ---- tabs ---- */
  function showTab(key) {
    if (!key || !window.bootstrap) return;
    var button = document.getElementById(key + "-btn");
    if (button) window.bootstrap.Tab.getOrCreateInstance(button).show();
  }

  /* ---- toasts ---- */
  function showToasts(root) {
    if (!window.bootstrap) return;
    (root || document).querySelectorAll("[data-tf-autoshow]").forEach(function (el) {
      el.removeAttribute("data-tf-autoshow");
      window.bootstrap.Toast.getOrCreateInstance(el, { delay: 5000 }).show();
    });
  }

  /* ---- kanban: drag a card to another column ---- */
  function initKanban() {
    var board = document.querySelector("[data-tf-kanban]");
    if (!board || !window.Sortable || !window.htmx) return;
    board.querySelectorAll("[data-tf-lane]").forEach(function (lane) {
      window.Sortable.create(lane, {
        group: "tf-kanban",
        animation: 150,
        draggable: ".tf-card",
        onAdd: function (evt) {
          var card = evt.item;
          var empty = lane.querySelector(".tf-lane-empty");
          if (empty) empty.remove();
          bumpCount(evt.from, -1);
          bumpCount(lane, 1);
          window.htmx.ajax("POST", board.dataset.moveUrl, {
            source: card,
            swap: "none",
            values: { id: card.dataset.id, version: card.dataset.version, value: lane.dataset.value }
          });
        }
      });
    });
  }

  function bumpCount(laneBody, delta) {
    var badge = laneBody.closest(".tf-lane").querySelector(".tf-lane-count");
    if (badge && /^\d+$/.test(badge.textContent.trim())) {
      badge.textContent = String(parseInt(badge.textContent, 10) + delta);
    }
  }

  document.addEventListener("tf:moved", function (evt) {
    var detail = evt.detail || {};
    var card = document.querySelector('.tf-card[data-id="' + detail.id + '"]');
    if (card) card.dataset.version = String(detail.version);
  });

  function init() {
    showToasts(document);
    initKanban();
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus({ preventScroll: false });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
