// The frame strip of a video item: numbered cells around the current frame, coloured by
// status, a slider showing where the frame sits in the video, and the regions of the
// frames before it (C copies the nearest earlier frame's shapes).

import { api } from "../api.js";
import { h } from "../dom.js";

const AROUND = 40;

export class FrameStrip {
  constructor(root, projectId) {
    this.root = root;
    this.projectId = projectId;
    this.cache = new Map(); // video id -> frames payload
    this.task = null;
    this.cells = root.querySelector("#frame-cells");
    this.slider = root.querySelector("#frame-slider");
    this.caption = root.querySelector("#frame-caption");
  }

  url(videoId) {
    return `/api/projects/${this.projectId}/videos/${videoId}/frames/`;
  }

  async load(videoId) {
    const data = await api(this.url(videoId));
    this.cache.set(videoId, data);
    return data;
  }

  /** Show the strip for a task (hidden for a still image). */
  async show(task) {
    this.task = task;
    const image = task && task.image;
    if (!image || image.video === null || image.video === undefined) {
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    this.root.dataset.video = String(image.video);
    this.caption.textContent = `Frame ${image.frame_index ?? "?"}`;
    this.render(this.cache.get(image.video) || null);
    try {
      const data = await this.load(image.video);
      if (this.task === task) this.render(data);
    } catch (error) {
      if (this.task === task) this.caption.textContent = `Frame ${image.frame_index}: the strip could not load (${error.message})`;
    }
  }

  render(data) {
    const image = this.task.image;
    if (!data) {
      this.cells.replaceChildren();
      return;
    }
    const frames = data.frames;
    const at = Math.max(0, frames.findIndex((frame) => frame.item === this.task.item));
    const count = data.video.frame_count || (frames.length ? frames[frames.length - 1].frame_index + 1 : 1);
    this.slider.max = String(Math.max(0, count - 1));
    this.slider.value = String(image.frame_index ?? 0);
    this.slider.setAttribute("aria-valuetext", `frame ${image.frame_index} of ${count}`);
    const seconds = data.video.fps ? ` · ${(image.frame_index / data.video.fps).toFixed(1)} s` : "";
    this.caption.textContent = `${data.video.name}: frame ${image.frame_index} of ${count}${seconds} · item ${at + 1} of ${frames.length} taken from the video`;
    const from = Math.max(0, at - AROUND);
    const to = Math.min(frames.length, at + AROUND + 1);
    const cells = [];
    for (let i = from; i < to; i += 1) {
      const frame = frames[i];
      const current = frame.item === this.task.item;
      cells.push(
        h(
          "span",
          {
            class: `frame-cell${current ? " current" : ""}`,
            dataset: { status: frame.status, item: String(frame.item), regions: String(frame.regions.length) },
            title: `Frame ${frame.frame_index} · ${frame.status}${frame.regions.length ? ` · ${frame.regions.length} shapes` : ""}`,
            "aria-current": current ? "true" : null,
          },
          String(frame.frame_index),
        ),
      );
    }
    this.cells.replaceChildren(...cells);
    const current = this.cells.querySelector(".current");
    if (current) current.scrollIntoView({ block: "nearest", inline: "center" });
  }

  /** The regions of the nearest earlier frame that has any (fetched fresh), or null. */
  async previousRegions(task) {
    const image = task && task.image;
    if (!image || image.video === null || image.video === undefined) return null;
    const data = await this.load(image.video);
    if (this.task === task) this.render(data);
    let best = null;
    for (const frame of data.frames) {
      if (frame.frame_index < image.frame_index && frame.regions.length) {
        if (!best || frame.frame_index > best.frame_index) best = frame;
      }
    }
    return best;
  }
}
