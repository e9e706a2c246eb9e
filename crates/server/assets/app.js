// The admin interface's script: written here, embedded in the binary. The
// pages work without it (forms submit, search is a GET form); it only makes
// them quicker: instant search, and a dialog instead of a confirmation page.
"use strict";

(function () {
  // Instant search: <input data-instant-search="TABLE_ID"> hides the rows
  // whose data-search text does not contain what is typed, and keeps the
  // text in the URL (?q=) so that the view can be shared.
  function instantSearch(input) {
    var table = document.getElementById(input.getAttribute("data-instant-search"));
    if (!table) return;
    var none = document.getElementById(table.id + "-none");
    var echo = none && none.querySelector("[data-search-echo]");
    function apply() {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      table.querySelectorAll("tbody tr[data-search]").forEach(function (row) {
        var match = !needle || row.getAttribute("data-search").indexOf(needle) !== -1;
        row.hidden = !match;
        if (match) shown++;
      });
      if (none) {
        none.hidden = shown > 0;
        if (echo) echo.textContent = input.value;
      }
      var url = new URL(window.location.href);
      if (needle) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
      url.searchParams.delete("flash");
      url.searchParams.delete("flash_kind");
      window.history.replaceState(null, "", url);
    }
    input.addEventListener("input", apply);
    input.addEventListener("refilter", apply);
  }

  // Confirmation: <form data-confirm="question"> asks before submitting and
  // then tells the server it was confirmed (without the script, the server
  // shows a confirmation page instead).
  function confirmBeforeSubmit(form) {
    form.addEventListener("submit", function (event) {
      var field = form.querySelector("input[name=confirmed]");
      if (field && field.value === "yes") return;
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      if (field) field.value = "yes";
    });
  }

  // Live updates: the page's <main data-revision data-pending> is the
  // configuration revision it shows and its count of change requests
  // waiting for approval. /live/revision answers (a long poll) once the
  // service is past that revision or the count differs; the page is then
  // fetched again and every [data-live] region whose content changed is
  // replaced and briefly highlighted. Forms being typed in are outside
  // those regions and are left alone.
  function liveUpdates() {
    var main = document.getElementById("main");
    if (!main || !main.hasAttribute("data-revision") || !window.fetch || !window.DOMParser) return;
    var revision = Number(main.getAttribute("data-revision"));
    function poll() {
      var pending = main.getAttribute("data-pending");
      var query = "?after=" + revision + (pending === null ? "" : "&pending=" + pending);
      fetch("/live/revision" + query, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (answer) {
          var countChanged = pending !== null && answer.pending !== undefined && String(answer.pending) !== pending;
          if (answer.revision > revision || countChanged) {
            return refresh().then(function () { revision = Math.max(revision, answer.revision); });
          }
        })
        .then(function () { setTimeout(poll, 0); }, function () { setTimeout(poll, 5000); });
    }
    poll();
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshMain = fresh.getElementById("main");
        var main = document.getElementById("main");
        if (freshMain && main && freshMain.hasAttribute("data-pending")) {
          main.setAttribute("data-pending", freshMain.getAttribute("data-pending"));
        }
        // A list whose members changed (a flag or a change request created
        // or gone): the members are put in the new order, those already
        // shown kept as they are (with whatever is typed in their forms),
        // new ones added and highlighted; then each region that changed.
        document.querySelectorAll("[data-live-list]").forEach(function (list) {
          var next = fresh.getElementById(list.id);
          if (!next || childIds(list) === childIds(next)) return;
          var kept = {};
          Array.prototype.forEach.call(list.children, function (child) { if (child.id) kept[child.id] = child; });
          var members = Array.prototype.map.call(next.children, function (child) {
            if (child.id && kept[child.id]) return kept[child.id];
            var node = document.importNode(child, true);
            enhance(node);
            highlight(node);
            return node;
          });
          list.textContent = "";
          members.forEach(function (member) { list.appendChild(member); });
        });
        fresh.querySelectorAll("[data-live][id]").forEach(function (next) {
          var current = document.getElementById(next.id);
          if (!current || current.outerHTML === next.outerHTML) return;
          var node = document.importNode(next, true);
          current.replaceWith(node);
          enhance(node);
          if (node.id !== "kill-banner") highlight(node);
        });
        document.querySelectorAll("[data-instant-search]").forEach(function (input) {
          input.dispatchEvent(new Event("refilter"));
        });
      });
  }

  function childIds(element) {
    return Array.prototype.map.call(element.children, function (child) { return child.id; }).join(" ");
  }

  function highlight(node) {
    node.classList.add("live-changed");
    setTimeout(function () { node.classList.remove("live-changed"); }, 2000);
  }

  // "/" focuses the search box, as in most dashboards.
  function slashToSearch() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      var target = event.target;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      var search = document.querySelector("[data-instant-search]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    });
  }

  // Copy buttons: <button data-copy="ID" hidden> copies that element's text
  // (shown only with the script; without it the text is selectable).
  function copyButton(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      });
    });
  }

  // The flag editor. Without script it works as well (every button posts
  // the form back); with it, the slider moves the rollout percentage, a
  // segment operator offers the segments, list operands show as chips, the
  // first problem is focused, and a flag changed elsewhere is announced.
  var LIST_OPERATORS = ["in", "not_in", "in_segment", "not_in_segment"];

  function listItems(text) {
    var items = [], current = "", quoted = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === '"') quoted = !quoted;
      if (c === "," && !quoted) { items.push(current); current = ""; } else { current += c; }
    }
    items.push(current);
    return items.map(function (item) { return item.trim(); }).filter(function (item) { return item !== ""; });
  }

  function editorCondition(row) {
    var operator = row.querySelector("[data-operator]");
    var value = row.querySelector("[data-chips]");
    if (!operator || !value) return;
    var chips = document.createElement("div");
    chips.className = "chips";
    chips.setAttribute("aria-hidden", "true");
    value.parentNode.insertBefore(chips, value.nextSibling);
    function update() {
      var op = operator.value;
      if (/in_segment$/.test(op)) value.setAttribute("list", "segment-ids"); else value.removeAttribute("list");
      chips.textContent = "";
      if (LIST_OPERATORS.indexOf(op) === -1) return;
      listItems(value.value).forEach(function (item) {
        var chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = item;
        chips.appendChild(chip);
      });
    }
    operator.addEventListener("change", update);
    value.addEventListener("input", update);
    update();
  }

  function editorSlider(slider) {
    var field = document.getElementById(slider.getAttribute("data-slider-for"));
    if (!field) return;
    slider.hidden = false;
    slider.addEventListener("input", function () { field.value = slider.value === "100" ? "" : slider.value; });
    field.addEventListener("input", function () {
      var n = Number(field.value);
      slider.value = field.value.trim() === "" ? "100" : (isFinite(n) ? String(n) : slider.value);
    });
  }

  function editorStale(root) {
    var version = document.getElementById("editor-version");
    var current = root.matches && root.matches("[data-current-version]") ? root : root.querySelector && root.querySelector("[data-current-version]");
    if (!version || !current || !version.value) return;
    current.hidden = current.getAttribute("data-current-version") === version.value;
  }

  function editor() {
    var form = document.querySelector("form.editor");
    if (!form) return;
    form.querySelectorAll(".condition").forEach(editorCondition);
    form.querySelectorAll("[data-slider-for]").forEach(editorSlider);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  // Bulk selection (the flag list's action bar, <form data-bulk>): the
  // header's box ticks every row shown (instant search hides the others),
  // the bar says how many are ticked, and deleting asks first, naming them.
  // Without the script the header's box means "every flag this search
  // shows" to the server; with it, only the ticked rows are sent.
  function bulkSelection(form) {
    var all = form.querySelector("[data-bulk-all]");
    var count = form.querySelector("[data-bulk-count]");
    var hint = count ? count.textContent : "";
    function picks() { return Array.prototype.slice.call(form.querySelectorAll("[data-bulk-pick]")); }
    function chosen() { return picks().filter(function (box) { return box.checked; }); }
    function update() {
      var n = chosen().length;
      if (count) count.textContent = n === 0 ? hint : n + (n === 1 ? " flag selected" : " flags selected");
      form.classList.toggle("has-selection", n > 0);
      if (all) {
        var shown = picks().filter(function (box) { return !box.closest("tr").hidden; });
        var ticked = shown.filter(function (box) { return box.checked; }).length;
        all.checked = shown.length > 0 && ticked === shown.length;
        all.indeterminate = ticked > 0 && ticked < shown.length;
      }
    }
    if (all) {
      all.removeAttribute("name");
      all.addEventListener("change", function () {
        picks().forEach(function (box) {
          if (!box.closest("tr").hidden) box.checked = all.checked;
        });
        update();
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target.hasAttribute("data-bulk-pick")) update();
    });
    // The search hides rows: the header's box follows what is shown.
    document.addEventListener("input", function (event) {
      if (event.target.hasAttribute && event.target.hasAttribute("data-instant-search")) setTimeout(update, 0);
    });
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || submitter.value !== "delete") return;
      var names = chosen().map(function (box) { return box.value; });
      if (names.length === 0) return;
      var shown = names.length > 10 ? names.slice(0, 10).join(", ") + " and " + (names.length - 10) + " more" : names.join(", ");
      var question = "Delete " + names.length + (names.length === 1 ? " flag" : " flags") + ": " + shown + "?";
      if (!window.confirm(question)) {
        event.preventDefault();
        return;
      }
      form.querySelector("input[name=confirmed]").value = "yes";
    });
    update();
  }

  // What the script adds to a part of the page (again after a live update).
  function enhance(root) {
    root.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
    root.querySelectorAll("[data-copy]").forEach(copyButton);
    editorStale(root);
  }

  // A flash message is shown once: take it out of the address, so that a
  // reload or a shared link does not repeat it.
  function forgetFlash() {
    var url = new URL(window.location.href);
    if (!url.searchParams.has("flash")) return;
    url.searchParams.delete("flash");
    url.searchParams.delete("flash_kind");
    window.history.replaceState(null, "", url);
  }

  function init() {
    forgetFlash();
    document.querySelectorAll("[data-instant-search]").forEach(instantSearch);
    document.querySelectorAll("form[data-bulk]").forEach(bulkSelection);
    enhance(document);
    slashToSearch();
    editor();
    liveUpdates();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
