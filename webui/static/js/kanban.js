/* Kanban boards ([data-kanban], see components/kanban.html): drag and drop with SortableJS, and the
   keyboard (Space picks a card up or drops it, arrow keys move it). A move is POSTed as JSON to
   data-move-url; when the server refuses, the card goes back and the reason shows in a toast. */
(function () {
  "use strict";

  function csrf() {
    const found = document.cookie.split("; ").find((part) => part.startsWith("atendai_csrf="));
    return found ? decodeURIComponent(found.slice("atendai_csrf=".length)) : "";
  }

  function updateCounts(board) {
    board.querySelectorAll(".kanban-column").forEach((column) => {
      const count = column.querySelector("[data-kanban-count]");
      if (count) count.textContent = column.querySelectorAll(".kanban-card").length;
    });
  }

  function putBack(card, from, index) {
    const sibling = from.children[index] || null;
    from.insertBefore(card, sibling);
  }

  function report(board, card, from, oldIndex) {
    const to = card.parentElement;
    const index = Array.prototype.indexOf.call(to.children, card);
    updateCounts(board);
    board.dispatchEvent(new CustomEvent("kanban:moved", { bubbles: true, detail: { card: card.dataset.cardId, to: to.dataset.kanbanColumn, index } }));
    const url = board.dataset.moveUrl;
    if (!url) return;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ card: card.dataset.cardId, to: to.dataset.kanbanColumn, index }),
    }).then(async (response) => {
      if (response.ok) return;
      let message = "";
      try { const problem = await response.json(); message = problem.detail || problem.title || ""; } catch (e) { /* no body */ }
      putBack(card, from, oldIndex);
      updateCounts(board);
      if (window.atendaiToast) window.atendaiToast("error", message || response.statusText);
    }, () => {
      putBack(card, from, oldIndex);
      updateCounts(board);
      let offline = "";
      try { offline = JSON.parse(document.body.dataset.i18n || "{}").offline || ""; } catch (e) { /* none */ }
      if (window.atendaiToast) window.atendaiToast("error", offline);
    });
  }

  function keyboard(board) {
    board.addEventListener("keydown", (event) => {
      const card = event.target.closest && event.target.closest(".kanban-card");
      if (!card || !board.contains(card)) return;
      if (event.key === " " || event.key === "Enter") {
        if (event.target.tagName === "A" && event.key === "Enter") return;
        event.preventDefault();
        if (card.classList.toggle("moving")) {
          card.dataset.from = Array.prototype.indexOf.call(board.querySelectorAll("[data-kanban-column]"), card.parentElement);
          card.dataset.fromIndex = Array.prototype.indexOf.call(card.parentElement.children, card);
          card.setAttribute("aria-grabbed", "true");
        } else {
          card.removeAttribute("aria-grabbed");
          const columns = board.querySelectorAll("[data-kanban-column]");
          const from = columns[Number(card.dataset.from)];
          if (from !== card.parentElement || Number(card.dataset.fromIndex) !== Array.prototype.indexOf.call(card.parentElement.children, card)) {
            report(board, card, from, Number(card.dataset.fromIndex));
          }
        }
        return;
      }
      if (!card.classList.contains("moving")) return;
      const columns = Array.from(board.querySelectorAll("[data-kanban-column]"));
      const list = card.parentElement;
      const at = columns.indexOf(list);
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const target = columns[at + (event.key === "ArrowRight" ? 1 : -1)];
        if (target) { target.appendChild(card); card.focus(); }
        event.preventDefault();
      } else if (event.key === "ArrowUp" && card.previousElementSibling) {
        list.insertBefore(card, card.previousElementSibling); card.focus(); event.preventDefault();
      } else if (event.key === "ArrowDown" && card.nextElementSibling) {
        list.insertBefore(card.nextElementSibling, card); card.focus(); event.preventDefault();
      } else if (event.key === "Escape") {
        card.classList.remove("moving");
        putBack(card, columns[Number(card.dataset.from)], Number(card.dataset.fromIndex));
        card.focus();
      }
    });
  }

  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-kanban]").forEach((board) => {
      if (board.dataset.kanbanReady || !window.Sortable) return;
      board.dataset.kanbanReady = "1";
      board.querySelectorAll("[data-kanban-column]").forEach((list) => {
        window.Sortable.create(list, {
          group: board.id,
          animation: 150,
          draggable: ".kanban-card",
          onEnd: (event) => {
            if (event.from === event.to && event.oldIndex === event.newIndex) return;
            report(board, event.item, event.from, event.oldIndex);
          },
        });
      });
      keyboard(board);
    });
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:load", (event) => init(event.detail.elt));
})();
