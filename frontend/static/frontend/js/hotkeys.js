// Class shortcuts shared by the text and image workspaces: the ontology's hotkey when it
// is free and not one of the page's command keys, else 1..9 by class order.

/**
 * @param {Array<{hotkey?: string}>} classes in display order
 * @param {Set<string>} reserved the page's command keys (lower case)
 * @returns {{classes: Array, clashes: Array}} copies with `shortcut` set, and the classes
 *   whose hotkey collides with a command key (the page warns about those)
 */
export function assignShortcuts(classes, reserved) {
  const used = new Set();
  const clashes = [];
  const withKeys = classes.map((cls) => ({ ...cls, shortcut: "" }));
  for (const cls of withKeys) {
    const key = (cls.hotkey || "").toLowerCase();
    if (!key) continue;
    if (reserved.has(key)) clashes.push(cls);
    else if (!used.has(key)) {
      cls.shortcut = key;
      used.add(key);
    }
  }
  withKeys.forEach((cls, index) => {
    const key = String(index + 1);
    if (!cls.shortcut && index < 9 && !used.has(key)) {
      cls.shortcut = key;
      used.add(key);
    }
  });
  return { classes: withKeys, clashes };
}
