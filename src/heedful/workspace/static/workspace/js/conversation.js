/* The conversation page: composers (reply with undo, notes with @mentions, macros),
   keyboard shortcuts, and refreshing the timeline when live.js says it changed. */
(function () {
  "use strict";

  var root = document.getElementById("conversation");
  if (!root) return;
  root.classList.add("js");
  var H = window.Heedful || {};
  var conversationId = root.dataset.conversationId;
  var script = document.currentScript;
  var UNDO_SECONDS = Number((script && script.dataset.undoSeconds) || 0);

  function toast(text, kind) {
    if (H.toast) H.toast(text, kind);
    else if (kind === "error") window.alert(text);
  }

  /* --- refreshing what changed -------------------------------------------------- */

  function nearBottom() {
    var composers = root.querySelector(".composers");
    if (!composers) return false;
    return composers.getBoundingClientRect().bottom <= window.innerHeight + 160;
  }

  function scrollToLatest() {
    // The composer sits right under the newest message; on narrow screens the
    // customer panel follows it, so the page's own bottom is not the place.
    var composers = root.querySelector(".composers");
    if (composers) composers.scrollIntoView({ block: "end" });
  }

  function replaceFrom(url, id, process) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var current = document.getElementById(id);
        if (!current) return;
        var box = document.createElement("div");
        box.innerHTML = html.trim();
        var fresh = box.querySelector("#" + id);
        if (!fresh) return;
        current.replaceWith(fresh);
        if (process && window.htmx) window.htmx.process(fresh);
      });
  }

  function refresh() {
    var stick = nearBottom();
    var opened = openedInTimeline();
    replaceFrom(root.dataset.timelineUrl, "timeline", true)
      .then(function () {
        reopen(opened);
        if (stick) scrollToLatest();
      })
      .catch(function () {
        /* a missed refresh is caught up by the next one */
      });
    var summary = document.getElementById("conv-summary");
    var focused = document.activeElement;
    var inside = summary && focused && summary.contains(focused);
    // Never pull a half-typed field or an open merge step from under the agent's hands.
    var typing = inside && focused.tagName === "INPUT" && focused.type === "text" && focused.value;
    var busy = summary && (typing || summary.querySelector("details[open]"));
    if (busy) return;
    var focusId = inside ? focused.id : "";
    replaceFrom(root.dataset.summaryUrl, "conv-summary", true)
      .then(function () {
        var again = focusId && document.getElementById(focusId);
        if (again) again.focus();
      })
      .catch(function () {});
  }

  var refreshTimer = null;
  document.addEventListener("heedful:conversation-changed", function (event) {
    var detail = event.detail || {};
    // null: live updates reconnected after missing pushes, so refresh anyway.
    if (detail.conversation_id != null && String(detail.conversation_id) !== String(conversationId)) return;
    // Throttled, not debounced, so a stream of pushes cannot postpone it for ever.
    if (!refreshTimer) refreshTimer = window.setTimeout(function () { refreshTimer = null; refresh(); }, 250);
  });

  function changed() {
    document.dispatchEvent(
      new CustomEvent("heedful:conversation-changed", { detail: { conversation_id: Number(conversationId) } })
    );
  }

  /* --- tabs ----------------------------------------------------------------------- */

  var forms = {
    reply: document.getElementById("reply-form"),
    note: document.getElementById("note-form"),
  };

  function show(which, focus) {
    Object.keys(forms).forEach(function (name) {
      if (!forms[name]) return;
      forms[name].hidden = name !== which;
      var tab = document.getElementById("tab-" + name);
      if (tab) tab.setAttribute("aria-selected", name === which ? "true" : "false");
    });
    var form = forms[which];
    if (focus && form) {
      var area = form.querySelector("textarea");
      area.focus();
      area.scrollIntoView({ block: "nearest" });
    }
  }

  document.querySelectorAll(".composer-tabs [data-tab]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      show(tab.dataset.tab, true);
    });
  });

  /* --- drafts survive a reload ------------------------------------------------------ */

  function draftKey(name) {
    return "heedful-draft-" + conversationId + "-" + name;
  }

  function saveDraft(name, value) {
    try {
      if (value) sessionStorage.setItem(draftKey(name), value);
      else sessionStorage.removeItem(draftKey(name));
    } catch (e) {
      /* storage off: drafts last for this page only */
    }
  }

  Object.keys(forms).forEach(function (name) {
    var form = forms[name];
    if (!form) return;
    var area = form.querySelector("textarea");
    try {
      var draft = sessionStorage.getItem(draftKey(name));
      if (draft && !area.value) area.value = draft;
    } catch (e) {
      /* nothing saved */
    }
    area.addEventListener("input", function () {
      saveDraft(name, area.value);
    });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (form.requestSubmit) form.requestSubmit();
        else form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
  });

  /* --- sending -------------------------------------------------------------------- */

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: body,
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!response.ok) {
            var error = new Error(data.error || "That didn't work (" + response.status + "). Please try again.");
            error.status = response.status;
            throw error;
          }
          return data;
        });
    });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setStatus(form, text, isError) {
    var status = form.querySelector("[data-status]");
    if (!status) return;
    status.textContent = text || "";
    status.classList.toggle("error", !!isError);
  }

  Object.keys(forms).forEach(function (name) {
    var form = forms[name];
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var area = form.querySelector("textarea");
      if (!area.value.trim()) {
        setStatus(form, name === "reply" ? "Write something first." : "A note needs some text.", true);
        area.focus();
        return;
      }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      setStatus(form, name === "reply" ? "Sending…" : "Saving…");
      var text = area.value;
      post(form.action, new FormData(form))
        .then(function (data) {
          area.value = "";
          saveDraft(name, "");
          setStatus(form, name === "reply" ? "" : "Note added.");
          if (name === "reply") startUndo(data, text);
          changed();
          scrollToLatest();
        })
        .catch(function (error) {
          setStatus(form, error.message, true);
          toast(error.message, "error");
        })
        .then(function () {
          button.disabled = false;
        });
    });
  });

  /* --- undo ------------------------------------------------------------------------- */

  var undoTimer = null;

  function startUndo(data, text) {
    var form = forms.reply;
    var bar = form.querySelector("[data-undo-bar]");
    var seconds = Number(data.undo_seconds != null ? data.undo_seconds : UNDO_SECONDS);
    window.clearInterval(undoTimer);
    if (!bar || !data.undo_url || seconds <= 0) {
      setStatus(form, "Sent.");
      return;
    }
    var count = bar.querySelector("[data-undo-count]");
    var button = bar.querySelector("[data-undo]");
    var left = seconds;
    count.textContent = String(left);
    bar.hidden = false;
    button.disabled = false;
    button.onclick = function () {
      button.disabled = true;
      window.clearInterval(undoTimer);
      post(data.undo_url, new FormData())
        .then(function (answer) {
          bar.hidden = true;
          var area = form.querySelector("textarea");
          var back = answer.text || text;
          area.value = area.value.trim() ? back + "\n\n" + area.value : back;
          saveDraft("reply", area.value);
          setStatus(form, "Reply withdrawn. It's back in the composer.");
          show("reply", true);
          changed();
        })
        .catch(function (error) {
          bar.hidden = true;
          setStatus(form, error.message, true);
          toast(error.message, "error");
        });
    };
    undoTimer = window.setInterval(function () {
      left -= 1;
      count.textContent = String(Math.max(left, 0));
      if (left <= 0) {
        window.clearInterval(undoTimer);
        bar.hidden = true;
        setStatus(form, "Sent.");
        changed();
      }
    }, 1000);
  }

  /* --- macros ------------------------------------------------------------------------- */

  var picker = document.querySelector("[data-macro-picker]");
  if (picker) {
    picker.addEventListener("change", function () {
      var option = picker.options[picker.selectedIndex];
      var url = option && option.dataset.url;
      if (!url) return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (data) {
            if (!response.ok) throw new Error(data.error || "That macro could not be loaded.");
            return data;
          });
        })
        .then(function (data) {
          var area = forms.reply.querySelector("textarea");
          insertAtCaret(area, data.text, !area.value.trim());
          saveDraft("reply", area.value);
          show("reply", true);
        })
        .catch(function (error) {
          toast(error.message, "error");
        })
        .then(function () {
          picker.selectedIndex = 0;
        });
    });
  }

  function insertAtCaret(area, text, replaceAll) {
    if (replaceAll) {
      area.value = text;
      area.setSelectionRange(text.length, text.length);
      return;
    }
    var start = area.selectionStart,
      end = area.selectionEnd;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.setSelectionRange(start + text.length, start + text.length);
  }

  /* --- @mentions ---------------------------------------------------------------------- */

  var agentsData = document.getElementById("mention-agents");
  var agents = agentsData ? JSON.parse(agentsData.textContent) : [];
  var noteArea = document.getElementById("note-text");
  var list = document.getElementById("mention-list");
  var matches = [];
  var active = 0;

  function mentionQuery() {
    var before = noteArea.value.slice(0, noteArea.selectionStart);
    var found = /(^|[^\w@.+-])@([\w.+-]*)$/.exec(before);
    return found ? found[2] : null;
  }

  function closeMentions() {
    list.hidden = true;
    list.innerHTML = "";
    matches = [];
    noteArea.removeAttribute("aria-activedescendant");
  }

  function renderMentions() {
    list.innerHTML = "";
    matches.forEach(function (agent, index) {
      var item = document.createElement("li");
      item.id = "mention-" + agent.id;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === active ? "true" : "false");
      item.textContent = agent.name + " ";
      var handle = document.createElement("span");
      handle.className = "muted";
      handle.textContent = "@" + agent.handle;
      item.appendChild(handle);
      item.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the caret in the textarea
        pick(agent);
      });
      list.appendChild(item);
    });
    list.hidden = matches.length === 0;
    if (matches.length) noteArea.setAttribute("aria-activedescendant", "mention-" + matches[active].id);
  }

  function updateMentions() {
    var query = mentionQuery();
    if (query === null) return closeMentions();
    var q = query.toLowerCase();
    matches = agents
      .filter(function (agent) {
        return !q || agent.name.toLowerCase().indexOf(q) !== -1 || agent.handle.toLowerCase().indexOf(q) !== -1;
      })
      .slice(0, 8);
    active = 0;
    renderMentions();
  }

  function pick(agent) {
    var caret = noteArea.selectionStart;
    var before = noteArea.value.slice(0, caret);
    var start = before.lastIndexOf("@");
    var insert = "@" + agent.handle + " ";
    noteArea.value = before.slice(0, start) + insert + noteArea.value.slice(caret);
    var at = start + insert.length;
    noteArea.setSelectionRange(at, at);
    saveDraft("note", noteArea.value);
    closeMentions();
    noteArea.focus();
  }

  if (noteArea && list) {
    noteArea.addEventListener("input", updateMentions);
    noteArea.addEventListener("click", updateMentions);
    noteArea.addEventListener("blur", function () {
      window.setTimeout(closeMentions, 150);
    });
    noteArea.addEventListener("keydown", function (event) {
      if (list.hidden || !matches.length) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        renderMentions();
      } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
        event.preventDefault();
        pick(matches[active]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        closeMentions();
      }
    });
  }

  /* --- keyboard ------------------------------------------------------------------------ */

  function goBack() {
    var ref = document.referrer ? new URL(document.referrer, location.href) : null;
    if (ref && ref.origin === location.origin && ref.pathname.indexOf("/app/conversations") === 0 && ref.pathname !== location.pathname) {
      history.back();
    } else {
      location.href = root.dataset.listUrl;
    }
  }

  function assignToMe() {
    var button = document.querySelector("[data-assign-me]");
    if (button) button.click();
    else toast("This conversation is already yours.", "info");
  }

  if (H.keys && H.keys.register) {
    H.keys.register("r", function () {
      show("reply", true);
    });
    H.keys.register("n", function () {
      show("note", true);
    });
    H.keys.register("a", assignToMe);
    H.keys.register("Escape", goBack);
  }

  // Esc inside a composer (no mention list open) leaves the field, so the keys work again.
  Object.keys(forms).forEach(function (name) {
    var area = forms[name] && forms[name].querySelector("textarea");
    if (!area) return;
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && (!list || list.hidden)) area.blur();
    });
  });

  /* --- email: formatted view, remote images, folded quotes ---------------------------- */

  // The formatted frame is fetched only when the agent opens it: a long thread of
  // HTML mail would otherwise load every one of them with the page.
  function loadFrame(details, src) {
    var frame = details && details.querySelector("iframe.msg-frame");
    if (!frame) return;
    var wanted = src || frame.getAttribute("src") || frame.dataset.src;
    if (wanted && frame.getAttribute("src") !== wanted) frame.setAttribute("src", wanted);
  }

  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (details.classList && details.classList.contains("msg-formatted") && details.open) loadFrame(details);
    },
    true
  );

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-load-images]");
    if (!button) return;
    event.preventDefault();
    var details = document.getElementById("formatted-" + button.dataset.loadImages);
    if (!details) return;
    details.open = true;
    loadFrame(details, button.getAttribute("href"));
    imagesShown(details, button);
    details.scrollIntoView({ block: "nearest" });
  });

  function imagesShown(details, button) {
    var hint = details.querySelector("[data-images-blocked]");
    if (hint) hint.hidden = true;
    if (!button) return;
    button.textContent = "Remote images shown";
    button.setAttribute("aria-disabled", "true");
  }

  // A live refresh re-renders the timeline: keep what the agent had opened open.
  function openedInTimeline() {
    var opened = [];
    document.querySelectorAll("#timeline details[open][id]").forEach(function (details) {
      var frame = details.querySelector("iframe.msg-frame");
      opened.push({ id: details.id, src: frame ? frame.getAttribute("src") : null });
    });
    return opened;
  }

  function reopen(opened) {
    opened.forEach(function (item) {
      var details = document.getElementById(item.id);
      if (!details) return;
      details.open = true;
      if (item.src) loadFrame(details, item.src);
      if (item.src && item.src.indexOf("images=1") !== -1) {
        imagesShown(details, document.querySelector('[data-load-images="' + details.id.split("-")[1] + '"]'));
      }
    });
  }

  /* --- opening the page --------------------------------------------------------------- */

  if (location.hash === "#reply" || location.hash === "#note") {
    show(location.hash.slice(1), true);
  } else {
    scrollToLatest();
  }
})();
