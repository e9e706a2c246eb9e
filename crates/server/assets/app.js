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
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-search]"));
    var none = document.getElementById(table.id + "-none");
    var echo = none && none.querySelector("[data-search-echo]");
    function apply() {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
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

  function init() {
    document.querySelectorAll("[data-instant-search]").forEach(instantSearch);
    document.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
    document.querySelectorAll("[data-copy]").forEach(copyButton);
    slashToSearch();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
