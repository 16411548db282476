// Undo and redo for every edit of the shapes. An edit is a transaction: each shape it
// touches is copied before the change (null when the edit creates it) and after it
// (null when the edit deletes it); undo puts the "before" copies back, redo the "after"
// ones, at the shapes' places in the drawing order.

import { cloneShape } from "./shapes.js";

const LIMIT = 200;
// Mask copies are a whole image of pixels each: past this many bytes the oldest edits go.
const MASK_BYTES = 256 * 1024 * 1024;

function maskBytes(changes) {
  let bytes = 0;
  for (const change of changes) {
    for (const copy of [change.before, change.after]) {
      if (copy && copy.mask) bytes += copy.mask.canvas.width * copy.mask.canvas.height * 4;
    }
  }
  return bytes;
}

export class History {
  constructor(store, { onChange = () => {} } = {}) {
    this.store = store;
    this.onChange = onChange;
    this.done = [];
    this.undone = [];
    this.open = null;
    this.bytes = 0;
  }

  clear() {
    this.done = [];
    this.undone = [];
    this.open = null;
    this.bytes = 0;
  }

  /** Start an edit; call touch(id) before changing a shape, then commit() or cancel(). */
  begin(label) {
    if (this.open) this.commit();
    this.open = { label, changes: new Map() };
    return this;
  }

  touch(id) {
    if (!this.open) throw new Error("touch() outside begin()/commit()");
    if (this.open.changes.has(id)) return;
    const index = this.store.indexOf(id);
    const shape = index >= 0 ? this.store.list[index] : null;
    this.open.changes.set(id, { id, before: shape ? cloneShape(shape) : null, beforeIndex: index });
  }

  commit() {
    const edit = this.open;
    this.open = null;
    if (!edit || !edit.changes.size) return false;
    for (const change of edit.changes.values()) {
      const index = this.store.indexOf(change.id);
      change.after = index >= 0 ? cloneShape(this.store.list[index]) : null;
      change.afterIndex = index;
    }
    const changes = [...edit.changes.values()].filter((change) => change.before || change.after);
    if (!changes.length) return false;
    const entry = { label: edit.label, changes, bytes: maskBytes(changes) };
    for (const dropped of this.undone) this.bytes -= dropped.bytes;
    this.undone = [];
    this.done.push(entry);
    this.bytes += entry.bytes;
    while (this.done.length > 1 && (this.done.length > LIMIT || this.bytes > MASK_BYTES)) {
      this.bytes -= this.done.shift().bytes;
    }
    this.store.touch();
    this.onChange("edit", edit.label);
    return true;
  }

  /** Drop an edit that changed nothing (a click that did not drag), restoring what it touched. */
  cancel() {
    const edit = this.open;
    this.open = null;
    if (!edit) return;
    this.apply([...edit.changes.values()].reverse(), "before");
  }

  /** One edit in one call: begin, mutate (which touches), commit. */
  run(label, mutate) {
    this.begin(label);
    try {
      mutate(this);
    } catch (error) {
      this.cancel();
      throw error;
    }
    return this.commit();
  }

  get canUndo() {
    return this.done.length > 0;
  }

  get canRedo() {
    return this.undone.length > 0;
  }

  undo() {
    if (this.open) this.cancel();
    const edit = this.done.pop();
    if (!edit) return null;
    this.apply([...edit.changes].reverse(), "before");
    this.undone.push(edit);
    this.onChange("undo", edit.label);
    return edit;
  }

  redo() {
    if (this.open) this.cancel();
    const edit = this.undone.pop();
    if (!edit) return null;
    this.apply(edit.changes, "after");
    this.done.push(edit);
    this.onChange("redo", edit.label);
    return edit;
  }

  apply(changes, side) {
    for (const change of changes) {
      const copy = change[side];
      if (copy) this.store.put(cloneShape(copy), change[`${side}Index`]);
      else this.store.remove(change.id);
    }
    this.store.touch();
  }
}
