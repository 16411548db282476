// What both workspaces do with the project's live events besides re-ranking: refresh the
// progress counts when someone else labeled (unless a claim just brought fresh ones), and
// load the latest training job into the indicator.

import { api } from "./api.js";

/**
 * @param {{urls: {progress: string, jobs: string}, jobs: object,
 *          lastProgressAt: () => number, updateProgress: (progress: object) => void}} page
 */
export function liveUpdates({ urls, jobs, lastProgressAt, updateProgress }) {
  let progressTimer = null;

  function progressChangedElsewhere() {
    clearTimeout(progressTimer);
    progressTimer = setTimeout(async () => {
      if (Date.now() - lastProgressAt() < 2500) return;
      try {
        updateProgress(await api(urls.progress));
      } catch {
        // the next claim brings fresh counts anyway
      }
    }, 3000);
  }

  async function loadJob() {
    try {
      const mark = jobs.version;
      const [latest] = await api(urls.jobs);
      if (jobs.version === mark) jobs.fromJob(latest || null);
    } catch {
      // only informative
    }
  }

  return { progressChangedElsewhere, loadJob };
}

/** The small notice that says which model version re-ranked the queue; it hides after 30 s. */
export function rerankNotice(notice) {
  let timer = null;
  return function show(event) {
    const version = event.model_version ?? event.round;
    notice.textContent = event.model_version
      ? `Queue re-ranked by model version ${version}`
      : `Queue refreshed by round ${event.round} (no model yet)`;
    notice.dataset.modelVersion = version;
    notice.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => {
      notice.hidden = true;
    }, 30000);
  };
}
