/* Conversation lists: keyboard (j/k/Enter/x/r/n/a), the bulk bar, live refresh.
   Works without it: filters have an Apply button, the bulk form posts normally. */
(function () {
  "use strict";
  var page = document.querySelector(".lists");
  if (!page) return;
  page.classList.add("js");

  var bulkForm = document.getElementById("bulk-form");
  var bulkCount = document.getElementById("bulk-count");
  var pill = document.getElementById("activity-pill");
  var focusedId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows .conv-row"));
  }
  function rowById(id) {
    return id ? document.querySelector('#rows .conv-row[data-id="' + id + '"]') : null;
  }
  function current() {
    return rowById(focusedId);
  }

  function focusRow(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("is-focused"); r.removeAttribute("aria-current"); });
    if (!row) { focusedId = null; return; }
    focusedId = row.dataset.id;
    row.classList.add("is-focused");
    row.setAttribute("aria-current", "true");
    if (scroll !== false) row.scrollIntoView({ block: "nearest" });
  }

  function move(delta) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(current());
    var next = index < 0 ? (delta > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + delta));
    focusRow(all[next]);
  }

  function open(hash) {
    var row = current();
    if (!row) return false;
    window.location.href = row.dataset.url + (hash || "");
    return true;
  }

  function toggle() {
    var row = current();
    if (!row) return false;
    var box = row.querySelector(".row-check");
    box.checked = !box.checked;
    syncBulk();
    return true;
  }

  function checkedBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows .row-check:checked"));
  }

  function syncBulk() {
    var n = checkedBoxes().length;
    rows().forEach(function (r) {
      var box = r.querySelector(".row-check");
      r.classList.toggle("is-checked", !!(box && box.checked));
    });
    if (!bulkForm) return;
    bulkForm.hidden = n === 0;
    if (bulkCount) bulkCount.textContent = n + " selected:";
  }

  function csrfToken() {
    var input = bulkForm && bulkForm.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(text, isError) {
    if (window.Heedful && window.Heedful.toast) {
      window.Heedful.toast(text, isError ? "error" : "ok");
      return;
    }
    var box = document.querySelector(".flash");
    if (!box) {
      box = document.createElement("div");
      box.className = "flash";
      box.setAttribute("role", "status");
      var main = document.getElementById("main");
      main.parentNode.insertBefore(box, main);
    }
    box.innerHTML = "";
    var p = document.createElement("p");
    if (isError) p.className = "flash-error";
    p.textContent = text;
    box.appendChild(p);
  }

  function assignToMe() {
    var row = current();
    if (!row) return false;
    var body = new FormData();
    body.append("action", "assign_me");
    body.append("ids", row.dataset.seen);
    fetch(document.getElementById("rows").dataset.bulkUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      var failed = !result.ok || (result.data.failed && result.data.failed.length);
      say(result.data.message || "Could not assign.", failed);
      refresh();
    }).catch(function () { say("Could not reach the server; try again.", true); });
    return true;
  }

  // Live refresh --------------------------------------------------------------------
  var timer = null;
  function refresh() {
    if (!window.htmx) { window.location.reload(); return; }
    var checked = checkedBoxes().map(function (b) { return b.value.split(":")[0]; });
    var keep = focusedId;
    // Where the focused row stood: if it left the list (assigned away, solved),
    // the focus stays at that place, on the row that took it.
    var keepIndex = rows().indexOf(current());
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#rows", swap: "outerHTML"
    }).then(function () {
      checked.forEach(function (id) {
        var row = rowById(id);
        var box = row && row.querySelector(".row-check");
        if (box) box.checked = true;
      });
      if (keep) {
        var all = rows();
        var row = rowById(keep) || (keepIndex >= 0 ? all[Math.min(keepIndex, all.length - 1)] : null);
        focusRow(row || null, false);
      }
      syncBulk();
    });
  }

  document.addEventListener("heedful:conversation-changed", function () {
    var list = document.getElementById("rows");
    if (!list) return;
    if (list.dataset.firstPage === "1") {
      // A throttle, not a debounce: on a busy desk pushes come faster than 300 ms
      // apart, and a debounce would put the refresh off for ever. The refresh reads
      // the state after every push that came before it fires.
      if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, 300);
    } else if (pill) {
      pill.hidden = false;
    }
  });
  if (pill) pill.addEventListener("click", function () { window.location.reload(); });

  // Wiring --------------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList && target.classList.contains("row-check")) syncBulk();
    if (target.closest && target.closest("#filters") && target.tagName === "SELECT") {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });
  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("submit", function () {
      // Leave "any" out of the address: short links, and only what narrows the list.
      Array.prototype.forEach.call(filters.elements, function (el) {
        if (el.name && el.value === "" && el.tagName === "SELECT") el.disabled = true;
      });
    });
  }
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#rows .conv-row");
    if (row) focusRow(row, false);
  });

  var bindings = {
    j: function () { move(1); return true; },
    k: function () { move(-1); return true; },
    Enter: function () { return open(""); },
    x: toggle,
    r: function () { return open("#reply"); },
    n: function () { return open("#note"); },
    a: assignToMe
  };
  var registry = window.Heedful && window.Heedful.keys;
  if (registry && typeof registry.register === "function") {
    Object.keys(bindings).forEach(function (key) { registry.register(key, bindings[key]); });
  } else {
    // The shared key registry is not on this page: listen ourselves, off while typing.
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var t = event.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      // On a link or button, Enter is theirs.
      if (event.key === "Enter" && t && /^(A|BUTTON)$/.test(t.tagName)) return;
      var handler = bindings[event.key];
      if (handler && handler(event) !== false) event.preventDefault();
    });
  }

  syncBulk();
})();
