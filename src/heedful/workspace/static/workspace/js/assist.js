/* The assist panel: "Insert link" and "Insert text" put an article into the reply
   box at the caret (the reply tab opens; conversation.js keeps the draft, since it
   listens to the textarea's input events), and the panel asks again when the
   conversation changes. */
(function () {
  "use strict";

  function replyBox() {
    return document.getElementById("reply-text");
  }

  function insert(text) {
    var area = replyBox();
    if (!area) return;
    var tab = document.getElementById("tab-reply");
    if (tab && tab.getAttribute("aria-selected") !== "true") tab.click();
    var start = area.selectionStart != null ? area.selectionStart : area.value.length;
    var end = area.selectionEnd != null ? area.selectionEnd : start;
    var before = area.value.slice(0, start);
    var after = area.value.slice(end);
    var piece = (before && !/\s$/.test(before) ? "\n\n" : "") + text + (after ? "\n\n" : "");
    area.value = before + piece + after;
    area.setSelectionRange(start + piece.length, start + piece.length);
    area.dispatchEvent(new Event("input", { bubbles: true }));
    area.focus();
  }

  function say(text, kind) {
    var H = window.Heedful || {};
    if (H.toast) H.toast(text, kind);
  }

  // The customer wrote again (or the thread changed): ask again, at most every few
  // seconds, what matches it now. Never while the agent is using the panel.
  var again = null;
  document.addEventListener("heedful:conversation-changed", function () {
    var panel = document.getElementById("assist");
    var url = panel && panel.getAttribute("data-assist-url");
    if (!url || again || !window.htmx) return;
    again = window.setTimeout(function () {
      again = null;
      var now = document.getElementById("assist");
      if (!now || now.contains(document.activeElement)) return;
      window.htmx.ajax("GET", url, { target: "#assist", swap: "outerHTML" });
    }, 3000);
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-assist-insert]");
    if (link) {
      insert(link.getAttribute("data-assist-insert"));
      say("Link added to the reply.");
      return;
    }
    var button = event.target.closest("[data-assist-text]");
    if (!button) return;
    button.disabled = true;
    fetch(button.getAttribute("data-assist-text"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.error || "That article could not be loaded.");
          return data;
        });
      })
      .then(function (data) {
        insert(data.text + (data.url ? "\n\n" + data.url : ""));
        say(data.internal ? "Internal article added: check it before sending." : "Article text added to the reply.");
      })
      .catch(function (error) {
        say(error.message, "error");
      })
      .then(function () {
        button.disabled = false;
      });
  });
})();
