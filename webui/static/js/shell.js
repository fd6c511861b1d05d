/* The shell's behaviour: CSRF header on htmx requests, the confirmation dialog, toasts, keeping the
   session alive, and live notifications over the WebSocket. No inline scripts anywhere: pages carry
   data attributes and Alpine directives only. */
(function () {
  "use strict";

  const body = () => document.body;
  const i18n = () => {
    try { return JSON.parse(body().dataset.i18n || "{}"); } catch (e) { return {}; }
  };
  const say = (key, fallback) => i18n()[key] || fallback;

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  /* ------------------------------------------------------------------------------------ toasts */
  const ICONS = { success: "circle-check", error: "circle-x", warning: "triangle-alert", info: "info" };

  function showToast(kind, message) {
    const box = document.getElementById("toasts");
    if (!box || !message) return;
    const toast = document.createElement("div");
    toast.className = "toast " + (ICONS[kind] ? kind : "info");
    toast.setAttribute("role", kind === "error" ? "alert" : "status");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "/static/vendor/lucide/icons.svg#" + (ICONS[kind] || "info"));
    svg.appendChild(use);
    const text = document.createElement("p");
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn btn-ghost btn-sm";
    close.setAttribute("aria-label", say("close", "Close"));
    close.textContent = "×";
    close.addEventListener("click", () => toast.remove());
    toast.append(svg, text, close);
    box.appendChild(toast);
    dismissLater(toast, kind === "error" ? 9000 : 5000);
  }
  window.atendaiToast = showToast;

  function dismissLater(toast, delay) {
    let timer = setTimeout(() => toast.remove(), delay);
    toast.addEventListener("mouseenter", () => clearTimeout(timer));
    toast.addEventListener("mouseleave", () => { timer = setTimeout(() => toast.remove(), 2000); });
  }

  /* -------------------------------------------------------------------------- confirmation dialog */
  function askConfirmation(message, actionLabel, danger) {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(message));
    dialog.querySelector("[data-confirm-message]").textContent = message;
    const ok = dialog.querySelector("[data-confirm-ok]");
    ok.textContent = actionLabel || say("confirm", "Confirm");
    ok.className = danger ? "btn btn-danger" : "btn btn-primary";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      dialog.querySelector("[data-confirm-cancel]").focus();
    });
  }
  window.atendaiConfirm = askConfirmation;

  /* ------------------------------------------------------------------------------------- session */
  let refreshing = null;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function renewOnce() {
    return fetch("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) throw new Error("session ended");
        return response.json();
      });
  }

  async function renew() {
    try {
      return await renewOnce();
    } catch (error) {
      // Another tab may have renewed the shared session a moment ago: the cookie now holds the new token.
      await sleep(1500);
      return renewOnce();
    }
  }

  function refreshSession() {
    if (!refreshing) {
      // One tab at a time: the others wait, then renew with the cookie the first one got.
      const run = () => renew().then((tokens) => {
        scheduleRefresh(Date.now() + tokens.expires_in * 1000);
        return true;
      });
      const locked = navigator.locks ? navigator.locks.request("atendai-session-refresh", run) : run();
      refreshing = locked.finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  let refreshTimer = null;
  function scheduleRefresh(expiresAt) {
    clearTimeout(refreshTimer);
    if (!expiresAt) return;
    // Renew about a minute before the access token runs out, while the page is open (spread over a few
    // seconds so that several tabs do not all ask at once).
    const wait = Math.max(5000, expiresAt - Date.now() - 60000 - Math.random() * 15000);
    refreshTimer = setTimeout(() => refreshSession().catch(() => {}), wait);
  }

  function goToLogin() {
    const next = location.pathname + location.search;
    location.assign("/api/v1/auth/resume?next=" + encodeURIComponent(next));
  }

  /* ---------------------------------------------------------------------------------- htmx wiring */
  function wireHtmx() {
    if (!window.htmx) return;
    document.addEventListener("htmx:configRequest", (event) => {
      const token = cookie("atendai_csrf");
      if (token) event.detail.headers["X-CSRF-Token"] = token;
    });
    document.addEventListener("htmx:confirm", (event) => {
      const question = event.detail.question;
      if (!question) return;
      event.preventDefault();
      const element = event.detail.elt;
      askConfirmation(question, element.dataset.confirmAction, element.hasAttribute("data-confirm-danger")).then((yes) => {
        if (yes) event.detail.issueRequest(true);
      });
    });
    document.addEventListener("htmx:responseError", (event) => {
      const xhr = event.detail.xhr;
      if (xhr.status === 401) {
        refreshSession().then(
          () => showToast("info", say("error", "Try again.")),
          () => goToLogin(),
        );
        return;
      }
      let message = "";
      try {
        const problem = JSON.parse(xhr.responseText);
        message = problem.detail || problem.title || "";
      } catch (e) { /* not a problem document */ }
      if (!message) message = xhr.status === 403 ? say("forbidden", "Forbidden") : say("error", "Something went wrong.");
      showToast("error", message);
    });
    document.addEventListener("htmx:sendError", () => showToast("error", say("offline", "Offline.")));
    document.body.addEventListener("toast", (event) => showToast(event.detail.kind, event.detail.message));
  }

  /* ----------------------------------------------------------------------------- notifications */
  let socket = null;
  let retries = 0;

  function connectNotifications() {
    const userId = body().dataset.userId;
    if (!userId || !body().dataset.tenant || !("WebSocket" in window)) return;
    socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
    socket.addEventListener("open", () => {
      retries = 0;
      socket.send(JSON.stringify({ op: "subscribe", topics: ["notifications.user." + userId], id: 1 }));
    });
    socket.addEventListener("message", (frame) => {
      let message;
      try { message = JSON.parse(frame.data); } catch (e) { return; }
      if (message.op !== "message") return;
      if (message.topic.startsWith("notifications.")) {
        body().dispatchEvent(new CustomEvent("notifications-changed"));
        if (message.data && message.data.text) showToast("info", message.data.text);
      }
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === 4403) return;
      const reconnect = () => setTimeout(connectNotifications, Math.min(30000, 1000 * 2 ** retries++));
      if (event.code === 4401) refreshSession().then(reconnect, () => {});
      else reconnect();
    });
  }

  /* ------------------------------------------------------------------------------------ start up */
  document.addEventListener("alpine:init", () => {
    window.Alpine.data("shell", () => ({ navOpen: false }));
  });

  document.addEventListener("DOMContentLoaded", () => {
    wireHtmx();
    document.querySelectorAll("[data-autodismiss]").forEach((toast) => dismissLater(toast, 6000));
    const expires = Number(body().dataset.sessionExpires || 0);
    if (expires) scheduleRefresh(expires);
    connectNotifications();
  });
})();
