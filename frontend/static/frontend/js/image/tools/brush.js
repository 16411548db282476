// Brush and eraser: paint into (or erase from) the selected mask, a canvas the size of
// the image. Painting with no mask selected starts a new mask in the current class;
// erasing with none selected picks the mask under the pointer. [ and ] change the size.

import { makeMask } from "../shapes.js";

export class BrushTool {
  constructor(ed, { erase = false } = {}) {
    this.ed = ed;
    this.erase = erase;
    this.stroke = null;
  }

  cursor() {
    return "none";
  }

  down(e, sp, ip) {
    const { ed } = this;
    if (e.button !== 0) return;
    let target = ed.selected && ed.selected.kind === "mask" ? ed.selected : null;
    if (!target && this.erase) {
      target = ed.hitTest(sp, (shape) => shape.kind === "mask");
      if (!target) {
        ed.status("Nothing to erase here: select a mask first (click it with the box tool R, or Tab).");
        return;
      }
      ed.select(target.id);
    }
    ed.history.begin(this.erase ? "Erase" : "Paint");
    if (!target) {
      target = makeMask(ed.currentLabel, ed.width, ed.height);
      ed.history.touch(target.id);
      ed.store.add(target);
      ed.select(target.id);
    } else {
      ed.history.touch(target.id);
    }
    target.pending = false;
    this.stroke = { id: target.id, last: ip };
    this.paint(ip, ip);
  }

  move(e, sp, ip) {
    if (this.stroke) {
      this.paint(this.stroke.last, ip);
      this.stroke.last = ip;
    }
    this.ed.redraw();
  }

  up() {
    if (!this.stroke) return;
    this.stroke = null;
    this.ed.history.commit();
    this.ed.changed();
    this.ed.redraw();
  }

  cancel() {
    return false;
  }

  key() {
    return false;
  }

  paint(from, to) {
    const { ed } = this;
    const shape = ed.store.get(this.stroke.id);
    if (!shape) return;
    const r = ed.brushRadius;
    const ctx = shape.mask.canvas.getContext("2d", { willReadFrequently: true });
    ctx.save();
    ctx.globalCompositeOperation = this.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ed.colourOf(shape.label);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineCap = "round";
    ctx.lineWidth = 2 * r;
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      ctx.arc(to.x, to.y, r, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    ctx.restore();
    if (!this.erase) {
      const x0 = Math.max(0, Math.floor(Math.min(from.x, to.x) - r));
      const y0 = Math.max(0, Math.floor(Math.min(from.y, to.y) - r));
      const x1 = Math.min(ed.width, Math.ceil(Math.max(from.x, to.x) + r));
      const y1 = Math.min(ed.height, Math.ceil(Math.max(from.y, to.y) + r));
      const b = shape.mask.bbox;
      shape.mask.bbox = b
        ? { x: Math.min(b.x, x0), y: Math.min(b.y, y0), w: Math.max(b.x + b.w, x1) - Math.min(b.x, x0), h: Math.max(b.y + b.h, y1) - Math.min(b.y, y0) }
        : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    }
    ed.store.touch();
  }

  draw(ctx, view) {
    const p = this.ed.pointer;
    if (!p) return;
    view.applyScreenTransform();
    const radius = Math.max(1, this.ed.brushRadius * view.scale);
    ctx.setLineDash(this.erase ? [4, 3] : []);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    ctx.beginPath();
    ctx.arc(p.x, p.y, radius, 0, Math.PI * 2);
    ctx.stroke();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 0.75;
    ctx.beginPath();
    ctx.arc(p.x, p.y, radius + 1.25, 0, Math.PI * 2);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
