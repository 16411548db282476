// Polygons: click to add vertices, Enter or a click on the first vertex closes the shape,
// Backspace or a right click takes back the last vertex while drawing, Esc drops it.
// On the selected polygon (with this tool or the box tool): drag a vertex to move it,
// click an edge to insert a vertex there (and drag it), Alt+click or right-click a vertex
// to delete it.

import { clamp, makePolygon, segmentDistance } from "../shapes.js";

const VERTEX_PX = 7;
const EDGE_PX = 5;
const CLOSE_PX = 9;

/** Signed area of a flat [x1, y1, x2, y2, ...] ring (shoelace). */
export function ringArea(ring) {
  let sum = 0;
  for (let i = 0; i < ring.length; i += 2) {
    const j = (i + 2) % ring.length;
    sum += ring[i] * ring[j + 1] - ring[j] * ring[i + 1];
  }
  return sum / 2;
}

/** The vertex of a polygon near the screen point: {ring, index} or null. */
export function vertexAt(ed, shape, sp) {
  let best = null;
  let bestDistance = VERTEX_PX;
  shape.rings.forEach((ring, r) => {
    for (let i = 0; i < ring.length; i += 2) {
      const p = ed.view.toScreen(ring[i], ring[i + 1]);
      const distance = Math.hypot(p.x - sp.x, p.y - sp.y);
      if (distance <= bestDistance) {
        best = { ring: r, index: i };
        bestDistance = distance;
      }
    }
  });
  return best;
}

/** The edge of a polygon near the screen point: {ring, index (of its second vertex), x, y}. */
export function edgeAt(ed, shape, sp) {
  const ip = ed.view.toImage(sp.x, sp.y);
  const slack = EDGE_PX / ed.view.scale;
  let best = null;
  let bestDistance = slack;
  shape.rings.forEach((ring, r) => {
    for (let i = 0; i < ring.length; i += 2) {
      const j = (i + 2) % ring.length;
      const hit = segmentDistance(ip.x, ip.y, ring[i], ring[i + 1], ring[j], ring[j + 1]);
      if (hit.distance <= bestDistance) {
        best = { ring: r, index: j === 0 ? ring.length : j, x: hit.x, y: hit.y };
        bestDistance = hit.distance;
      }
    }
  });
  return best;
}

/** Delete the selected polygon's vertex under the point; true when the click was used. */
export function deleteVertexAt(ed, sp) {
  const shape = ed.selected;
  if (!shape || shape.kind !== "polygon") return false;
  const vertex = vertexAt(ed, shape, sp);
  if (!vertex) return false;
  if (shape.rings[vertex.ring].length <= 6) {
    ed.status("A polygon keeps at least three vertices; press Delete to remove the whole shape.");
    return true;
  }
  ed.history.run("Delete vertex", (tx) => {
    tx.touch(shape.id);
    const current = ed.store.get(shape.id);
    current.rings[vertex.ring].splice(vertex.index, 2);
    current.pending = false;
  });
  ed.changed();
  return true;
}

