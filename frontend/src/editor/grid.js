// Moving and resizing panels on the editor's 12-column grid with pointer events,
// snapped to whole cells; the keyboard does the same on a focused panel (arrows
// move, Shift+arrows resize). Panels are `[data-widget-id]` children of the grid;
// handles are elements with `data-drag="move"` or `data-drag="resize"` in them.
import { clampRect, place, sameRect } from "./layout.js";

export function positionPanel(node, rect) {
  node.style.gridColumn = `${rect.x + 1} / span ${rect.w}`;
  node.style.gridRow = `${rect.y + 1} / span ${rect.h}`;
  Object.assign(node.dataset, { x: rect.x, y: rect.y, w: rect.w, h: rect.h });
  node.setAttribute("aria-label", `${node.dataset.title ?? "Panel"}: column ${rect.x + 1}, row ${rect.y + 1}, ${rect.w} wide, ${rect.h} high`);
}

// Size of one cell plus its gap, in pixels, from the grid's layout now.
function pitch(grid, rowHeight) {
  const style = getComputedStyle(grid);
  const columnGap = parseFloat(style.columnGap) || 0;
  const rowGap = parseFloat(style.rowGap) || 0;
  const column = (grid.getBoundingClientRect().width - 11 * columnGap) / 12;
  return { x: column + columnGap, y: rowHeight + rowGap };
}

const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

// positions(): the committed Map id -> rect; show(map): lay panels out (during a
// drag too); commit(map): the user let go, with a changed layout.
export function enableLayoutEditing(grid, { rowHeight, positions, show, commit }) {
  let drag = null;

  function target(mode, rect, dx, dy) {
    return clampRect(mode === "move"
      ? { ...rect, x: rect.x + dx, y: rect.y + dy }
      : { ...rect, w: rect.w + dx, h: rect.h + dy });
  }

  grid.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest("[data-drag]");
    const panel = handle?.closest("[data-widget-id]");
    if (!panel || event.button !== 0 || event.target.closest("button")) return;
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const start = positions();
    drag = {
      id: panel.dataset.widgetId, panel, handle, mode: handle.dataset.drag, start,
      from: { x: event.clientX, y: event.clientY }, pitch: pitch(grid, rowHeight),
      rect: start.get(panel.dataset.widgetId), layout: start,
    };
    panel.classList.add("dragging");
    grid.classList.add("is-dragging");
  });

  grid.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = Math.round((event.clientX - drag.from.x) / drag.pitch.x);
    const dy = Math.round((event.clientY - drag.from.y) / drag.pitch.y);
    const rect = target(drag.mode, drag.rect, dx, dy);
    if (sameRect(rect, drag.layout.get(drag.id))) return;
    drag.layout = place(drag.start, drag.id, rect);
    show(drag.layout);
  });

  function end(event) {
    if (!drag) return;
    const { panel, handle, layout, rect, id } = drag;
    drag = null;
    if (handle.hasPointerCapture(event.pointerId)) handle.releasePointerCapture(event.pointerId);
    panel.classList.remove("dragging");
    grid.classList.remove("is-dragging");
    if (!sameRect(layout.get(id), rect)) commit(layout);
  }
  grid.addEventListener("pointerup", end);
  grid.addEventListener("pointercancel", end);

  grid.addEventListener("keydown", (event) => {
    const panel = event.target;
    const move = KEYS[event.key];
    if (!move || !panel.matches?.("[data-widget-id]")) return;
    event.preventDefault();
    const current = positions();
    const id = panel.dataset.widgetId;
    const rect = target(event.shiftKey ? "resize" : "move", current.get(id), ...move);
    if (sameRect(rect, current.get(id))) return;
    const layout = place(current, id, rect);
    show(layout);
    commit(layout);
    grid.querySelector(`[data-widget-id="${CSS.escape(id)}"]`)?.focus();
  });
}
