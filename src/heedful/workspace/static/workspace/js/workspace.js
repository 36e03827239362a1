/* The workspace frame: theme, toasts, htmx error handling, the keyboard registry.
   Loaded on every page before the page's own scripts, and defines window.Heedful
   synchronously, so those scripts can call Heedful.keys.register(...) right away. */
(function () {
  "use strict";

  var H = (window.Heedful = window.Heedful || {});
  var root = document.documentElement;

  /* --- theme ------------------------------------------------------------- */

  var THEME_KEY = "heedful-theme";
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function storedTheme() {
    try {
      var t = localStorage.getItem(THEME_KEY);
      return t === "light" || t === "dark" ? t : null;
    } catch (e) {
      return null;
    }
  }

  function currentTheme() {
    return root.dataset.theme || (darkQuery && darkQuery.matches ? "dark" : "light");
  }

  function labelThemeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    var next = currentTheme() === "dark" ? "light" : "dark";
    button.title = "Switch to the " + next + " theme";
    button.setAttribute("aria-label", button.title);
  }

  H.theme = {
    /* Until someone chooses, the system's preference rules (and follows its changes). */
    get: currentTheme,
    set: function (theme) {
      root.dataset.theme = theme;
      try {
        localStorage.setItem(THEME_KEY, theme);
      } catch (e) {
        /* private mode: the choice lasts for this page only */
      }
      labelThemeToggle();
    },
    toggle: function () {
      H.theme.set(currentTheme() === "dark" ? "light" : "dark");
    },
  };
  if (!storedTheme()) delete root.dataset.theme;
  if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", labelThemeToggle);

  /* --- toasts ------------------------------------------------------------ */

  function toastBox() {
    var box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "toasts";
      box.className = "toasts";
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  /* Heedful.toast("Saved", "ok" | "info" | "warn" | "error"): a short message that
     goes away by itself (errors stay longer) or on a click. */
  H.toast = function (text, kind) {
    kind = kind || "info";
    var el = document.createElement("div");
    el.className = "toast toast-" + kind;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = String(text || "").slice(0, 300);
    var close = function () {
      if (el.parentNode) el.parentNode.removeChild(el);
    };
    el.addEventListener("click", close);
    toastBox().appendChild(el);
    window.setTimeout(close, kind === "error" ? 8000 : 4000);
    return el;
  };

  /* --- the unread badge (live.js calls this when a notification arrives) ---- */

  H.setUnread = function (count) {
    var badge = document.getElementById("unread-count");
    if (!badge) return;
    count = Number(count) || 0;
    badge.textContent = count >= 100 ? "99+" : count > 0 ? String(count) : "";
  };

  /* --- htmx: show why a request failed instead of failing silently ---------- */

  function errorText(xhr) {
    var status = xhr ? xhr.status : 0;
    var body = xhr ? xhr.responseText || "" : "";
    var type = xhr ? xhr.getResponseHeader("Content-Type") || "" : "";
    if (type.indexOf("json") !== -1) {
      try {
        var data = JSON.parse(body);
        if (data && (data.error || data.detail)) return String(data.error || data.detail);
      } catch (e) {
        /* fall through to the generic text */
      }
    } else if (type.indexOf("text/plain") !== -1 && body.trim()) {
      return body.trim();
    }
    if (status === 403) return "You don't have access to that.";
    if (status === 404) return "That no longer exists, or you can't see it.";
    if (status === 409) return "Someone else changed this first. Reload to see the latest.";
    if (status === 429) return "Too many requests. Wait a moment and try again.";
    if (status >= 500) return "Something went wrong on our side. Please try again.";
    return "That didn't work (" + status + "). Please try again.";
  }

  function loginURL() {
    return "/app/login/?next=" + encodeURIComponent(location.pathname + location.search);
  }

  document.addEventListener("htmx:responseError", function (evt) {
    H.toast(errorText(evt.detail.xhr), "error");
  });
  document.addEventListener("htmx:sendError", function () {
    H.toast("Can't reach Heedful. Check your connection and try again.", "error");
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    // A signed-out session answers an htmx request with the sign-in page: go there
    // for real instead of pasting a login form into a fragment.
    var url = evt.detail.xhr && evt.detail.xhr.responseURL;
    if (url && new URL(url, location.href).pathname === "/app/login/") {
      evt.detail.shouldSwap = false;
      location.href = loginURL();
    }
  });

  /* --- keyboard shortcuts --------------------------------------------------- */

  var handlers = {};

  function typingIn(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function activatable(el) {
    // Enter and Space on a link or button keep their own meaning.
    return !!(el && el.closest && el.closest("a[href], button, summary, [role=button], label"));
  }

  H.keys = {
    /* Heedful.keys.register("j", function (event) {...}): the handler runs for that key
       unless the agent is typing or holds Ctrl / Alt / Meta. Return false to let the
       browser's default happen too. Returns a function that removes the handler. */
    register: function (key, handler) {
      handlers[key] = handler;
      return function () {
        if (handlers[key] === handler) delete handlers[key];
      };
    },
    unregister: function (key) {
      delete handlers[key];
    },
    registered: function () {
      return Object.keys(handlers);
    },
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingIn(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // a dialog has the keyboard
    if ((event.key === "Enter" || event.key === " ") && activatable(event.target)) return;
    var handler = handlers[event.key];
    if (!handler) return;
    if (handler(event) !== false) event.preventDefault();
  });

  /* --- the shortcuts dialog and the top bar buttons ------------------------- */

  H.showKeys = function () {
    var dialog = document.getElementById("keys-help");
    if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
  };
  H.keys.register("?", H.showKeys);

  function wire() {
    labelThemeToggle();
    var themeButton = document.getElementById("theme-toggle");
    if (themeButton) themeButton.addEventListener("click", H.theme.toggle);
    var keysButton = document.getElementById("keys-toggle");
    if (keysButton) keysButton.addEventListener("click", H.showKeys);
    var dialog = document.getElementById("keys-help");
    if (dialog) {
      // A click on the backdrop (outside the box) closes it.
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close();
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
