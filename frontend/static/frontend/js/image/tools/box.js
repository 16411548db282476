// The box tool, which is also the selection tool: drag on empty ground (or with Shift
// anywhere) draws a box; a click selects the smallest shape under it; a drag inside a
// box or polygon moves it; the eight handles of the selected box resize it; the
// vertices and edges of a selected polygon edit it (see polygon.js).

import { boxFromCorners, bounds, clamp, makeBox } from "../shapes.js";
import { deleteVertexAt, vertexDrag } from "./polygon.js";

const HANDLE_PX = 7;
const MIN_BOX_PX = 4;
const DRAG_START_PX = 2;
export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

/** Where each handle sits on a box, as fractions of its width and height. */
export const HANDLE_AT = {
  nw: [0, 0], n: [0.5, 0], ne: [1, 0], e: [1, 0.5], se: [1, 1], s: [0.5, 1], sw: [0, 1], w: [0, 0.5],
};

export function handleAt(ed, shape, sp) {
  const { x, y, w, h } = shape.box;
  for (const name of HANDLES) {
    const [fx, fy] = HANDLE_AT[name];
    const p = ed.view.toScreen(x + fx * w, y + fy * h);
    if (Math.abs(p.x - sp.x) <= HANDLE_PX && Math.abs(p.y - sp.y) <= HANDLE_PX) return name;
  }
  return null;
}

function resizeDrag(ed, shape, handle) {
  const start = { ...shape.box };
  let began = false;
  return {
    move(ip) {
      if (!began) {
        ed.history.begin("Resize box");
        ed.history.touch(shape.id);
        began = true;
      }
      let x0 = start.x;
      let y0 = start.y;
      let x1 = start.x + start.w;
      let y1 = start.y + start.h;
      if (handle.includes("w")) x0 = ip.x;
      if (handle.includes("e")) x1 = ip.x;
      if (handle.includes("n")) y0 = ip.y;
      if (handle.includes("s")) y1 = ip.y;
      const current = ed.store.get(shape.id);
      current.box = boxFromCorners(x0, y0, x1, y1, ed.width, ed.height);
      current.pending = false;
      ed.store.touch();
      ed.redraw();
    },
    up() {
      if (!began) return;
      const current = ed.store.get(shape.id);
      if (current.box.w <= 0 || current.box.h <= 0) {
        ed.history.cancel();
        ed.status("A box needs some width and height; the resize was undone.");
      } else {
        ed.history.commit();
        ed.changed();
      }
      ed.redraw();
    },
  };
}

function moveDrag(ed, shape, origin, originScreen) {
  const startBox = shape.box ? { ...shape.box } : null;
  const startRings = shape.rings ? shape.rings.map((ring) => ring.slice()) : null;
  const b = bounds(shape);
  let began = false;
  return {
    move(ip, e, sp) {
      if (!began) {
        if (Math.hypot(sp.x - originScreen.x, sp.y - originScreen.y) < DRAG_START_PX) return;
        ed.history.begin("Move shape");
        ed.history.touch(shape.id);
        began = true;
      }
      // Keep the whole shape inside the image.
      const dx = clamp(ip.x - origin.x, -b.x, ed.width - b.x - b.w);
      const dy = clamp(ip.y - origin.y, -b.y, ed.height - b.y - b.h);
      const current = ed.store.get(shape.id);
      if (startBox) current.box = { ...startBox, x: startBox.x + dx, y: startBox.y + dy };
      if (startRings) current.rings = startRings.map((ring) => ring.map((v, i) => v + (i % 2 ? dy : dx)));
      current.pending = false;
      ed.store.touch();
      ed.redraw();
    },
    up() {
      if (began) {
        ed.history.commit();
        ed.changed();
      }
    },
  };
}

function drawDrag(ed, start) {
  let end = start;
  return {
    move(ip) {
      end = ip;
      ed.redraw();
    },
    up(ip) {
      end = ip;
      const box = boxFromCorners(start.x, start.y, end.x, end.y, ed.width, ed.height);
      if (box.w * ed.view.scale < MIN_BOX_PX || box.h * ed.view.scale < MIN_BOX_PX) {
        ed.select(null); // a click on empty ground
        return;
      }
      const shape = makeBox(ed.currentLabel, box.x, box.y, box.w, box.h);
      ed.history.run("Draw box", (tx) => {
        tx.touch(shape.id);
        ed.store.add(shape);
      });
      ed.select(shape.id);
      ed.changed();
    },
    draw(ctx, view) {
      const box = boxFromCorners(start.x, start.y, end.x, end.y, ed.width, ed.height);
      const p = view.toScreen(box.x, box.y);
      view.applyScreenTransform();
      ctx.setLineDash([5, 3]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = ed.colourOf(ed.currentLabel);
      ctx.strokeRect(p.x, p.y, box.w * view.scale, box.h * view.scale);
      ctx.setLineDash([]);
    },
  };
}

export class BoxTool {
  constructor(ed) {
    this.ed = ed;
    this.drag = null;
  }

  cursor(sp) {
    const sel = this.ed.selected;
    if (sp && sel && sel.kind === "box") {
      const handle = handleAt(this.ed, sel, sp);
      if (handle) return { n: "ns-resize", s: "ns-resize", e: "ew-resize", w: "ew-resize", nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize" }[handle];
    }
    return "crosshair";
  }

  down(e, sp, ip) {
    const { ed } = this;
    if (e.button === 2 || (e.button === 0 && e.altKey)) {
      deleteVertexAt(ed, sp);
      return;
    }
    if (e.button !== 0) return;
    const sel = ed.selected;
    if (sel && sel.kind === "polygon") {
      this.drag = vertexDrag(ed, e, sp);
      if (this.drag) return;
    }
    if (sel && sel.kind === "box") {
      const handle = handleAt(ed, sel, sp);
      if (handle) {
        this.drag = resizeDrag(ed, sel, handle);
        return;
      }
    }
    if (!e.shiftKey) {
      const hit = ed.hitTest(sp);
      if (hit) {
        ed.select(hit.id);
        if (hit.kind !== "mask") this.drag = moveDrag(ed, hit, ip, sp);
        return;
      }
    }
    if (!ed.allows("box")) {
      ed.select(null);
      return;
    }
    this.drag = drawDrag(ed, { x: clamp(ip.x, 0, ed.width), y: clamp(ip.y, 0, ed.height) });
  }

  move(e, sp, ip) {
    if (this.drag) this.drag.move(ip, e, sp);
  }

  up(e, sp, ip) {
    const drag = this.drag;
    this.drag = null;
    if (drag) drag.up(ip, e, sp);
    this.ed.redraw();
  }

  cancel() {
    if (!this.drag) return false;
    this.drag = null;
    this.ed.history.cancel();
    this.ed.redraw();
    return true;
  }

  key() {
    return false;
  }

  draw(ctx, view) {
    if (this.drag && this.drag.draw) this.drag.draw(ctx, view);
  }
}
