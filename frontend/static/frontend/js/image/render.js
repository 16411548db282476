// Drawing the shapes on the one canvas: paths batched by colour and style (one fill and
// one stroke per class, not per shape), so thousands of boxes redraw in a few
// milliseconds; names only where there is room for them; the selection and the tools'
// overlays on top, in screen pixels.

import { HANDLES, HANDLE_AT } from "./tools/box.js";
import { bounds } from "./shapes.js";

const MAX_LABELS = 400;

function tracePath(path, shape) {
  if (shape.kind === "box") {
    const { x, y, w, h } = shape.box;
    path.rect(x, y, w, h);
  } else if (shape.kind === "polygon") {
    for (const ring of shape.rings) {
      path.moveTo(ring[0], ring[1]);
      for (let i = 2; i < ring.length; i += 2) path.lineTo(ring[i], ring[i + 1]);
      path.closePath();
    }
  } else if (shape.pending && shape.mask.bbox) {
    const { x, y, w, h } = shape.mask.bbox;
    path.rect(x, y, w, h);
  }
}

export function drawScene(ctx, view, ed) {
  const shapes = ed.store.list;
  if (!ed.hidden && shapes.length) {
    view.applyImageTransform();
    // Masks first, see-through, so outlines stay visible on top.
    for (const shape of shapes) {
      if (shape.kind !== "mask") continue;
      ctx.globalAlpha = shape.pending ? 0.25 : shape.id === ed.selectedId ? 0.6 : 0.45;
      ctx.drawImage(shape.mask.canvas, 0, 0);
    }
    ctx.globalAlpha = 1;

    const groups = new Map();
    for (const shape of shapes) {
      if (shape.kind === "mask" && !shape.pending) continue;
      const key = `${shape.label}|${shape.pending ? 1 : 0}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { path: new Path2D(), colour: ed.colourOf(shape.label), pending: shape.pending }));
      tracePath(group.path, shape);
    }
    const unit = 1 / view.scale;
    for (const group of groups.values()) {
      if (!group.pending) {
        ctx.globalAlpha = 0.14;
        ctx.fillStyle = group.colour;
        ctx.fill(group.path, "evenodd");
        ctx.globalAlpha = 1;
      }
      ctx.setLineDash(group.pending ? [6 * unit, 4 * unit] : []);
      ctx.lineWidth = (group.pending ? 1.5 : 2) * unit;
      ctx.strokeStyle = group.colour;
      ctx.stroke(group.path);
    }
    ctx.setLineDash([]);

    view.applyScreenTransform();
    drawNames(ctx, view, ed, shapes);
    const selected = ed.selected;
    if (selected) drawSelection(ctx, view, ed, selected);
  }
  ed.tool.draw(ctx, view);
  if (ed.pointer && ed.crosshair) drawCrosshair(ctx, view, ed.pointer);
}

function drawNames(ctx, view, ed, shapes) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  let drawn = 0;
  for (let i = shapes.length - 1; i >= 0 && drawn < MAX_LABELS; i -= 1) {
    const shape = shapes[i];
    const b = bounds(shape);
    if (!b) continue;
    const width = b.w * view.scale;
    if (width < 36 && !shape.pending && shape.id !== ed.selectedId) continue;
    const p = view.toScreen(b.x, b.y);
    if (p.x > view.cssWidth || p.y < 0 || p.x + width < 0 || p.y > view.cssHeight + 16) continue;
    let text = ed.nameOf(shape.label);
    if (shape.fromModel && typeof shape.confidence === "number") text += ` ${Math.round(shape.confidence * 100)}%`;
    if (shape.pending) text = `? ${text}`;
    const textWidth = ctx.measureText(text).width + 6;
    const top = p.y >= 16 ? p.y - 16 : p.y;
    ctx.globalAlpha = shape.pending ? 0.75 : 0.9;
    ctx.fillStyle = ed.colourOf(shape.label);
    ctx.fillRect(p.x, top, textWidth, 16);
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#fff";
    ctx.fillText(text, p.x + 3, top + 14);
    drawn += 1;
  }
}

function drawSelection(ctx, view, ed, shape) {
  const colour = ed.colourOf(shape.label);
  ctx.lineWidth = 1;
  if (shape.kind === "box") {
    const { x, y, w, h } = shape.box;
    const p = view.toScreen(x, y);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 3;
    ctx.strokeRect(p.x - 1.5, p.y - 1.5, w * view.scale + 3, h * view.scale + 3);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.strokeRect(p.x, p.y, w * view.scale, h * view.scale);
    for (const name of HANDLES) {
      const [fx, fy] = HANDLE_AT[name];
      const q = view.toScreen(x + fx * w, y + fy * h);
      ctx.fillStyle = "#fff";
      ctx.fillRect(q.x - 4, q.y - 4, 8, 8);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(q.x - 4, q.y - 4, 8, 8);
    }
  } else if (shape.kind === "polygon") {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 3;
    for (const ring of shape.rings) {
      ctx.beginPath();
      for (let i = 0; i < ring.length; i += 2) {
        const q = view.toScreen(ring[i], ring[i + 1]);
        if (i === 0) ctx.moveTo(q.x, q.y);
        else ctx.lineTo(q.x, q.y);
      }
      ctx.closePath();
      ctx.stroke();
    }
    for (const ring of shape.rings) {
      for (let i = 0; i < ring.length; i += 2) {
        const q = view.toScreen(ring[i], ring[i + 1]);
        ctx.beginPath();
        ctx.arc(q.x, q.y, 4, 0, Math.PI * 2);
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.strokeStyle = colour;
        ctx.lineWidth = 2;
        ctx.stroke();
      }
    }
  } else if (shape.mask.bbox) {
    const { x, y, w, h } = shape.mask.bbox;
    const p = view.toScreen(x, y);
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(p.x, p.y, w * view.scale, h * view.scale);
    ctx.setLineDash([]);
  }
}

function drawCrosshair(ctx, view, p) {
  view.applyScreenTransform();
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = "rgba(255,255,255,.75)";
  ctx.beginPath();
  ctx.moveTo(0, p.y + 0.5);
  ctx.lineTo(view.cssWidth, p.y + 0.5);
  ctx.moveTo(p.x + 0.5, 0);
  ctx.lineTo(p.x + 0.5, view.cssHeight);
  ctx.stroke();
  ctx.lineDashOffset = 4;
  ctx.strokeStyle = "rgba(0,0,0,.6)";
  ctx.stroke();
  ctx.lineDashOffset = 0;
  ctx.setLineDash([]);
}
