/* The article editor: insert an uploaded file's Markdown at the caret, let the
   upload form show its error (htmx leaves 4xx answers unswapped by default), and warn
   before leaving with unsaved words. */
(function () {
  "use strict";

  var body = document.querySelector("[data-kb-body]");
  var form = document.getElementById("article-form");
  if (!body || !form) return;

  function insert(text) {
    var start = body.selectionStart != null ? body.selectionStart : body.value.length;
    var end = body.selectionEnd != null ? body.selectionEnd : start;
    var before = body.value.slice(0, start);
    var pad = before && !/\n$/.test(before) ? "\n" : "";
    var piece = pad + text + "\n";
    body.value = before + piece + body.value.slice(end);
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
