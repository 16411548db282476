// The region editor: the shapes of one image on one canvas, the selection, the tools,
// zoom and pan, and undo/redo. The page (workspace.js) gives it the picture and the
// classes, sends its keys here, and reads the regions back to submit or keep as a draft.

import { Viewport } from "./canvas.js";
import { History } from "./history.js";
import { drawScene } from "./render.js";
import { ShapeStore, SpatialIndex, bounds, clamp, fromRegion, recolourMask, toRegion } from "./shapes.js";
import { accept } from "./suggestions.js";
import { BoxTool } from "./tools/box.js";
import { BrushTool } from "./tools/brush.js";
import { PolygonTool } from "./tools/polygon.js";

const WHEEL_STEP = 1.0015;
const HIT_PX = 4;

export class RegionEditor {
  /**
   * canvas: the one canvas; kinds: the region kinds of the project ({"box"} or box,
   * polygon, mask); classes: [{key, name, colour}]; onChange(reason): after every edit,
   * undo or redo; onSelect(shape|null); onZoom(scale); status(text).
   */
  constructor(canvas, { kinds, classes, onChange = () => {}, onSelect = () => {}, onZoom = () => {}, status = () => {} }) {
    this.canvas = canvas;
    this.kinds = kinds;
    this.classes = classes;
    this.byKey = new Map(classes.map((cls) => [cls.key, cls]));
    this.onChange = onChange;
    this.onSelect = onSelect;
    this.status = status;
    this.store = new ShapeStore();
    this.history = new History(this.store, { onChange: (reason) => this.afterHistory(reason) });
    this.index = new SpatialIndex();
    this.onZoom = onZoom;
    this.shownScale = 0;
    this.view = new Viewport(canvas, {
      draw: (ctx, view) => {
        drawScene(ctx, view, this);
        if (view.scale !== this.shownScale && this.width) {
          this.shownScale = view.scale;
          this.onZoom(view.scale);
        }
      },
    });
    this.width = 0;
    this.height = 0;
    this.selectedId = null;
    this.currentLabel = classes.length ? classes[0].key : "";
    this.hidden = false;
    this.pointer = null;
    this.spaceDown = false;
    this.panning = null;
    this.brushRadius = 8;
    this.tools = { box: new BoxTool(this), polygon: new PolygonTool(this) };
    if (kinds.has("mask")) {
      this.tools.brush = new BrushTool(this);
      this.tools.eraser = new BrushTool(this, { erase: true });
    }
    this.toolName = "box";
    this.listen();
  }

  // ---- what tools and rendering use ----

  get tool() {
    return this.tools[this.toolName];
  }

  get selected() {
    return this.selectedId === null ? null : this.store.get(this.selectedId);
  }

  get crosshair() {
    return this.kinds.size > 0 && !this.panning && (this.toolName === "box" || this.toolName === "polygon");
  }

  get drawingPolygon() {
    return this.tools.polygon.drawing;
  }

  allows(kind) {
    return this.kinds.has(kind);
  }

  colourOf(key) {
    const cls = this.byKey.get(key);
    return (cls && cls.colour) || "#888888";
  }

  nameOf(key) {
    const cls = this.byKey.get(key);
    return cls ? cls.name : key;
  }

  redraw() {
    this.view.redraw();
  }

  /** After an edit made by a tool (history already committed). */
  changed() {
    this.redraw();
  }

  afterHistory(reason) {
    if (this.selectedId !== null && !this.store.get(this.selectedId)) this.select(null);
    this.redraw();
    this.onChange(reason);
  }

  select(id) {
    this.selectedId = id;
    this.redraw();
    this.onSelect(this.selected);
  }

  /** The smallest shape under a screen point. */
  hitTest(sp, accept = () => true) {
    if (this.index.version !== this.store.version) {
      this.index.rebuild(this.store.list, this.width, this.height, this.store.version);
    }
    const ip = this.view.toImage(sp.x, sp.y);
    return this.index.hit(ip.x, ip.y, HIT_PX / this.view.scale, accept);
  }

