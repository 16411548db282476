// The model round's state as text and a bar, from the REST job shape or from push events.

import { formatNumber, formatScore } from "./dom.js";

const PHASE_TEXT = {
  starting: "starting",
  fitting: "fitting the model",
  scoring: "scoring the pool",
  selecting: "selecting the next batch",
  done: "done",
};

export class JobIndicator {
  /** root gets data-state (idle|queued|running|done|failed); text and bar are optional elements. */
  constructor(root, { text, bar, compact = false } = {}) {
    this.root = root;
    this.text = text || root;
    this.bar = bar || null;
    this.compact = compact;
    this.version = 0;
  }

  set(state, message, fraction = null) {
    this.version += 1;
    this.root.dataset.state = state;
    this.text.textContent = message;
    if (this.bar) {
      this.bar.hidden = fraction === null;
      const fill = this.bar.firstElementChild;
      if (fill) fill.style.width = `${Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100)}%`;
    }
  }

  progress(phase, done, total) {
    const prefix = this.compact ? "Model: " : "Round running: ";
    if (phase === "scoring" && total) {
      this.set("running", `${prefix}scoring ${formatNumber(done)} of ${formatNumber(total)}`, 0.15 + 0.75 * (done / total));
    } else {
      const fraction = { starting: 0.02, fitting: 0.08, selecting: 0.93 }[phase] ?? 0.5;
      this.set("running", `${prefix}${PHASE_TEXT[phase] || phase}…`, fraction);
    }
  }

  /** A job as GET/POST /jobs/ return it. */
  fromJob(job) {
    if (!job) {
      this.set("idle", this.compact ? "" : "No model round has run yet.");
      return;
    }
    if (job.state === "queued") this.set("queued", this.compact ? "Model: round queued" : `Round queued (${job.reason}).`, 0);
    else if (job.state === "running") this.progress(job.phase, job.progress_done, job.progress_total);
    else if (job.state === "failed") this.set("failed", `Model round failed: ${job.error || "unknown error"}`, 1);
    else this.set("done", this.compact ? (job.round ? `Model: round ${job.round}` : "") : `Last round: ${job.round ?? "—"} (finished).`);
  }

  /** A websocket event; returns true when it was about jobs. */
  handle(event) {
    switch (event.type) {
      case "job.queued":
        this.set("queued", this.compact ? "Model: round queued" : `Round queued (${event.reason || "requested"})…`, 0);
        return true;
      case "job.progress":
        this.progress(event.phase, event.done, event.total);
        return true;
      case "job.failed":
        this.set("failed", `Model round failed: ${event.error || "unknown error"}`, 1);
        return true;
      case "batch.ready": {
        const model = event.model_version ? `model v${event.model_version}` : "no model yet (random batch)";
        const score = event.metrics && event.metrics.accuracy !== undefined ? `, accuracy ${formatScore(event.metrics.accuracy)}` : "";
        const message = this.compact
          ? `Model: round ${event.round} ready (${model}${score})`
          : `Round ${event.round} ready: ${model}, ${formatNumber(event.size)} items queued by ${event.strategy}${score}.`;
        this.set("done", message, this.compact ? null : 1);
        return true;
      }
      default:
        return false;
    }
  }
}
