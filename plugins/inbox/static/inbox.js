/* Inbox pages: live refresh over the WebSocket, the thread kept at its newest message, and the
   composer's keyboard (Ctrl+Enter sends, "/" offers canned responses).

   Live: every element with data-live-topic names a topic of the organization's real-time channels
   (inbox.board, inbox.conversation.<id>) and data-refresh-url, the page that redraws it. A push says
   which conversation changed; the element is fetched again (htmx, with its id as HX-Target) a moment
   later, so a burst of events costs one request. Nothing is refreshed while a card is being dragged. */
(function () {
  "use strict";

  let socket = null;
  let retries = 0;
  const timers = {};

  function liveElements() {
    return Array.from(document.querySelectorAll("[data-live-topic]"));
  }

  function topics() {
    return Array.from(new Set(liveElements().map((el) => el.dataset.liveTopic)));
  }

  function refresh(topic) {
    liveElements().filter((el) => el.dataset.liveTopic === topic).forEach((el) => {
      const id = el.id;
      clearTimeout(timers[id]);
      timers[id] = setTimeout(() => {
        if (document.querySelector(".sortable-chosen, .kanban-card.moving")) { refresh(topic); return; }
        const current = document.getElementById(id);
        if (!current || !window.htmx) return;
        window.htmx.ajax("GET", current.dataset.refreshUrl, { target: "#" + id, swap: "outerHTML" });
      }, 250);
    });
  }

  function subscribe() {
    if (socket && socket.readyState === 1) {
      socket.send(JSON.stringify({ op: "subscribe", topics: topics(), id: "inbox" }));
    }
  }

  function connect() {
    if (!("WebSocket" in window) || !topics().length) return;
    socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
    socket.addEventListener("open", () => { retries = 0; subscribe(); });
    socket.addEventListener("message", (frame) => {
      let message;
      try { message = JSON.parse(frame.data); } catch (e) { return; }
      if (message.op === "message" && message.topic) refresh(message.topic);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === 4403) return;
      setTimeout(connect, Math.min(30000, 1000 * 2 ** retries++));
    });
  }

  /* --------------------------------------------------------------------------------- the thread */
  let shownNamed = false;
  function toNewest() {
    const thread = document.getElementById("inbox-thread");
    if (!thread) return;
    // A link from the history search names a message: show that one, not the newest.
    const named = location.hash.startsWith("#message-") && document.getElementById(location.hash.slice(1));
    if (named && !shownNamed) {
      shownNamed = true;
      named.scrollIntoView({ block: "center" });
      return;
    }
    thread.scrollTop = thread.scrollHeight;
  }

  /* ------------------------------------------------------------------------------- the composer */
  function cannedBodies(form) {
    const template = form.querySelector("#canned-bodies");
    if (!template) return [];
    return Array.from(template.content.querySelectorAll("[data-shortcut]")).map((el) => ({
      shortcut: el.dataset.shortcut, title: el.dataset.title, body: el.textContent,
    }));
  }

  function wireComposer(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("#inbox-composer").forEach((form) => {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      const input = form.querySelector("textarea");
      const menu = form.querySelector("[data-canned-menu]");
      const items = cannedBodies(form);
      let shown = [];
      function close() { menu.hidden = true; menu.innerHTML = ""; shown = []; }
      function pick(item) { input.value = item.body; close(); input.focus(); }
      input.addEventListener("input", () => {
        const match = /^\/(\S*)$/.exec(input.value);
        if (!match || !items.length) { close(); return; }
        shown = items.filter((item) => item.shortcut.startsWith(match[1].toLowerCase()) || (item.title || "").toLowerCase().includes(match[1].toLowerCase()));
        if (!shown.length) { close(); return; }
        menu.innerHTML = "";
        shown.slice(0, 8).forEach((item, index) => {
          const option = document.createElement("button");
          option.type = "button";
          option.className = "btn btn-ghost inbox-canned-option";
          option.setAttribute("role", "option");
          option.dataset.testid = "canned-option";
          option.textContent = "/" + item.shortcut + (item.title ? " · " + item.title : "");
          option.addEventListener("click", () => pick(item));
          if (index === 0) option.setAttribute("aria-selected", "true");
          menu.appendChild(option);
        });
        menu.hidden = false;
      });
      input.addEventListener("keydown", (event) => {
        if (!menu.hidden && (event.key === "Tab" || event.key === "Enter") && shown.length) {
          event.preventDefault();
          pick(shown[0]);
          return;
        }
        if (event.key === "Escape") close();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    connect();
    toNewest();
    wireComposer(document);
  });
  document.addEventListener("htmx:load", (event) => {
    wireComposer(event.detail.elt);
    subscribe();
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && (event.detail.target.id === "inbox-thread" || event.detail.target.id === "inbox-composer")) toNewest();
    const composer = document.querySelector("#inbox-composer textarea");
    if (event.detail.target && event.detail.target.id === "inbox-composer" && composer) composer.focus();
  });
  document.addEventListener("htmx:oobAfterSwap", () => toNewest());
})();
