// The shapes of one image, in image pixels: boxes {x, y, w, h}, polygons (rings of
// x, y, x, y, ...) and masks (a canvas the size of the image, painted in the class
// colour; a pixel belongs to the mask where its alpha is at least half). Converted to and
// from the API's normalised geometry, and found under the pointer through a coarse grid.

import { decodeRle, encodeMaskFromCanvas } from "./rle.js";

let nextId = 1;
export const newId = () => nextId++;

export function makeBox(label, x, y, w, h, extra = {}) {
  return { id: newId(), kind: "box", label, box: { x, y, w, h }, pending: false, fromModel: false, confidence: null, ...extra };
}

export function makePolygon(label, rings, extra = {}) {
  return { id: newId(), kind: "polygon", label, rings, pending: false, fromModel: false, confidence: null, ...extra };
}

export function makeMask(label, width, height, extra = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d", { willReadFrequently: true }); // read back on submit and on clicks
  return {
    id: newId(), kind: "mask", label, mask: { canvas, bbox: null }, pending: false, fromModel: false, confidence: null, ...extra,
  };
}

/** A copy to keep in the undo history: masks copy their pixels. */
export function cloneShape(shape) {
  const copy = { ...shape };
  if (shape.box) copy.box = { ...shape.box };
  if (shape.rings) copy.rings = shape.rings.map((ring) => ring.slice());
  if (shape.mask) {
    const canvas = document.createElement("canvas");
    canvas.width = shape.mask.canvas.width;
    canvas.height = shape.mask.canvas.height;
    canvas.getContext("2d", { willReadFrequently: true }).drawImage(shape.mask.canvas, 0, 0);
    copy.mask = { canvas, bbox: shape.mask.bbox ? { ...shape.mask.bbox } : null };
  }
  return copy;
}

/** {x, y, w, h} around a shape, in image pixels; null for an empty mask. */
export function bounds(shape) {
  if (shape.kind === "box") return shape.box;
  if (shape.kind === "polygon") {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const ring of shape.rings) {
      for (let i = 0; i < ring.length; i += 2) {
        if (ring[i] < minX) minX = ring[i];
        if (ring[i] > maxX) maxX = ring[i];
        if (ring[i + 1] < minY) minY = ring[i + 1];
        if (ring[i + 1] > maxY) maxY = ring[i + 1];
      }
    }
    return minX === Infinity ? null : { x: minX, y: minY, w: maxX - minX, h: maxY - minY };
  }
  return shape.mask.bbox;
}

