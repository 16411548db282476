// One canvas for the picture and every shape on it: the view transform (image pixels to
// CSS pixels), zoom about a point, pan, fitting, and redraws batched into one
// requestAnimationFrame. What is drawn is the caller's `draw(ctx, view)`.

const MIN_SCALE = 0.02;
const MAX_SCALE = 64;

export class Viewport {
  constructor(canvas, { draw }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.drawCallback = draw;
    this.image = null;
    this.width = 0; // image pixels
    this.height = 0;
    this.scale = 1; // CSS pixels per image pixel
    this.ox = 0; // CSS pixel offset of the image's top-left corner
    this.oy = 0;
    this.cssWidth = 0;
    this.cssHeight = 0;
    this.dpr = window.devicePixelRatio || 1;
    this.pending = false;
    this.fitted = true; // refit on resize until the user zooms or pans
    this.lastDrawMs = 0;
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas.parentElement);
    this.resize();
  }

  setImage(image, width, height) {
    this.image = image;
    this.width = width || (image && image.naturalWidth) || 0;
    this.height = height || (image && image.naturalHeight) || 0;
    this.fit();
  }

  resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    this.cssWidth = Math.max(1, Math.floor(box.width));
    this.cssHeight = Math.max(1, Math.floor(box.height));
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.cssWidth * this.dpr);
    this.canvas.height = Math.round(this.cssHeight * this.dpr);
    this.canvas.style.width = `${this.cssWidth}px`;
    this.canvas.style.height = `${this.cssHeight}px`;
    if (this.fitted) this.fit();
    else this.redrawNow();
  }

  /** The whole image in view, centred, with a small margin. */
  fit() {
    this.fitted = true;
    if (!this.width || !this.height) {
      this.scale = 1;
      this.ox = 0;
      this.oy = 0;
    } else {
      const margin = 12;
      this.scale = Math.max(
        MIN_SCALE,
        Math.min((this.cssWidth - 2 * margin) / this.width, (this.cssHeight - 2 * margin) / this.height),
      );
      this.ox = (this.cssWidth - this.width * this.scale) / 2;
      this.oy = (this.cssHeight - this.height * this.scale) / 2;
    }
    this.redraw();
  }

  /** Zoom by `factor` keeping the CSS point (cx, cy) of the canvas still. */
  zoomAt(factor, cx = this.cssWidth / 2, cy = this.cssHeight / 2) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const ix = (cx - this.ox) / this.scale;
    const iy = (cy - this.oy) / this.scale;
    this.scale = scale;
    this.ox = cx - ix * scale;
    this.oy = cy - iy * scale;
    this.fitted = false;
    this.redraw();
  }

  pan(dx, dy) {
    this.ox += dx;
    this.oy += dy;
    this.fitted = false;
    this.redraw();
  }

  /** A mouse event's position in CSS pixels of the canvas. */
  local(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  toImage(cx, cy) {
    return { x: (cx - this.ox) / this.scale, y: (cy - this.oy) / this.scale };
  }

  toScreen(x, y) {
    return { x: this.ox + x * this.scale, y: this.oy + y * this.scale };
  }

  /** Ask for a redraw on the next animation frame; many asks make one draw. */
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.redrawNow();
    });
  }

  redrawNow() {
    const started = performance.now();
    const { ctx } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#2a2f3a";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.image && this.width) {
      this.applyImageTransform();
      ctx.imageSmoothingEnabled = this.scale < 4;
      ctx.drawImage(this.image, 0, 0, this.width, this.height);
    }
    this.drawCallback(ctx, this);
    this.lastDrawMs = performance.now() - started;
  }

  /** ctx maps image pixels to device pixels. */
  applyImageTransform() {
    const k = this.dpr * this.scale;
    this.ctx.setTransform(k, 0, 0, k, this.dpr * this.ox, this.dpr * this.oy);
  }

  /** ctx maps CSS pixels of the canvas to device pixels. */
  applyScreenTransform() {
    this.ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
  }
}