/** A drag that moves (or, on an edge, first inserts) a vertex of the selected polygon. */
export function vertexDrag(ed, e, sp) {
  const shape = ed.selected;
  if (!shape || shape.kind !== "polygon") return null;
  let vertex = vertexAt(ed, shape, sp);
  let inserted = false;
  if (!vertex) {
    const edge = edgeAt(ed, shape, sp);
    if (!edge) return null;
    ed.history.begin("Insert vertex");
    ed.history.touch(shape.id);
    const current = ed.store.get(shape.id);
    current.rings[edge.ring].splice(edge.index, 0, edge.x, edge.y);
    current.pending = false;
    ed.store.touch();
    vertex = { ring: edge.ring, index: edge.index };
    inserted = true;
  }
  let began = inserted;
  return {
    move(ip) {
      if (!began) {
        ed.history.begin("Move vertex");
        ed.history.touch(shape.id);
        began = true;
      }
      const current = ed.store.get(shape.id);
      current.rings[vertex.ring][vertex.index] = clamp(ip.x, 0, ed.width);
      current.rings[vertex.ring][vertex.index + 1] = clamp(ip.y, 0, ed.height);
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

export class PolygonTool {
  constructor(ed) {
    this.ed = ed;
    this.points = [];
    this.hover = null;
    this.drag = null;
  }

  get drawing() {
    return this.points.length > 0;
  }

  cursor() {
    return "crosshair";
  }

  down(e, sp, ip) {
    const { ed } = this;
    if (e.button === 2 || e.altKey) {
      if (this.drawing) this.undoPoint();
      else deleteVertexAt(ed, sp);
      return;
    }
    if (e.button !== 0) return;
    if (this.drawing) {
      if (this.points.length >= 6 && this.nearFirst(sp)) this.close();
      else this.points.push(clamp(ip.x, 0, ed.width), clamp(ip.y, 0, ed.height));
      ed.redraw();
      return;
    }
    this.drag = vertexDrag(ed, e, sp);
    if (this.drag) return;
    ed.select(null);
    this.points = [clamp(ip.x, 0, ed.width), clamp(ip.y, 0, ed.height)];
    ed.redraw();
  }

  move(e, sp, ip) {
    this.hover = sp;
    if (this.drag) this.drag.move(ip, e);
    else if (this.drawing) this.ed.redraw();
  }

  up(e, sp, ip) {
    if (this.drag) this.drag.up(ip, e);
    this.drag = null;
  }

  nearFirst(sp) {
    const first = this.ed.view.toScreen(this.points[0], this.points[1]);
    return Math.hypot(first.x - sp.x, first.y - sp.y) <= CLOSE_PX;
  }

  undoPoint() {
    this.points.splice(-2, 2);
    this.ed.redraw();
  }

  cancel() {
    const had = this.drawing;
    this.points = [];
    this.ed.redraw();
    return had;
  }

  /** Close the polygon being drawn; false when it has fewer than three vertices. */
  close() {
    const { ed } = this;
    if (this.points.length < 6) {
      ed.status("A polygon needs at least three vertices.");
      return false;
    }
    if (Math.abs(ringArea(this.points)) < 1) {
      ed.status("That polygon has no area (its vertices are on one line); add a vertex off the line.");
      return false;
    }
    const shape = makePolygon(ed.currentLabel, [this.points]);
    this.points = [];
    ed.history.run("Draw polygon", (tx) => {
      tx.touch(shape.id);
      ed.store.add(shape);
    });
    ed.select(shape.id);
    ed.changed();
    return true;
  }

  /** Keys while drawing: Enter closes, Backspace takes back a vertex, Esc drops it. */
  key(event) {
    if (!this.drawing) return false;
    if (event.key === "Enter") {
      this.close();
      return true;
    }
    if (event.key === "Backspace" || event.key === "Delete") {
      this.undoPoint();
      return true;
    }
    if (event.key === "Escape") {
      this.cancel();
      return true;
    }
    return false;
  }

  draw(ctx, view) {
    if (!this.drawing) return;
    const colour = this.ed.colourOf(this.ed.currentLabel);
    view.applyScreenTransform();
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.setLineDash([]);
    ctx.beginPath();
    for (let i = 0; i < this.points.length; i += 2) {
      const p = view.toScreen(this.points[i], this.points[i + 1]);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    }
    if (this.hover) ctx.lineTo(this.hover.x, this.hover.y);
    ctx.stroke();
    ctx.fillStyle = "#fff";
    for (let i = 0; i < this.points.length; i += 2) {
      const p = view.toScreen(this.points[i], this.points[i + 1]);
      const closing = i === 0 && this.points.length >= 6 && this.hover && this.nearFirst(this.hover);
      const size = closing ? 10 : 6;
      ctx.fillRect(p.x - size / 2, p.y - size / 2, size, size);
      ctx.strokeRect(p.x - size / 2, p.y - size / 2, size, size);
    }
  }
}