export function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** A box with positive size inside the image, from two corners. */
export function boxFromCorners(ax, ay, bx, by, width, height) {
  const x0 = clamp(Math.min(ax, bx), 0, width);
  const y0 = clamp(Math.min(ay, by), 0, height);
  const x1 = clamp(Math.max(ax, bx), 0, width);
  const y1 = clamp(Math.max(ay, by), 0, height);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

// ---- the API's geometry ------------------------------------------------------------------

const round6 = (value) => Math.round(value * 1e6) / 1e6;

/** The region to submit (normalised geometry), or null for an empty mask. */
export function toRegion(shape, width, height) {
  const region = {
    label: shape.label,
    kind: shape.kind,
    from_model: Boolean(shape.fromModel),
    model_confidence: shape.fromModel && typeof shape.confidence === "number" ? shape.confidence : null,
  };
  if (shape.kind === "box") {
    const { x, y, w, h } = shape.box;
    const x0 = clamp(x / width, 0, 1);
    const y0 = clamp(y / height, 0, 1);
    region.geometry = {
      box: [round6(x0), round6(y0), round6(clamp(w / width, 0, 1 - x0)), round6(clamp(h / height, 0, 1 - y0))],
    };
  } else if (shape.kind === "polygon") {
    region.geometry = {
      polygons: shape.rings.map((ring) =>
        ring.map((value, i) => round6(clamp(i % 2 ? value / height : value / width, 0, 1))),
      ),
    };
  } else {
    const rle = encodeMaskFromCanvas(shape.mask.canvas);
    if (!rle) return null;
    region.geometry = { rle };
  }
  return region;
}

/** A shape from a region of the API (an answer, a suggestion or a draft). */
export function fromRegion(region, width, height, colour, extra = {}) {
  const geometry = region.geometry || {};
  const common = { fromModel: Boolean(region.from_model), confidence: region.model_confidence ?? null, ...extra };
  if (region.kind === "mask" && geometry.rle) {
    const shape = makeMask(region.label, width, height, common);
    paintMask(shape, decodeRle(geometry.rle), colour);
    return shape;
  }
  if (region.kind === "polygon" && Array.isArray(geometry.polygons) && geometry.polygons.length) {
    const rings = geometry.polygons
      .map((ring) => ring.map((value, i) => (i % 2 ? value * height : value * width)))
      .filter((ring) => ring.length >= 6);
    if (rings.length) return makePolygon(region.label, rings, common);
  }
  if (Array.isArray(geometry.box) && geometry.box.length === 4) {
    const [x, y, w, h] = geometry.box;
    return makeBox(region.label, x * width, y * height, w * width, h * height, common);
  }
  return null;
}

/** Fill a mask shape's canvas from a row-major 0/1 array of the image's size. */
export function paintMask(shape, bits, colour) {
  const { canvas } = shape.mask;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const image = ctx.createImageData(canvas.width, canvas.height);
  const [r, g, b] = rgb(colour);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0, i = 0; y < canvas.height; y += 1) {
    for (let x = 0; x < canvas.width; x += 1, i += 1) {
      if (!bits[i]) continue;
      const o = i * 4;
      image.data[o] = r;
      image.data[o + 1] = g;
      image.data[o + 2] = b;
      image.data[o + 3] = 255;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  ctx.putImageData(image, 0, 0);
  shape.mask.bbox = maxX < 0 ? null : { x: minX, y: minY, w: maxX - minX + 1, h: maxY - minY + 1 };
}

/** Repaint a mask in another colour, keeping its pixels. */
export function recolourMask(shape, colour) {
  const ctx = shape.mask.canvas.getContext("2d", { willReadFrequently: true });
  ctx.save();
  ctx.globalCompositeOperation = "source-in";
  ctx.fillStyle = colour;
  ctx.fillRect(0, 0, shape.mask.canvas.width, shape.mask.canvas.height);
  ctx.restore();
}

export function rgb(colour) {
  const hex = /^#?([0-9a-f]{6})$/i.exec(colour || "");
  if (!hex) return [128, 128, 128];
  const value = parseInt(hex[1], 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

// ---- hit testing --------------------------------------------------------------------------

export function pointInRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
    const xi = ring[i];
    const yi = ring[i + 1];
    const xj = ring[j];
    const yj = ring[j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from (px, py) to the segment (ax, ay)-(bx, by), and where along it (0..1). */
export function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const t = length2 ? clamp(((px - ax) * dx + (py - ay) * dy) / length2, 0, 1) : 0;
  const x = ax + t * dx;
  const y = ay + t * dy;
  return { distance: Math.hypot(px - x, py - y), t, x, y };
}

function contains(shape, x, y, slack) {
  if (shape.kind === "box") {
    const b = shape.box;
    return x >= b.x - slack && x <= b.x + b.w + slack && y >= b.y - slack && y <= b.y + b.h + slack;
  }
  if (shape.kind === "polygon") {
    for (const ring of shape.rings) {
      if (pointInRing(ring, x, y)) return true;
      for (let i = 0; i < ring.length; i += 2) {
        const j = (i + 2) % ring.length;
        if (segmentDistance(x, y, ring[i], ring[i + 1], ring[j], ring[j + 1]).distance <= slack) return true;
      }
    }
    return false;
  }
  const b = shape.mask.bbox;
  if (!b || x < b.x || y < b.y || x >= b.x + b.w || y >= b.y + b.h) return false;
  const ctx = shape.mask.canvas.getContext("2d", { willReadFrequently: true });
  return ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data[3] >= 128;
}

/** Shapes in a coarse grid over the image, rebuilt when the shapes change. */
export class SpatialIndex {
  constructor() {
    this.version = -1;
    this.cells = new Map();
    this.cell = 64;
    this.large = [];
  }

  rebuild(shapes, width, height, version) {
    this.version = version;
    this.cells.clear();
    this.large = [];
    this.cell = Math.max(16, Math.max(width, height) / 32);
    for (const shape of shapes) {
      const b = bounds(shape);
      if (!b) continue;
      const x0 = Math.floor(b.x / this.cell);
      const y0 = Math.floor(b.y / this.cell);
      const x1 = Math.floor((b.x + b.w) / this.cell);
      const y1 = Math.floor((b.y + b.h) / this.cell);
      if ((x1 - x0 + 1) * (y1 - y0 + 1) > 64) {
        this.large.push(shape); // a shape over many cells is checked every time instead
        continue;
      }
      for (let cx = x0; cx <= x1; cx += 1) {
        for (let cy = y0; cy <= y1; cy += 1) {
          const key = cx * 100003 + cy;
          let list = this.cells.get(key);
          if (!list) this.cells.set(key, (list = []));
          list.push(shape);
        }
      }
    }
  }

  /** Shapes near (x, y): those of its cell and its neighbours, and the large ones. */
  near(x, y) {
    const cx = Math.floor(x / this.cell);
    const cy = Math.floor(y / this.cell);
    const found = new Set(this.large);
    for (let dx = -1; dx <= 1; dx += 1) {
      for (let dy = -1; dy <= 1; dy += 1) {
        for (const shape of this.cells.get((cx + dx) * 100003 + cy + dy) || []) found.add(shape);
      }
    }
    return found;
  }

  /** The smallest shape under (x, y), so a small shape inside a big one can be picked. */
  hit(x, y, slack, accept = () => true) {
    let best = null;
    let bestArea = Infinity;
    for (const shape of this.near(x, y)) {
      if (!accept(shape) || !contains(shape, x, y, slack)) continue;
      const b = bounds(shape);
      const area = b ? b.w * b.h : Infinity;
      if (area < bestArea) {
        best = shape;
        bestArea = area;
      }
    }
    return best;
  }
}

/** The shapes of the image on screen, in drawing order; `version` moves on every change. */
export class ShapeStore {
  constructor() {
    this.list = [];
    this.version = 0;
  }

  get(id) {
    return this.list.find((shape) => shape.id === id) || null;
  }

  indexOf(id) {
    return this.list.findIndex((shape) => shape.id === id);
  }

  reset(shapes = []) {
    this.list = shapes;
    this.version += 1;
  }

  add(shape, index = this.list.length) {
    this.list.splice(clamp(index, 0, this.list.length), 0, shape);
    this.version += 1;
    return shape;
  }

  remove(id) {
    const index = this.indexOf(id);
    if (index >= 0) this.list.splice(index, 1);
    this.version += 1;
    return index;
  }

  /** Put a kept copy back (undo/redo): replace the shape with that id or insert it. */
  put(copy, index) {
    const at = this.indexOf(copy.id);
    if (at >= 0) this.list[at] = copy;
    else this.list.splice(clamp(index, 0, this.list.length), 0, copy);
    this.version += 1;
  }

  touch() {
    this.version += 1;
  }
}
