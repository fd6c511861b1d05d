/*
 * Atendai web chat widget: a launcher button and a chat panel on the organization's own site.
 *
 *   <script src="https://<atendai>/static/plugins/inbox/widget.js" data-key="PUBLIC_KEY" async></script>
 *
 * Optional attributes: data-lang (pt-BR, en, es: else the organization's language), data-name and
 * data-email (a signed-in customer of the site), data-api (the Atendai address, when the script is
 * served from elsewhere). window.AtendaiChat.open() / .close() / .toggle() drive it from the page.
 *
 * Plain JavaScript, no build step, nothing downloaded from anywhere but this Atendai server. Everything
 * lives in a Shadow DOM, so the page's CSS cannot reach in, and server text is only ever put in the
 * page as text (never as HTML). The visitor's token is kept in localStorage (memory when storage is
 * blocked); the socket signals new messages and the widget re-reads its thread over HTTP, so a missed
 * push or a reconnect never loses a message.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[data-key][src*="/static/plugins/inbox/widget.js"]');
  if (!script || window.AtendaiChat) return;
  const KEY = (script.dataset.key || "").trim();
  if (!KEY) {
    console.warn("Atendai chat: add data-key to the script tag.");
    return;
  }
  const ORIGIN = (script.dataset.api || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const BASE = `${ORIGIN}/api/v1/inbox/webchat/${encodeURIComponent(KEY)}`;
  const STORE = `atendai-chat:${KEY}`;
  const PAGE = 50;
  const TYPING_EVERY = 3000;
  const PING_EVERY = 25000;
  const MAX_BACKOFF = 30000;
  const RENEW_BEFORE = 24 * 3600 * 1000;

  const STRINGS = {
    "pt-BR": {
      open: "Abrir o chat",
      openUnread: "Abrir o chat ({n} mensagens novas)",
      close: "Fechar o chat",
      online: "Online",
      offline: "Fora do horário de atendimento",
      offlineNote: "Estamos fora do horário agora. Deixe sua mensagem e responderemos assim que voltarmos.",
      backAt: "Voltamos {when}.",
      greeting: "Olá! Como podemos ajudar?",
      conversation: "Conversa",
      placeholder: "Escreva sua mensagem…",
      message: "Mensagem",
      send: "Enviar",
      attach: "Anexar arquivo",
      sending: "Enviando…",
      failed: "Não enviada.",
      retry: "Tentar de novo",
      tooLarge: "O arquivo pode ter no máximo {size}.",
      unsupported: "Envie imagens (PNG, JPEG, WebP, GIF), PDF ou áudio.",
      rateTitle: "Como foi o atendimento?",
      rateStar: "{n} de 5",
      comment: "Quer deixar um comentário? (opcional)",
      rateSend: "Enviar avaliação",
      thanks: "Obrigado pela sua avaliação!",
      typing: "digitando…",
      you: "Você",
      team: "Equipe",
      reconnecting: "Reconectando…",
      error: "Algo deu errado. Tente de novo.",
      unavailable: "O chat não está disponível no momento.",
      download: "Baixar {name}",
    },
    en: {
      open: "Open chat",
      openUnread: "Open chat ({n} new messages)",
      close: "Close chat",
      online: "Online",
      offline: "Outside business hours",
      offlineNote: "We are offline right now. Leave a message and we will answer as soon as we are back.",
      backAt: "Back {when}.",
      greeting: "Hello! How can we help?",
      conversation: "Conversation",
      placeholder: "Write your message…",
      message: "Message",
      send: "Send",
      attach: "Attach a file",
      sending: "Sending…",
      failed: "Not sent.",
      retry: "Try again",
      tooLarge: "Files can be at most {size}.",
      unsupported: "Send images (PNG, JPEG, WebP, GIF), PDF or audio.",
      rateTitle: "How was our service?",
      rateStar: "{n} of 5",
      comment: "Anything to add? (optional)",
      rateSend: "Send rating",
      thanks: "Thank you for your rating!",
      typing: "typing…",
      you: "You",
      team: "Team",
      reconnecting: "Reconnecting…",
      error: "Something went wrong. Try again.",
      unavailable: "The chat is not available right now.",
      download: "Download {name}",
    },
    es: {
      open: "Abrir el chat",
      openUnread: "Abrir el chat ({n} mensajes nuevos)",
      close: "Cerrar el chat",
      online: "En línea",
      offline: "Fuera del horario de atención",
      offlineNote: "Ahora estamos fuera del horario. Deja tu mensaje y te responderemos en cuanto volvamos.",
      backAt: "Volvemos {when}.",
      greeting: "¡Hola! ¿En qué podemos ayudarte?",
      conversation: "Conversación",
      placeholder: "Escribe tu mensaje…",
      message: "Mensaje",
      send: "Enviar",
      attach: "Adjuntar archivo",
      sending: "Enviando…",
      failed: "No enviado.",
      retry: "Reintentar",
      tooLarge: "El archivo puede tener como máximo {size}.",
      unsupported: "Envía imágenes (PNG, JPEG, WebP, GIF), PDF o audio.",
      rateTitle: "¿Qué tal fue la atención?",
      rateStar: "{n} de 5",
      comment: "¿Quieres dejar un comentario? (opcional)",
      rateSend: "Enviar valoración",
      thanks: "¡Gracias por tu valoración!",
      typing: "escribiendo…",
      you: "Tú",
      team: "Equipo",
      reconnecting: "Reconectando…",
      error: "Algo salió mal. Inténtalo de nuevo.",
      unavailable: "El chat no está disponible en este momento.",
      download: "Descargar {name}",
    },
  };

  const ICONS = {
    chat: '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>',
    close: '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>',
    send: '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="currentColor" d="M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z"/></svg>',
    clip: '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5"/></svg>',
  };

  const CSS = `
    :host { all: initial; }
    *, *::before, *::after { box-sizing: border-box; }
    .root { --primary: #8b5cf6; --accent: #ec4899; --on-primary: #fff;
      font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      color: #1f2937; -webkit-font-smoothing: antialiased; }
    button { font: inherit; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px; height: 60px;
      border: 0; border-radius: 50%; background: var(--primary); color: var(--on-primary); cursor: pointer;
      display: grid; place-items: center; box-shadow: 0 6px 24px rgba(0,0,0,.25); }
    .launcher:focus-visible, .panel :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    .badge { position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px;
      border-radius: 11px; background: var(--accent); color: #fff; font-size: 12px; font-weight: 700;
      display: grid; place-items: center; border: 2px solid #fff; }
    .badge[hidden] { display: none; }
    .panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000;
      width: min(380px, calc(100vw - 24px)); height: min(620px, calc(100vh - 112px));
      display: flex; flex-direction: column; overflow: hidden; background: #fff;
      border-radius: 16px; box-shadow: 0 12px 48px rgba(0,0,0,.28); }
    .panel[hidden] { display: none; }
    .head { display: flex; align-items: center; gap: 10px; padding: 12px 10px 12px 14px;
      background: var(--primary); color: var(--on-primary); }
    .head img { width: 38px; height: 38px; border-radius: 50%; object-fit: cover; background: #fff; flex: none; }
    .head .who { min-width: 0; flex: 1; }
    .head h2 { margin: 0; font-size: 16px; font-weight: 650; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .head .state { font-size: 12px; opacity: .92; }
    .icon { width: 44px; height: 44px; flex: none; border: 0; border-radius: 50%; cursor: pointer;
      display: grid; place-items: center; background: transparent; color: inherit; }
    .icon:hover { background: rgba(127,127,127,.16); }
    .offline { margin: 0; padding: 8px 14px; font-size: 13px; background: #fef3c7; color: #78350f; }
    .offline[hidden] { display: none; }
    .log { flex: 1; margin: 0; padding: 14px 12px; list-style: none; overflow-y: auto; overscroll-behavior: contain;
      display: flex; flex-direction: column; gap: 8px; background: #f8f7fb; }
    .msg { max-width: 82%; padding: 8px 12px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .msg.in { align-self: flex-end; background: var(--primary); color: var(--on-primary); border-bottom-right-radius: 4px; }
    .msg.out { align-self: flex-start; background: #fff; color: #1f2937; border: 1px solid #e7e5ef; border-bottom-left-radius: 4px; }
    .msg.system { align-self: center; max-width: 92%; background: #eeecf5; color: #4b5563; font-size: 13px; text-align: center; }
    .msg a { color: inherit; text-decoration: underline; }
    .msg img { display: block; max-width: 100%; max-height: 260px; border-radius: 10px; margin: 2px 0; }
    .msg audio { display: block; width: 230px; max-width: 100%; }
    .msg .file { display: inline-flex; gap: 6px; align-items: center; padding: 6px 10px; border-radius: 10px;
      border: 1px solid currentColor; background: transparent; color: inherit; cursor: pointer; text-align: start; }
    .meta { display: block; margin-top: 3px; font-size: 11px; opacity: .75; }
    .msg.pending { opacity: .7; }
    .msg.failed { opacity: 1; outline: 2px solid #dc2626; outline-offset: 1px; }
    .msg .retry { margin-inline-start: 6px; padding: 2px 8px; border-radius: 8px; border: 1px solid currentColor;
      background: transparent; color: inherit; cursor: pointer; font-size: 12px; }
    .typing { align-self: flex-start; font-size: 12px; color: #6b7280; padding: 0 4px; }
    .typing[hidden] { display: none; }
    .csat { padding: 10px 14px 12px; border-top: 1px solid #ece9f3; background: #fff; }
    .csat[hidden] { display: none; }
    .csat p { margin: 0 0 6px; font-weight: 600; }
    .stars { display: flex; gap: 2px; }
    .stars button { width: 44px; height: 44px; border: 0; border-radius: 8px; background: transparent;
      font-size: 28px; line-height: 1; color: #d1d5db; cursor: pointer; }
    .stars button.lit { color: #f59e0b; }
    .csat textarea { width: 100%; margin-top: 6px; min-height: 54px; }
    .csat .rate { margin-top: 6px; }
    .csat .rate[hidden], .csat textarea[hidden] { display: none; }
    .composer { display: flex; align-items: flex-end; gap: 6px; padding: 8px; border-top: 1px solid #ece9f3; background: #fff; }
    textarea { flex: 1; min-width: 0; min-height: 44px; max-height: 140px; resize: none; padding: 10px 12px; font-size: 16px;
      border: 1px solid #d4d0de; border-radius: 12px; font-family: inherit; line-height: inherit; color: inherit; background: #fff; }
    textarea:focus { outline: 2px solid var(--primary); outline-offset: 0; border-color: transparent; }
    .composer .icon { color: #4b5563; }
    .composer .send, .csat .rate { background: var(--primary); color: var(--on-primary); }
    .csat .rate { border: 0; border-radius: 10px; padding: 9px 14px; cursor: pointer; }
    .notice { margin: 0; padding: 0 14px 6px; font-size: 12px; color: #b91c1c; background: #fff; }
    .notice:empty { display: none; }
    .notice.ok { color: #166534; }
    .sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
      clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
    @media (max-width: 480px) {
      .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }
      .launcher.behind { display: none; }
    }
    @media (prefers-reduced-motion: no-preference) {
      .panel { animation: atendai-pop .16s ease-out; }
      @keyframes atendai-pop { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
    }
  `;

  // --- small helpers --------------------------------------------------------------------------------

  function h(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
  }

  function pickLanguage(value) {
    const language = String(value || "").toLowerCase();
    if (language.startsWith("en")) return "en";
    if (language.startsWith("es")) return "es";
    return "pt-BR";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function readableOn(hex) {
    // Text colour for the brand colour: whichever of white or near-black contrasts more.
    const match = /^#?([0-9a-f]{6})/i.exec(hex || "");
    if (!match) return "#fff";
    const [r, g, b] = [0, 2, 4].map((i) => {
      const c = parseInt(match[1].slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return luminance > 0.36 ? "#111827" : "#ffffff";
  }

  function megabytes(bytes) {
    return `${Math.round(bytes / (1024 * 1024))} MB`;
  }

  /** Text with its web addresses as links, built as nodes: server text never becomes HTML. */
  function linkified(text) {
    const parts = [];
    const pattern = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/gi;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      parts.push(text.slice(last, match.index));
      parts.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer nofollow" }, match[0]));
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  const memory = {};
  const storage = {
    get() {
      try {
        return JSON.parse(localStorage.getItem(STORE) || "null");
      } catch {
        return memory[STORE] || null;
      }
    },
    set(value) {
      memory[STORE] = value;
      try {
        if (value) localStorage.setItem(STORE, JSON.stringify(value));
        else localStorage.removeItem(STORE);
      } catch {
        /* storage blocked (private mode, a strict policy): the session lasts as long as the page */
      }
    },
  };

  // --- state ----------------------------------------------------------------------------------------

  const state = {
    config: null,
    language: pickLanguage(script.dataset.lang),
    t: STRINGS["pt-BR"],
    session: storage.get(),
    messages: new Map(),
    pending: new Map(),
    blobs: new Map(),
    awaitingRating: false,
    rated: false,
    score: 0,
    open: false,
    loaded: false,
    unread: 0,
    socket: null,
    backoff: 1000,
    reconnectTimer: null,
    pingTimer: null,
    typingTimer: null,
    lastTyping: 0,
    stopped: false,
  };
  state.t = STRINGS[state.language];

  // --- the API --------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, problem) {
      super(message);
      this.status = status;
      this.problem = problem;
    }
  }

  async function request(path, { method = "GET", json, form, token } = {}) {
    const headers = { Accept: "application/json", "Accept-Language": state.language };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(BASE + path, {
      method,
      headers,
      body: json !== undefined ? JSON.stringify(json) : form,
      mode: "cors",
      credentials: "omit",
    });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw new ApiError((body && (body.detail || body.title)) || state.t.error, response.status, body);
    }
    return body;
  }

  let sessionStarting = null;

  /** The visitor's session: the stored one, renewed when it nears its end, or a new one. */
  function ensureSession() {
    const session = state.session;
    if (session && new Date(session.expires_at).getTime() - Date.now() > RENEW_BEFORE) return Promise.resolve(session);
    if (!sessionStarting) {
      const body = {};
      if (script.dataset.name) body.name = script.dataset.name;
      if (script.dataset.email) body.email = script.dataset.email;
      sessionStarting = request("/sessions", { method: "POST", json: body, token: session && session.token })
        .then((started) => {
          state.session = started;
          storage.set(started);
          connect();
          return started;
        })
        .finally(() => {
          sessionStarting = null;
        });
    }
    return sessionStarting;
  }

  function forgetSession() {
    state.session = null;
    storage.set(null);
    state.messages.clear();
    state.awaitingRating = false;
    if (state.socket) state.socket.close();
    if (ui.log) render();
  }

  /** A call with the visitor token; a refused token starts a new session once and tries again. */
  async function api(path, options = {}) {
    const session = await ensureSession();
    try {
      return await request(path, { ...options, token: session.token });
    } catch (error) {
      if (error.status !== 401) throw error;
      forgetSession();
      const fresh = await ensureSession();
      return request(path, { ...options, token: fresh.token });
    }
  }

  async function fileUrl(message) {
    if (state.blobs.has(message.id)) return state.blobs.get(message.id);
    const session = await ensureSession();
    const response = await fetch(new URL(message.file.url, `${ORIGIN}/`).href, {
      headers: { Authorization: `Bearer ${session.token}` },
      credentials: "omit",
    });
    if (!response.ok) throw new ApiError(state.t.error, response.status, null);
    const url = URL.createObjectURL(await response.blob());
    state.blobs.set(message.id, url);
    return url;
  }

  // --- the interface --------------------------------------------------------------------------------

  const host = document.createElement("atendai-chat");
  const shadow = host.attachShadow({ mode: "open" });
  const ui = {};

  function build() {
    const t = state.t;
    shadow.replaceChildren();
    shadow.append(h("style", {}, CSS));
    ui.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    ui.launcher = h("button", {
      type: "button",
      class: "launcher",
      "data-testid": "launcher",
      "aria-label": t.open,
      "aria-expanded": "false",
      "aria-controls": "atendai-panel",
      onclick: () => toggle(),
    });
    ui.launcher.innerHTML = ICONS.chat; // a constant of this file, never server text
    ui.launcher.append(ui.badge);

    ui.logo = h("img", { alt: "", hidden: true });
    ui.title = h("h2", { id: "atendai-title" }, t.conversation);
    ui.status = h("div", { class: "state" });
    ui.close = h("button", { type: "button", class: "icon", "aria-label": t.close, onclick: () => close() });
    ui.close.innerHTML = ICONS.close;
    ui.offline = h("p", { class: "offline", "data-testid": "offline", hidden: true });
    ui.log = h("ol", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-labelledby": "atendai-title",
      tabindex: "0",
      "data-testid": "messages",
    });
    ui.typing = h("li", { class: "typing", hidden: true, "aria-hidden": "true" }, t.typing);

    ui.stars = [1, 2, 3, 4, 5].map((n) =>
      h(
        "button",
        {
          type: "button",
          "aria-label": format(t.rateStar, { n }),
          "aria-pressed": "false",
          "data-testid": `star-${n}`,
          onclick: () => chooseScore(n),
        },
        "★",
      ),
    );
    ui.comment = h("textarea", { "aria-label": t.comment, placeholder: t.comment, maxlength: "1000", hidden: true });
    ui.rate = h("button", { type: "button", class: "rate", hidden: true, onclick: () => sendRating() }, t.rateSend);
    ui.csatTitle = h("p", { id: "atendai-csat-title" }, t.rateTitle);
    ui.csat = h(
      "section",
      { class: "csat", hidden: true, "aria-labelledby": "atendai-csat-title", "data-testid": "csat" },
      ui.csatTitle,
      h("div", { class: "stars", role: "group", "aria-labelledby": "atendai-csat-title" }, ui.stars),
      ui.comment,
      ui.rate,
    );

    ui.input = h("textarea", {
      rows: "1",
      maxlength: "4000",
      "aria-label": t.message,
      placeholder: t.placeholder,
      "data-testid": "input",
      onkeydown: onComposerKey,
      oninput: onInput,
    });
    ui.file = h("input", { type: "file", class: "sr-only", tabindex: "-1", "aria-hidden": "true", onchange: onFile });
    ui.attach = h("button", {
      type: "button",
      class: "icon",
      "aria-label": t.attach,
      title: t.attach,
      "data-testid": "attach",
      onclick: () => ui.file.click(),
    });
    ui.attach.innerHTML = ICONS.clip;
    ui.send = h("button", { type: "submit", class: "icon send", "aria-label": t.send, title: t.send, "data-testid": "send" });
    ui.send.innerHTML = ICONS.send;
    ui.notice = h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "notice" });
    const composer = h("form", { class: "composer", onsubmit: onSubmit }, ui.input, ui.file, ui.attach, ui.send);

    ui.panel = h(
      "div",
      {
        id: "atendai-panel",
        class: "panel",
        role: "dialog",
        "aria-labelledby": "atendai-title",
        hidden: true,
        "data-testid": "panel",
        onkeydown: (event) => {
          if (event.key === "Escape") {
            event.stopPropagation();
            close();
          }
        },
      },
      h("div", { class: "head" }, ui.logo, h("div", { class: "who" }, ui.title, ui.status), ui.close),
      ui.offline,
      ui.log,
      ui.csat,
      ui.notice,
      composer,
    );
    ui.root = h("div", { class: "root" }, ui.panel, ui.launcher);
    shadow.append(ui.root);
  }

  function applyConfig() {
    const config = state.config;
    const t = state.t;
    ui.root.style.setProperty("--primary", config.primary_color);
    ui.root.style.setProperty("--accent", config.accent_color);
    ui.root.style.setProperty("--on-primary", readableOn(config.primary_color));
    ui.title.textContent = config.organization || t.conversation;
    if (config.logo_url) {
      ui.logo.src = new URL(config.logo_url, `${ORIGIN}/`).href;
      ui.logo.hidden = false;
    }
    ui.status.textContent = config.open ? t.online : t.offline;
    ui.offline.hidden = config.open;
    let note = t.offlineNote;
    if (!config.open && config.opens_at) {
      const when = new Intl.DateTimeFormat(state.language, { weekday: "long", hour: "2-digit", minute: "2-digit" });
      note += ` ${format(t.backAt, { when: when.format(new Date(config.opens_at)) })}`;
    }
    ui.offline.textContent = note;
    ui.file.setAttribute("accept", (config.accept || []).join(","));
  }

  const clock = () => new Intl.DateTimeFormat(state.language, { hour: "2-digit", minute: "2-digit" });

  function senderLabel(message) {
    if (message.sender === "contact") return state.t.you;
    if (message.sender === "system") return "";
    return message.sender_name || (state.config && state.config.organization) || state.t.team;
  }

  function fileNode(message) {
    const file = message.file;
    if (file.content_type.startsWith("image/")) {
      const image = h("img", { alt: file.filename || "" });
      fileUrl(message).then((url) => (image.src = url)).catch(() => image.replaceWith(file.filename));
      return image;
    }
    if (file.content_type.startsWith("audio/")) {
      const audio = h("audio", { controls: true, preload: "none", "aria-label": file.filename || "audio" });
      fileUrl(message).then((url) => (audio.src = url)).catch(() => audio.replaceWith(file.filename));
      return audio;
    }
    const name = file.filename || "file";
    return h(
      "button",
      {
        type: "button",
        class: "file",
        "aria-label": format(state.t.download, { name }),
        onclick: async () => {
          try {
            const link = h("a", { href: await fileUrl(message), download: name });
            link.click();
          } catch {
            notify(state.t.error);
          }
        },
      },
      "📄 ",
      name,
    );
  }

  function messageNode(message) {
    const kind = message.sender === "system" ? "system" : message.direction === "in" ? "in" : "out";
    const label = senderLabel(message);
    const time = clock().format(new Date(message.created_at));
    return h(
      "li",
      { class: `msg ${kind}`, "data-testid": "message", "data-id": message.id, "data-sender": message.sender },
      message.file ? fileNode(message) : null,
      message.body ? linkified(message.body) : null,
      h("span", { class: "meta" }, label ? `${label} · ${time}` : time),
    );
  }

  function pendingNode(item) {
    const failed = item.status === "failed";
    return h(
      "li",
      { class: `msg in ${failed ? "failed" : "pending"}`, "data-testid": "message", "data-pending": item.clientId },
      item.file ? `📎 ${item.file.name}` : linkified(item.body),
      h(
        "span",
        { class: "meta" },
        failed ? state.t.failed : state.t.sending,
        failed ? h("button", { type: "button", class: "retry", onclick: () => retry(item.clientId) }, state.t.retry) : null,
      ),
    );
  }

  function render() {
    const nearBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
    const greeting = (state.config && state.config.greeting) || state.t.greeting;
    const sorted = [...state.messages.values()].sort(
      (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id),
    );
    ui.log.replaceChildren(
      h("li", { class: "msg out", "data-testid": "greeting" }, greeting),
      ...sorted.map(messageNode),
      ...[...state.pending.values()].map(pendingNode),
      ui.typing,
    );
    if (nearBottom || !state.loaded) ui.log.scrollTop = ui.log.scrollHeight;
    const lastSystem = sorted.filter((m) => m.sender === "system").pop();
    const asking = state.awaitingRating && !state.rated && lastSystem && lastSystem.payload.auto === "csat";
    ui.csat.hidden = !asking;
    renderBadge();
  }

  function renderBadge() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    ui.launcher.setAttribute(
      "aria-label",
      state.open ? state.t.close : state.unread ? format(state.t.openUnread, { n: state.unread }) : state.t.open,
    );
  }

  /** A line under the thread: an error (red), or ``ok`` news such as a thank-you (green). */
  function notify(text, ok = false) {
    ui.notice.textContent = text || "";
    ui.notice.classList.toggle("ok", ok);
  }

  // --- opening and closing --------------------------------------------------------------------------

  function open() {
    if (state.open || !state.config) return;
    state.open = true;
    state.unread = 0;
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.classList.add("behind");
    render();
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.input.focus();
    if (state.session) refresh();
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.classList.remove("behind");
    renderBadge();
    ui.launcher.focus();
  }

  function toggle() {
    if (state.open) close();
    else open();
  }

  // --- the thread -----------------------------------------------------------------------------------

  let refreshing = null;

  /** Re-read the newest page and merge it; ``expected`` is a pushed id to wait for (its commit may lag). */
  async function refresh(expected, attempt = 0) {
    if (!state.session) return;
    if (refreshing) {
      await refreshing.catch(() => {});
    }
    refreshing = api(`/messages?limit=${PAGE}`);
    let thread;
    try {
      thread = await refreshing;
    } catch (error) {
      notify(error.message);
      return;
    } finally {
      refreshing = null;
    }
    let fresh = 0;
    for (const message of thread.items) {
      if (!state.messages.has(message.id) && message.direction === "out") fresh += 1;
      state.messages.set(message.id, message);
    }
    state.awaitingRating = thread.awaiting_rating;
    if (thread.awaiting_rating) state.rated = false;
    if (state.loaded && (!state.open || document.hidden)) state.unread += fresh;
    state.loaded = true;
    if (fresh) ui.typing.hidden = true;
    render();
    if (expected && !state.messages.has(expected) && attempt < 3) {
      setTimeout(() => refresh(expected, attempt + 1), 700 * (attempt + 1));
    }
  }

  function onComposerKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      onSubmit(event);
    }
  }

  function onInput() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 140)}px`;
    const now = Date.now();
    if (state.socket && state.socket.readyState === WebSocket.OPEN && now - state.lastTyping > TYPING_EVERY) {
      state.lastTyping = now;
      state.socket.send(JSON.stringify({ op: "typing" }));
    }
  }

  function onSubmit(event) {
    event.preventDefault();
    const body = ui.input.value.trim();
    if (!body) return;
    ui.input.value = "";
    onInput();
    const item = { clientId: uuid(), body, status: "sending" };
    state.pending.set(item.clientId, item);
    render();
    ui.log.scrollTop = ui.log.scrollHeight;
    deliver(item);
  }

  function onFile() {
    const file = ui.file.files && ui.file.files[0];
    ui.file.value = "";
    if (!file) return;
    const config = state.config;
    if (file.size > config.max_upload_bytes) {
      notify(format(state.t.tooLarge, { size: megabytes(config.max_upload_bytes) }));
      return;
    }
    if (file.type && !config.accept.includes(file.type) && !file.type.startsWith("audio/")) {
      notify(state.t.unsupported);
      return;
    }
    const item = { clientId: uuid(), body: "", file, status: "sending" };
    state.pending.set(item.clientId, item);
    render();
    deliver(item);
  }

  /** Send one pending message; its client id makes a retry safe (the server stores it once). */
  async function deliver(item) {
    notify("");
    try {
      let message;
      if (item.file) {
        const form = new FormData();
        form.append("file", item.file, item.file.name);
        form.append("client_id", item.clientId);
        message = await api("/attachments", { method: "POST", form });
      } else {
        message = await api("/messages", {
          method: "POST",
          json: { client_id: item.clientId, body: item.body, language: state.language },
        });
      }
      state.pending.delete(item.clientId);
      state.messages.set(message.id, message);
      render();
    } catch (error) {
      item.status = "failed";
      notify(error.message);
      render();
    }
  }

  function retry(clientId) {
    const item = state.pending.get(clientId);
    if (!item) return;
    item.status = "sending";
    render();
    deliver(item);
  }

  // --- rating ---------------------------------------------------------------------------------------

  function chooseScore(score) {
    state.score = score;
    ui.stars.forEach((star, index) => {
      star.classList.toggle("lit", index < score);
      star.setAttribute("aria-pressed", String(index + 1 === score));
    });
    ui.comment.hidden = false;
    ui.rate.hidden = false;
  }

  async function sendRating() {
    if (!state.score) return;
    ui.rate.disabled = true;
    try {
      await api("/csat", { method: "POST", json: { score: state.score, comment: ui.comment.value.trim() } });
      state.rated = true;
      state.awaitingRating = false;
      render();
      notify(state.t.thanks, true);
      ui.input.focus();
    } catch (error) {
      notify(error.message);
    } finally {
      ui.rate.disabled = false;
    }
  }

  // --- live -----------------------------------------------------------------------------------------

  function connect() {
    if (!state.session || state.socket || state.stopped) return;
    clearTimeout(state.reconnectTimer);
    const socket = new WebSocket(`${BASE.replace(/^http/, "ws")}/socket`);
    const token = state.session.token;
    state.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ op: "auth", token }));
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.op === "ready") {
        state.backoff = 1000;
        if (ui.status.textContent === state.t.reconnecting) applyConfig();
        clearInterval(state.pingTimer);
        state.pingTimer = setInterval(() => {
          if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: "ping" }));
        }, PING_EVERY);
        refresh(); // whatever was said while the socket was away
      } else if (frame.op === "message" && frame.data) {
        if (frame.data.type === "typing") showTyping();
        else refresh(frame.data.message_id);
      }
    };
    socket.onclose = (event) => {
      clearInterval(state.pingTimer);
      if (state.socket === socket) state.socket = null;
      if (event.code === 4404) {
        state.stopped = true; // the chat was switched off: no point in knocking again
        notify(state.t.unavailable);
        return;
      }
      if (event.code === 4401) {
        if (state.session && state.session.token !== token) {
          connect(); // the session was renewed meanwhile: the socket's older token ran out, not the visitor's
          return;
        }
        forgetSession();
        return; // a new session (and socket) starts with the visitor's next message
      }
      if (state.open) ui.status.textContent = state.t.reconnecting;
      const delay = Math.min(MAX_BACKOFF, state.backoff) * (0.5 + Math.random() / 2);
      state.backoff = Math.min(MAX_BACKOFF, state.backoff * 2);
      state.reconnectTimer = setTimeout(connect, delay);
    };
  }

  function showTyping() {
    ui.typing.hidden = false;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => (ui.typing.hidden = true), 6000);
  }

  function wake() {
    // Back online, or back to the tab: reconnect now instead of waiting for the backoff.
    if (state.session && !state.socket && !state.stopped) {
      state.backoff = 1000;
      connect();
    }
  }

  // --- start ----------------------------------------------------------------------------------------

  async function start() {
    let config;
    try {
      config = await request("/config");
    } catch (error) {
      console.warn("Atendai chat:", error.message);
      return; // an unknown or disabled chat shows nothing on the site
    }
    state.config = config;
    if (!script.dataset.lang) state.language = pickLanguage(config.language);
    state.t = STRINGS[state.language];
    build();
    applyConfig();
    render();
    document.body.append(host);
    window.addEventListener("online", wake);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) wake();
    });
    if (state.session) {
      connect(); // a returning visitor: replies that came while away show as unread
    }
  }

  window.AtendaiChat = { open: () => open(), close: () => close(), toggle: () => toggle() };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
