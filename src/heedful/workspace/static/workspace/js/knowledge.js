/* The article editor: insert an uploaded file's Markdown at the caret, let the
   upload form show its error (htmx leaves 4xx answers unswapped by default), and warn
   before leaving with unsaved words. */
(function () {
  "use strict";

  var body = document.querySelector("[data-kb-body]");
  var form = document.getElementById("article-form");
  if (!body || !form) return;

  // Until the writer has put the caret somewhere, files go at the end of the body.
  var placed = false;
  body.addEventListener("focus", function () {
    placed = true;
  });

  function insert(text) {
    var start = placed ? body.selectionStart : body.value.length;
    var end = placed ? body.selectionEnd : start;
    var before = body.value.slice(0, start);
    var after = body.value.slice(end);
    // A blank line on each side: an image or link becomes its own paragraph.
    var lead = !before ? "" : /\n\n$/.test(before) ? "" : /\n$/.test(before) ? "\n" : "\n\n";
    var trail = /^\n\n/.test(after) ? "" : /^\n/.test(after) ? "\n" : "\n\n";
    var piece = lead + text + trail;
    body.value = before + piece + after;
    body.setSelectionRange(start + piece.length, start + piece.length);
    body.dispatchEvent(new Event("input", { bubbles: true }));
    dirty = true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-kb-insert]");
    if (!button) return;
    insert(button.getAttribute("data-kb-insert"));
    body.focus();
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "kb-attachments" && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var fresh = document.getElementById("kb-attachments");
    if (!fresh || event.detail.target.id !== "kb-attachments") return;
    var snippet = fresh.getAttribute("data-fresh-snippet");
    if (snippet) insert(snippet);
    var upload = document.querySelector(".kb-upload");
    if (upload && snippet) upload.reset();
  });

  var dirty = false;
  form.addEventListener("input", function (event) {
    if (event.target.name !== "q") dirty = true;
  });
  form.addEventListener("submit", function () {
    dirty = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