  // ---- a new image ----

  /** Show a picture with these shapes; the history starts empty. */
  load(image, width, height, shapes) {
    this.width = width;
    this.height = height;
    for (const tool of Object.values(this.tools)) tool.cancel();
    this.history.clear();
    this.store.reset(shapes);
    this.selectedId = null;
    this.brushRadius = Math.max(2, Math.round(Math.min(width, height) / 60));
    this.view.setImage(image, width, height);
    this.onSelect(null);
  }

  clear() {
    this.load(null, 0, 0, []);
  }

  shapesFromRegions(regions, extra = () => ({})) {
    return regions
      .filter((region) => this.byKey.has(region.label))
      .map((region) => fromRegion(region, this.width, this.height, this.colourOf(region.label), extra(region)))
      .filter(Boolean);
  }

  // ---- reading the work back ----

  /** The regions to submit: accepted shapes only, empty masks left out. */
  regions() {
    return this.store.list
      .filter((shape) => !shape.pending)
      .map((shape) => toRegion(shape, this.width, this.height))
      .filter(Boolean);
  }

  /** Everything on the image, suggestions included, for the draft. */
  draftRegions() {
    const regions = [];
    for (const shape of this.store.list) {
      const region = toRegion(shape, this.width, this.height);
      if (!region) continue;
      if (shape.pending) region.pending = true;
      if (shape.fromModel && typeof shape.confidence === "number") region.model_confidence = shape.confidence;
      regions.push(region);
    }
    return regions;
  }

  get pendingCount() {
    return this.store.list.reduce((n, shape) => n + (shape.pending ? 1 : 0), 0);
  }

  // ---- commands (keys and buttons) ----

  setTool(name) {
    if (!this.tools[name] || name === this.toolName) return false;
    this.tool.cancel();
    this.toolName = name;
    this.updateCursor();
    this.redraw();
    return true;
  }

  /** A class key: the selected shape takes that class, else new shapes will. */
  setLabel(key) {
    const shape = this.selected;
    if (shape) {
      if (shape.label !== key || shape.pending) {
        this.history.run("Change class", (tx) => {
          tx.touch(shape.id);
          const current = this.store.get(shape.id);
          current.label = key;
          current.pending = false;
          if (current.kind === "mask") recolourMask(current, this.colourOf(key));
        });
      }
      this.currentLabel = key;
      return "shape";
    }
    this.currentLabel = key;
    this.redraw();
    return "current";
  }

  deleteSelected() {
    const shape = this.selected;
    if (!shape) return false;
    this.history.run(shape.pending ? "Dismiss suggestion" : "Delete shape", (tx) => {
      tx.touch(shape.id);
      this.store.remove(shape.id);
    });
    return true;
  }

  acceptSelected() {
    return accept(this, [this.selected]);
  }

  acceptAll() {
    return accept(this, this.store.list.filter((shape) => shape.pending));
  }

  /** Add shapes as one edit (copying the previous frame's). */
  addShapes(shapes, label = "Add shapes") {
    if (!shapes.length) return 0;
    this.history.run(label, (tx) => {
      for (const shape of shapes) {
        tx.touch(shape.id);
        this.store.add(shape);
      }
    });
    return shapes.length;
  }

  /** Tab / Shift+Tab: the next or previous shape, in drawing order. */
  cycle(step) {
    const list = this.store.list;
    if (!list.length) return;
    const at = this.selectedId === null ? (step > 0 ? -1 : 0) : this.store.indexOf(this.selectedId);
    const next = list[(at + step + list.length) % list.length];
    this.select(next.id);
    this.reveal(next);
  }

  /** Pan so that a shape is in view (zoom stays). */
  reveal(shape) {
    const b = bounds(shape);
    if (!b) return;
    const p = this.view.toScreen(b.x + b.w / 2, b.y + b.h / 2);
    const margin = 40;
    if (p.x < margin || p.y < margin || p.x > this.view.cssWidth - margin || p.y > this.view.cssHeight - margin) {
      this.view.pan(this.view.cssWidth / 2 - p.x, this.view.cssHeight / 2 - p.y);
    }
  }

