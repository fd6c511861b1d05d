/* The registration wizard: suggests the address from the organization's name (until the person edits
   it) and sends the browser's time zone along. */
(function () {
  "use strict";

  function slugify(text) {
    return text
      .normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
      .slice(0, 40).replace(/-+$/g, "");
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("registration", () => ({
      name: "",
      slug: "",
      edited: false,
      init() {
        const name = this.$root.querySelector("[name=organization_name]");
        const slug = this.$root.querySelector("[name=slug]");
        if (name) this.name = name.value;
        if (slug) this.slug = slug.value;
        this.edited = Boolean(this.slug) && this.slug !== slugify(this.name);
      },
      suggest() {
        if (this.edited) return;
        this.slug = slugify(this.name);
        this.$nextTick(() => {
          const input = this.$root.querySelector("[name=slug]");
          if (input && window.htmx) window.htmx.trigger(input, "slug-suggested");
        });
      },
      timezone() {
        try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
      },
    }));
  });
})();
