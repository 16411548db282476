// Unsubmitted work kept in localStorage per project and item, so a reload, a crash or a
// closed tab gives the shapes back when the same item opens again. Cleared once the
// server has stored the answer; drafts older than a month are dropped.

const PREFIX = "labeler.imageDraft.";
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

const keyOf = (projectId, itemId) => `${PREFIX}${projectId}.${itemId}`;

/** {regions: [...], pending: [...], savedAt} or null. */
export function loadDraft(projectId, itemId) {
  try {
    const text = localStorage.getItem(keyOf(projectId, itemId));
    if (!text) return null;
    const draft = JSON.parse(text);
    return draft && Array.isArray(draft.regions) ? draft : null;
  } catch {
    return null;
  }
}

/** Returns false when the browser refused (private mode, or the storage is full). */
export function saveDraft(projectId, itemId, draft) {
  try {
    localStorage.setItem(keyOf(projectId, itemId), JSON.stringify({ ...draft, savedAt: Date.now() }));
    return true;
  } catch {
    return false;
  }
}

export function clearDraft(projectId, itemId) {
  try {
    localStorage.removeItem(keyOf(projectId, itemId));
  } catch {
    // nothing kept, nothing to clear
  }
}

export function pruneDrafts(now = Date.now()) {
  try {
    for (let i = localStorage.length - 1; i >= 0; i -= 1) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(PREFIX)) continue;
      let savedAt = 0;
      try {
        savedAt = JSON.parse(localStorage.getItem(key)).savedAt || 0;
      } catch {
        savedAt = 0;
      }
      if (now - savedAt > MAX_AGE_MS) localStorage.removeItem(key);
    }
  } catch {
    // storage unavailable
  }
}
