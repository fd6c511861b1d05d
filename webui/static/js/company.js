/* The company profile page: choosing and uploading the logo, the live preview of the brand colours
   (with the same readable shades the server computes in kernel/web/theme.py), the business hours
   editor and the character counters. Alpine components, registered before Alpine starts. Texts come
   translated from data attributes; nothing here holds a visible string of its own. */
(function () {
  "use strict";

  /* ------------------------------------------------------------------------------------ helpers */
  function readJson(element, name, fallback) {
    try {
      const value = JSON.parse(element.dataset[name] || "");
      return value === null || value === undefined ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  /* "{ratio}:1" with values filled in (templates arrive translated, placeholders in braces). */
  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  /* ------------------------------------------------------------------------- colour arithmetic */
  /* A port of kernel/web/theme.py, so what the preview shows is what the saved theme will be. */
  const SURFACE = "#181524";
  const LIGHT = "#ffffff";
  const DARK = "#12101a";
  const AA = 4.5;
  const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  const THEME_VARIABLES = ["--accent", "--on-accent", "--accent-text", "--accent-2", "--on-accent-2", "--accent-2-text", "--on-brand", "--brand-fill"];

  function normalizeHex(value) {
    const text = String(value || "").trim();
    if (!HEX.test(text)) return "";
    let digits = text.slice(1).toLowerCase();
    if (digits.length === 3) digits = digits.split("").map((c) => c + c).join("");
    return "#" + digits;
  }

  function toRgb(color) {
    const digits = normalizeHex(color).slice(1);
    return [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16) / 255);
  }

  /* Python's round(): halves go to the even neighbour. */
  function roundHalfEven(x) {
    const floor = Math.floor(x);
    const diff = x - floor;
    if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1;
    return Math.round(x);
  }

  function toHex(rgb) {
    return "#" + rgb.map((c) => roundHalfEven(Math.max(0, Math.min(1, c)) * 255).toString(16).padStart(2, "0")).join("");
  }

  function luminance(color) {
    const [r, g, b] = toRgb(color).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    const [lighter, darker] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (lighter + 0.05) / (darker + 0.05);
  }

  function mix(color, other, amount) {
    const a = toRgb(color);
    const b = toRgb(other);
    return toHex(a.map((x, i) => x + (b[i] - x) * amount));
  }

  function readableOn(fill) {
    return contrast(LIGHT, fill) >= contrast(DARK, fill) ? LIGHT : DARK;
  }

  function textVariant(color, background) {
    for (let step = 0; step <= 20; step++) {
      const candidate = mix(color, LIGHT, step / 20);
      if (contrast(candidate, background) >= AA) return candidate;
    }
    return LIGHT;
  }

  function brandTheme(primary, accent, defaults) {
    if (!primary && !accent) return {};
    const variables = {};
    [["accent", primary, defaults.primary], ["accent-2", accent, defaults.accent]].forEach(([name, value, fallback]) => {
      const fill = value || fallback;
      variables["--" + name] = fill;
      variables["--on-" + name] = readableOn(fill);
      variables["--" + name + "-text"] = textVariant(fill, SURFACE);
    });
    const ends = [variables["--accent"], variables["--accent-2"]];
    const worst = (text) => Math.min(...ends.map((end) => contrast(text, end)));
    const best = worst(LIGHT) >= worst(DARK) ? LIGHT : DARK;
    // As kernel/web/theme.py: no text colour reads on the whole gradient, so buttons take the primary alone.
    if (worst(best) >= AA) {
      variables["--on-brand"] = best;
      variables["--brand-fill"] = "linear-gradient(90deg, var(--accent), var(--accent-2))";
    } else {
      variables["--on-brand"] = variables["--on-accent"];
      variables["--brand-fill"] = "var(--accent)";
    }
    return variables;
  }

  function applyTheme(variables) {
    const style = document.documentElement.style;
    THEME_VARIABLES.forEach((name) => {
      if (variables[name]) style.setProperty(name, variables[name]);
      else style.removeProperty(name); // back to the default theme of shell.css
    });
  }

  const ratio = (value) => (Math.floor(value * 10) / 10).toFixed(1);

  /* ---------------------------------------------------------------------------------- components */
  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;

    Alpine.data("brandColors", () => ({
      primary: "",
      accent: "",
      defaults: { primary: "#7c3aed", accent: "#db2777", surface: SURFACE },
      messages: {},
      lastValid: { primary: "", accent: "" },
      warnings: { primary: "", accent: "", gradient: "" },

      init() {
        this.defaults = readJson(this.$el, "defaults", this.defaults);
        this.messages = readJson(this.$el, "messages", {});
        this.primary = this.$el.dataset.primary || "";
        this.accent = this.$el.dataset.accent || "";
        this.check();
      },

      /* The colour a field stands for: its hex, the default when empty, the last good one while typing. */
      effective(which) {
        const text = String(this[which] || "").trim();
        if (!text) return "";
        const color = normalizeHex(text);
        if (color) this.lastValid[which] = color;
        return color || this.lastValid[which];
      },

      swatch(which) {
        return this.effective(which) || this.defaults[which];
      },

      pick(which, value) {
        this[which] = value;
        this.preview();
      },

      preview() {
        applyTheme(brandTheme(this.effective("primary"), this.effective("accent"), this.defaults));
        this.check();
      },

      check() {
        const warnings = { primary: "", accent: "", gradient: "" };
        ["primary", "accent"].forEach((which) => {
          const text = String(this[which] || "").trim();
          if (text && !normalizeHex(text)) {
            warnings[which] = this.messages.invalid || "";
            return;
          }
          const color = normalizeHex(text);
          if (!color) return;
          const asText = contrast(color, SURFACE);
          const onFill = contrast(readableOn(color), color);
          if (asText < AA) warnings[which] = fill(this.messages.text, { ratio: ratio(asText), shade: textVariant(color, SURFACE) });
          else if (onFill < AA) warnings[which] = fill(this.messages.fill, { ratio: ratio(onFill) });
        });
        const theme = brandTheme(this.effective("primary"), this.effective("accent"), this.defaults);
        if (theme["--brand-fill"] === "var(--accent)") {
          const best = Math.max(...[LIGHT, DARK].map((text) => Math.min(contrast(text, theme["--accent"]), contrast(text, theme["--accent-2"]))));
          warnings.gradient = fill(this.messages.gradient, { ratio: ratio(best) });
        }
        this.warnings = warnings;
      },

      reset() {
        this.primary = "";
        this.accent = "";
        this.preview();
        this.$nextTick(() => this.$root.requestSubmit());
      },
    }));

    Alpine.data("businessHours", () => ({
      order: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
      enabled: false,
      days: {},
      max: 3,
      labels: {},

      init() {
        const initial = readJson(this.$el, "hours", { enabled: false, days: {} });
        this.max = Number(this.$el.dataset.max || 3);
        this.labels = readJson(this.$el, "labels", {});
        this.enabled = Boolean(initial.enabled);
        const days = {};
        this.order.forEach((day) => {
          const pairs = (initial.days || {})[day] || [];
          days[day] = { open: pairs.length > 0, intervals: pairs.map((pair) => ({ open: this.shown(pair[0]), close: this.shown(pair[1]) })) };
        });
        if (!this.enabled) {
          // A first start people can adjust: weekdays from nine to six.
          ["mon", "tue", "wed", "thu", "fri"].forEach((day) => { days[day] = { open: true, intervals: [{ open: "09:00", close: "18:00" }] }; });
        }
        this.days = days;
      },

      /* A time picker cannot show 24:00: midnight at the end of the day is entered as 00:00. */
      shown(value) {
        return value === "24:00" ? "00:00" : String(value || "");
      },

      minutes(value) {
        const match = /^(\d{1,2}):(\d{2})$/.exec(value || "");
        return match ? Number(match[1]) * 60 + Number(match[2]) : null;
      },

      clock(total) {
        const minutes = Math.max(0, Math.min(total, 24 * 60)) % (24 * 60);
        return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
      },

      toggled(day) {
        const entry = this.days[day];
        if (entry.open && entry.intervals.length === 0) entry.intervals.push({ open: "09:00", close: "18:00" });
      },

      add(day) {
        const list = this.days[day].intervals;
        if (list.length >= this.max) return;
        const last = list[list.length - 1];
        const lastClose = last ? this.minutes(last.close) : null;
        if (lastClose === null || lastClose === 0 || lastClose >= 23 * 60) {
          list.push({ open: last ? "" : "09:00", close: last ? "" : "18:00" });
          return;
        }
        const start = lastClose + 60;
        list.push({ open: this.clock(start), close: this.clock(Math.min(start + 4 * 60, 24 * 60)) });
      },

      remove(day, index) {
        const entry = this.days[day];
        entry.intervals.splice(index, 1);
        if (entry.intervals.length === 0) entry.open = false;
      },

      copyMonday() {
        const monday = this.days.mon;
        ["tue", "wed", "thu", "fri"].forEach((day) => {
          this.days[day] = { open: monday.open, intervals: monday.intervals.map((interval) => ({ open: interval.open, close: interval.close })) };
        });
        if (window.atendaiToast && this.labels.copied) window.atendaiToast("info", this.labels.copied);
      },

      label(kind, day, index) {
        return fill(this.labels[kind], { day: (this.labels.names || {})[day] || day, number: index + 1 });
      },

      /* What the form posts: {} when no hours are published, else every weekday's [opening, closing] pairs. */
      get payload() {
        if (!this.enabled) return "{}";
        const hours = {};
        this.order.forEach((day) => {
          const entry = this.days[day];
          hours[day] = entry && entry.open ? entry.intervals.map((interval) => [interval.open, interval.close]) : [];
        });
        return JSON.stringify(hours);
      },
    }));

    Alpine.data("logoUpload", () => ({
      types: ["image/png", "image/jpeg", "image/webp", "image/gif"],
      preview: "",
      problem: "",
      ready: false,
      uploading: false,
      percent: 0,
      maxBytes: 0,
      messages: {},

      init() {
        this.maxBytes = Number(this.$el.dataset.maxBytes || 0);
        this.messages = readJson(this.$el, "messages", {});
      },

      destroy() {
        if (this.preview) URL.revokeObjectURL(this.preview);
      },

      choose(event) {
        const file = event.target.files && event.target.files[0];
        if (this.preview) URL.revokeObjectURL(this.preview);
        this.preview = "";
        this.problem = "";
        this.ready = false;
        if (!file) return;
        // The server checks again; this only spares a pointless upload.
        if (file.type && !this.types.includes(file.type)) {
          this.problem = this.messages.type || "";
          return;
        }
        if (this.maxBytes && file.size > this.maxBytes) {
          this.problem = this.messages.size || "";
          return;
        }
        this.preview = URL.createObjectURL(file);
        this.ready = true;
      },

      start() {
        this.uploading = true;
        this.percent = 0;
      },

      progress(event) {
        const detail = event.detail || {};
        if (detail.lengthComputable && detail.total) this.percent = Math.round((100 * detail.loaded) / detail.total);
      },

      done() {
        this.uploading = false;
      },
    }));

    Alpine.data("charCount", () => ({
      count: 0,
      max: 0,
      template: "",

      init() {
        this.max = Number(this.$el.dataset.max || 0);
        this.template = this.$el.dataset.template || "{count} / {max}";
        const field = this.$el.querySelector("textarea");
        if (!field) return;
        this.count = field.value.length;
        field.addEventListener("input", () => { this.count = field.value.length; });
      },

      get near() {
        return this.max > 0 && this.count >= this.max * 0.9;
      },

      get text() {
        return fill(this.template, { count: this.count, max: this.max });
      },
    }));
  });
})();
