/* The knowledge pages: the upload form (files chosen, checks before sending, upload progress) and the
   name/value rows of metadata and attributes. Alpine components, registered before Alpine starts.
   Texts come translated from data attributes; nothing here holds a visible string of its own. */
(function () {
  "use strict";

  function readJson(element, name, fallback) {
    try {
      const value = JSON.parse(element.dataset[name] || "");
      return value === null || value === undefined ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;

    Alpine.data("knowledgeUpload", () => ({
      chosen: [],
      ready: false,
      uploading: false,
      percent: 0,
      over: false,
      maxBytes: 0,
      types: [],
      messages: {},

      init() {
        this.maxBytes = Number(this.$el.dataset.maxBytes || 0);
        this.types = (this.$el.dataset.types || "").split(",").filter(Boolean);
        this.messages = readJson(this.$el, "messages", {});
      },

      choose(event) {
        const files = Array.from((event.target && event.target.files) || []);
        // The server checks every file again; this only says early what it will refuse.
        this.chosen = files.map((file) => {
          const dot = file.name.lastIndexOf(".");
          const extension = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
          let problem = "";
          if (this.types.length && !this.types.includes(extension)) problem = this.messages.type || "";
          else if (this.maxBytes && file.size > this.maxBytes) problem = this.messages.size || "";
          return { name: file.name, size: humanSize(file.size), problem };
        });
        this.ready = this.chosen.some((file) => !file.problem);
      },

      drop(event) {
        this.over = false;
        const input = this.$el.querySelector("input[type=file]");
        const files = event.dataTransfer && event.dataTransfer.files;
        if (!input || !files || !files.length) return;
        input.files = files;
        this.choose({ target: input });
      },

      start(event) {
        if (event.detail && event.detail.elt !== this.$el) return;
        this.uploading = true;
        this.percent = 0;
      },

      progress(event) {
        const detail = event.detail || {};
        if (detail.lengthComputable && detail.total) this.percent = Math.round((100 * detail.loaded) / detail.total);
      },

      finish(event) {
        if (event.detail && event.detail.elt !== this.$el) return;
        this.uploading = false;
        this.percent = 100;
      },
    }));

    let added = 0;

    Alpine.data("pairRows", () => ({
      add() {
        const rows = this.$refs.rows;
        const last = rows.querySelector("[data-pair]:last-of-type");
        if (!last) return;
        const copy = last.cloneNode(true);
        added += 1;
        copy.querySelectorAll("input").forEach((input) => {
          input.value = "";
          const label = copy.querySelector('label[for="' + input.id + '"]');
          input.id = input.id.split("--")[0] + "--" + added;
          if (label) label.htmlFor = input.id;
        });
        rows.appendChild(copy);
        const first = copy.querySelector("input");
        if (first) first.focus();
      },

      remove(event) {
        const row = event.target.closest("[data-pair]");
        const rows = this.$refs.rows;
        if (!row) return;
        if (rows.querySelectorAll("[data-pair]").length > 1) {
          row.remove();
          const next = rows.querySelector("[data-pair] input");
          if (next) next.focus();
        } else {
          row.querySelectorAll("input").forEach((input) => { input.value = ""; });
        }
      },
    }));
  });

  /* A polled part whose document is gone (deleted in another tab) stops asking, without an error toast. */
  document.addEventListener("htmx:responseError", (event) => {
    const element = event.detail && event.detail.elt;
    const xhr = event.detail && event.detail.xhr;
    if (!element || !xhr || xhr.status !== 404) return;
    const polled = element.closest && element.closest("#document-status");
    if (!polled) return;
    event.stopPropagation();
    const still = polled.cloneNode(true);
    still.removeAttribute("hx-get");
    still.removeAttribute("hx-trigger");
    polled.replaceWith(still);
    if (window.htmx) window.htmx.process(still);
  }, true);
})();
