// The tasks of the image workspace, as in the text workspace: the item on screen and the
// next ones (claimed with want: 2, so the next picture is already loading), every server
// call in one serial chain in the order the user made them, and a write lost on the
// network retried with the same client_id, which the server stores once. A submit the
// server refuses (a shape it finds wrong) brings its item back on screen, with the draft.

import { api, errorMessage, isTransient, sleep } from "../api.js";

export class TaskQueue {
  /**
   * ui: {display(task|null, {returning}), empty(), progress(p), rerankNotice(event),
   *      message(text, kind), currentMessage(), status(text), upcoming(tasks)}
   */
  constructor(urls, ui) {
    this.urls = urls;
    this.ui = ui;
    this.current = null;
    this.upcoming = [];
    this.finished = new Set();
    this.returnedItems = new Set(); // items a reviewer sent back while the page was open
    this.chain = Promise.resolve();
    this.topUpWaiting = false;
    this.retrying = false;
    this.lastProgressAt = 0;
  }

  enqueue(operation) {
    const run = this.chain.then(operation);
    this.chain = run.catch(() => {});
    return run;
  }

  async withRetry(call, what, { acceptAfterRetry = () => false } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await call();
        if (this.retrying) {
          // Clear the retry warning only: an error reported meanwhile (a refused
          // submit) must stay on screen.
          if (this.ui.currentMessage() === this.retrying) this.ui.message("");
          this.retrying = false;
        }
        return result;
      } catch (error) {
        if (attempt > 0 && acceptAfterRetry(error)) return null;
        if (!isTransient(error)) throw error;
        const delay = Math.min(10000, 500 * 2 ** attempt);
        this.retrying = `${what}: ${errorMessage(error)} Retrying in ${Math.ceil(delay / 1000)} s…`;
        this.ui.message(this.retrying, "warn");
        await sleep(delay);
      }
    }
  }

  report(error, prefix) {
    this.ui.message(`${prefix}: ${errorMessage(error)}`, "error");
  }

  topUp() {
    if (this.topUpWaiting) return;
    this.topUpWaiting = true;
    this.enqueue(async () => {
      this.topUpWaiting = false;
      const body = { want: 2 };
      const result = await this.withRetry(() => api(this.urls.claim, { method: "POST", body }), "Loading items");
      this.applyClaim(result);
    }).catch((error) => {
      this.topUpWaiting = false;
      this.report(error, "Could not load items");
    });
  }

  /** Keep the task on screen; the other open tasks become the queue. */
  applyClaim(result) {
    this.progress(result.progress);
    let tasks = result.tasks.filter((task) => !this.finished.has(task.id) || this.reopened(task));
    if (this.current) tasks = tasks.filter((task) => task.id !== this.current.id);
    else if (tasks.length) this.show(tasks.shift());
    this.upcoming = tasks;
    this.ui.upcoming(tasks);
    if (!this.current) this.ui.empty();
  }

  /** A reviewer sent an answer of this annotator back: claim it again, even if answered here. */
  reopen(itemId) {
    this.returnedItems.add(itemId);
    this.topUp();
  }

  reopened(task) {
    if (!task.returned || !this.returnedItems.has(task.item)) return false;
    this.returnedItems.delete(task.item);
    this.finished.delete(task.id);
    return true;
  }

  /** A new batch from the model (event), or one perhaps missed while the live channel was
   * down (null): swap the queue behind the current item, never the item. */
  rerank(event) {
    this.enqueue(async () => {
      const body = { want: 2, release_except: this.current ? [this.current.id] : [] };
      const result = await this.withRetry(() => api(this.urls.claim, { method: "POST", body }), "Loading the new queue");
      this.applyClaim(result);
      if (event) this.ui.rerankNotice(event);
    }).catch((error) => this.report(error, "Could not load the re-ranked queue"));
  }

  show(task, options = {}) {
    this.current = task;
    this.ui.display(task, options);
  }

  advance() {
    this.show(this.upcoming.shift() || null);
  }

  /** body without client_id; onSaved(annotation) once stored. */
  submit(body, { clientId, describe = "this item", onSaved = () => {} } = {}) {
    const task = this.current;
    if (!task) return;
    const payload = { ...body, client_id: clientId };
    this.finished.add(task.id);
    this.advance();
    this.enqueue(() =>
      this.withRetry(() => api(this.urls.annotations, { method: "POST", body: payload }), "Saving your answer"),
    ).then(
      (annotation) => onSaved(annotation, task),
      (error) => {
        this.finished.delete(task.id);
        this.report(error, `Your answer for ${describe} was not saved`);
        if (!isTransient(error) && error.status === 400) this.bringBack(task);
      },
    );
    this.topUp();
  }

  /** Show a task again (refused submit): the one on screen goes back to the queue's front. */
  bringBack(task) {
    if (this.current && this.current.id === task.id) return;
    this.upcoming = [this.current, ...this.upcoming].filter((other) => other && other.id !== task.id);
    this.show(task, { returning: true });
  }

  skip() {
    const task = this.current;
    if (!task) return;
    this.finished.add(task.id);
    this.advance();
    this.enqueue(() =>
      this.withRetry(() => api(this.urls.skip(task.id), { method: "POST" }), "Skipping", {
        acceptAfterRetry: (error) => error.status === 403,
      }),
    ).then(
      () => this.ui.status(`Skipped item ${task.item}.`),
      (error) => {
        this.finished.delete(task.id);
        this.report(error, "Could not skip");
      },
    );
    this.topUp();
  }

  /** Take back the last submitted answer: its item comes back on screen. */
  takeBack() {
    this.enqueue(async () => {
      // Not retried: undo is not idempotent, a lost answer to a landed undo would undo twice.
      const task = await api(this.urls.undo, { method: "POST" });
      this.finished.delete(task.id);
      this.upcoming = [this.current, ...this.upcoming].filter((other) => other && other.id !== task.id);
      this.show(task, { returning: true });
      this.ui.status("Your last answer was taken back. Label the item again.");
    }).catch((error) => this.report(error, "Nothing taken back"));
    this.topUp();
  }

  progress(progress) {
    if (!progress) return;
    this.lastProgressAt = Date.now();
    this.ui.progress(progress);
  }
}