  /** Arrow keys: move the selected box or polygon by whole pixels. */
  nudge(dx, dy) {
    const shape = this.selected;
    if (!shape || shape.kind === "mask") return false;
    const b = bounds(shape);
    const mx = clamp(dx, -b.x, this.width - b.x - b.w);
    const my = clamp(dy, -b.y, this.height - b.y - b.h);
    if (!mx && !my) return true;
    this.history.run("Nudge", (tx) => {
      tx.touch(shape.id);
      const current = this.store.get(shape.id);
      if (current.box) current.box = { ...current.box, x: current.box.x + mx, y: current.box.y + my };
      if (current.rings) current.rings = current.rings.map((ring) => ring.map((v, i) => v + (i % 2 ? my : mx)));
      current.pending = false;
    });
    return true;
  }

  setBrush(radius) {
    this.brushRadius = clamp(Math.round(radius), 1, 500);
    this.redraw();
    return this.brushRadius;
  }

  toggleHidden() {
    this.hidden = !this.hidden;
    this.redraw();
    return this.hidden;
  }

  undo() {
    if (this.tool.drag || (this.toolName === "polygon" && this.drawingPolygon)) this.tool.cancel();
    return this.history.undo();
  }

  redo() {
    return this.history.redo();
  }

  /** Esc: drop what is being drawn, else clear the selection. */
  escape() {
    if (this.tool.cancel()) return true;
    if (this.selectedId !== null) {
      this.select(null);
      return true;
    }
    return false;
  }

  // ---- pointer ----

  listen() {
    const { canvas } = this;
    canvas.addEventListener("pointerdown", (event) => this.pointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.pointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.pointerUp(event));
    canvas.addEventListener("pointercancel", (event) => this.pointerUp(event));
    canvas.addEventListener("pointerleave", () => {
      this.pointer = null;
      this.redraw();
    });
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());
    canvas.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    canvas.addEventListener("auxclick", (event) => event.preventDefault());
  }

  pointerDown(event) {
    if (!this.width) return;
    const sp = this.view.local(event);
    this.pointer = sp;
    if (event.button === 1 || (event.button === 0 && this.spaceDown)) {
      event.preventDefault();
      this.panning = { x: sp.x, y: sp.y };
      this.canvas.setPointerCapture(event.pointerId);
      this.updateCursor();
      return;
    }
    this.canvas.setPointerCapture(event.pointerId);
    this.tool.down(event, sp, this.view.toImage(sp.x, sp.y));
    this.redraw();
  }

  pointerMove(event) {
    const sp = this.view.local(event);
    this.pointer = sp;
    if (this.panning) {
      this.view.pan(sp.x - this.panning.x, sp.y - this.panning.y);
      this.panning = sp;
      return;
    }
    if (!this.width) return;
    this.tool.move(event, sp, this.view.toImage(sp.x, sp.y));
    this.updateCursor();
    this.redraw();
  }

  pointerUp(event) {
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    if (this.panning) {
      this.panning = null;
      this.updateCursor();
      return;
    }
    if (!this.width) return;
    const sp = this.view.local(event);
    this.tool.up(event, sp, this.view.toImage(sp.x, sp.y));
  }

  wheel(event) {
    event.preventDefault();
    if (!this.width) return;
    const sp = this.view.local(event);
    const delta = event.deltaMode === 1 ? event.deltaY * 30 : event.deltaY;
    this.view.zoomAt(WHEEL_STEP ** -delta, sp.x, sp.y);
  }

  setSpace(down) {
    this.spaceDown = down;
    this.updateCursor();
  }

  updateCursor() {
    let cursor;
    if (this.panning) cursor = "grabbing";
    else if (this.spaceDown) cursor = "grab";
    else cursor = this.tool.cursor(this.pointer);
    if (this.canvas.style.cursor !== cursor) this.canvas.style.cursor = cursor;
  }
}
