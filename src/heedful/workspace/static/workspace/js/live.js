/* Live updates: one WebSocket per page to /ws/app/.

   The server pushes only "conversation N changed" (ids and types, never content);
   this script turns each push into a DOM event, and pages re-fetch their HTML
   fragments over HTTP:

     document.addEventListener("heedful:conversation-changed", function (e) {
       e.detail.conversation_id  // null after a reconnect: refresh everything shown
       e.detail.type             // "reply_sent", "assigned", ...
     });

   On a conversation page (a direct child of <main> carrying data-conversation-id)
   it also tells the server "viewing" / "typing" and shows the other agents there
   in #presence, so two agents see each other before they answer at once. */
(function () {
  "use strict";

  var body = document.body;
  var path = body && body.dataset.liveUrl;
  if (!path || !window.WebSocket) return;
  var me = Number(body.dataset.userId);

  var H = (window.Heedful = window.Heedful || {});
  var HEARTBEAT_MS = 10000; // "viewing" while a conversation page is open
  var PING_MS = 30000; // keeps idle proxies from closing the socket
  var TYPING_MS = 3000; // at most one "typing" frame this often
  var PRESENCE_TTL_MS = 15000; // others vanish without a heartbeat this long
  var MAX_BACKOFF_MS = 30000;

  var socket = null;
  var attempts = 0;
  var everOpen = false;
  var viewing = null; // the conversation id we last told the server about
  var lastTyping = 0;
  var others = {}; // user id -> {name, state, composer, at}

  function url() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + path;
  }

  function setState(on) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.dataset.state = on ? "on" : "off";
    el.title = on ? "Live updates on" : "Live updates off: reconnecting…";
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function changed(detail) {
    document.dispatchEvent(new CustomEvent("heedful:conversation-changed", { detail: detail }));
  }

  function connect() {
    try {
      socket = new WebSocket(url());
    } catch (e) {
      retry();
      return;
    }
    socket.onopen = function () {
      attempts = 0;
      setState(true);
      // Pushes were missed while the socket was down: pages refresh what they show.
      if (everOpen) changed({ conversation_id: null, type: "reconnected" });
      everOpen = true;
      viewing = null;
      heartbeat(false);
    };
    socket.onmessage = function (e) {
      var frame;
      try {
        frame = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (frame.type === "conversation.changed") {
        changed({
          conversation_id: frame.conversation_id,
          type: frame.event_type,
          actor_id: frame.actor_id,
          event_id: frame.event_id,
        });
      } else if (frame.type === "presence") {
        presence(frame);
      }
    };
    socket.onclose = function () {
      socket = null;
      setState(false);
      others = {};
      render();
      retry();
    };
  }

  function retry() {
    // 1 s, 2 s, 4 s ... up to 30 s, with jitter so a restarted server is not stampeded.
    var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts));
    attempts += 1;
    setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
  }

  /* --- presence ----------------------------------------------------------- */

  function conversationRoot() {
    return document.querySelector("#main > [data-conversation-id], #main[data-conversation-id]");
  }

  function currentConversation() {
    var root = conversationRoot();
    var id = root ? parseInt(root.dataset.conversationId, 10) : NaN;
    return id > 0 ? id : null;
  }

  function heartbeat(onlyIfMoved) {
    var id = currentConversation();
    var moved = id !== viewing;
    if (moved) {
      others = {};
      render();
      if (viewing !== null && id === null) send({ action: "left" });
    }
    viewing = id;
    if (id !== null && (moved || !onlyIfMoved)) send({ action: "viewing", conversation_id: id });
  }

  function presence(frame) {
    if (frame.user_id === me || frame.conversation_id !== viewing) return;
    if (frame.state === "left") delete others[frame.user_id];
    else
      others[frame.user_id] = {
        name: frame.name,
        state: frame.state,
        composer: frame.composer,
        at: Date.now(),
      };
    render();
  }

  function box() {
    var el = document.getElementById("presence");
    if (el) return el;
    var root = conversationRoot();
    if (!root) return null;
    el = document.createElement("div");
    el.id = "presence";
    root.insertBefore(el, root.firstChild);
    return el;
  }

  function render() {
    var el = box();
    if (!el) return;
    var now = Date.now();
    var lines = [];
    Object.keys(others).forEach(function (id) {
      var o = others[id];
      if (now - o.at > PRESENCE_TTL_MS) {
        delete others[id];
        return;
      }
      var p = document.createElement("p");
      p.className = "presence-" + o.state;
      if (o.state === "replying" && o.composer !== "note") {
        p.textContent = o.name + " is replying — you may send at the same time";
        p.setAttribute("role", "alert");
        p.style.cssText =
          "background:var(--warn-bg);color:var(--warn);border:1px solid var(--warn);" +
          "border-radius:var(--radius);padding:.35rem .6rem;margin:0 0 .5rem;font-weight:600";
      } else {
        p.textContent = o.name + (o.state === "replying" ? " is writing a note" : " is viewing");
        p.style.cssText = "color:var(--muted);margin:0 0 .25rem;font-size:.85rem";
      }
      lines.push(p);
    });
    el.replaceChildren.apply(el, lines);
    el.hidden = lines.length === 0;
  }

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t || !t.matches || !t.matches("textarea[data-composer]") || viewing === null) return;
    var now = Date.now();
    if (now - lastTyping < TYPING_MS) return;
    lastTyping = now;
    send({ action: "typing", conversation_id: viewing, composer: t.dataset.composer || "reply" });
  });

  // htmx may swap in another conversation without a page load.
  document.addEventListener("htmx:afterSettle", function () {
    heartbeat(true);
  });
  window.addEventListener("pagehide", function () {
    if (viewing !== null) send({ action: "left" });
  });
  setInterval(function () {
    heartbeat(false);
  }, HEARTBEAT_MS);
  setInterval(render, 5000);
  setInterval(function () {
    send({ action: "ping" });
  }, PING_MS);

  H.live = {
    connected: function () {
      return !!socket && socket.readyState === WebSocket.OPEN;
    },
  };
  setState(false);
  connect();
})();
