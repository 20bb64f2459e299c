// Grid arithmetic of the editor, pure: rectangles on the 12-column grid, in cells.
// Moving or resizing a panel pushes the panels it would cover down, below it, so
// the layout never overlaps and what the user sees is what is saved.
export const COLUMNS = 12;
export const MAX_HEIGHT = 24;
export const MAX_ROW = 1000;

const clampTo = (value, low, high) => Math.min(Math.max(value, low), high);

export function clampRect({ x, y, w, h }) {
  const width = clampTo(Math.round(w), 1, COLUMNS);
  return {
    x: clampTo(Math.round(x), 0, COLUMNS - width),
    y: clampTo(Math.round(y), 0, MAX_ROW),
    w: width,
    h: clampTo(Math.round(h), 1, MAX_HEIGHT),
  };
}

export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function sameRect(a, b) {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

// Positions by widget id after putting `id` at `rect`: the others keep their place
// unless they would overlap, then they go down just below what they hit.
export function place(positions, id, rect) {
  const placed = [{ id, rect: clampRect(rect) }];
  const others = [...positions.entries()]
    .filter(([other]) => other !== id)
    .sort(([, a], [, b]) => a.y - b.y || a.x - b.x);
  for (const [other, original] of others) {
    const next = { ...original };
    let blocker = placed.find((p) => overlaps(p.rect, next));
    while (blocker) {
      next.y = blocker.rect.y + blocker.rect.h;
      blocker = placed.find((p) => overlaps(p.rect, next));
    }
    placed.push({ id: other, rect: next });
  }
  return new Map(placed.map((p) => [p.id, p.rect]));
}

// The first free place for a w x h panel, scanning rows top down, columns left to right.
export function freeSlot(positions, w, h) {
  const rects = [...positions.values()];
  const bottom = rects.reduce((max, r) => Math.max(max, r.y + r.h), 0);
  for (let y = 0; y <= bottom; y += 1) {
    for (let x = 0; x + w <= COLUMNS; x += 1) {
      const candidate = { x, y, w, h };
      if (!rects.some((r) => overlaps(r, candidate))) return candidate;
    }
  }
  return { x: 0, y: bottom, w, h };
}

export function bottomRow(positions) {
  return [...positions.values()].reduce((max, r) => Math.max(max, r.y + r.h), 0);
}
