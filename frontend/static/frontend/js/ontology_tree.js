// The class tree from the flat list the API gives: parent ids make the tree, `order` sorts
// siblings, and a reorder sends every id in tree order, so a parent always comes before
// its subclasses wherever classes are listed by order.

const byOrder = (a, b) => a.order - b.order || a.id - b.id;

/** [{cls, depth, parentId, childCount, index, siblings}] in display order, depth first. */
export function flattenTree(classes) {
  const ids = new Set(classes.map((cls) => cls.id));
  const children = new Map();
  for (const cls of [...classes].sort(byOrder)) {
    const parentId = cls.parent !== null && cls.parent !== cls.id && ids.has(cls.parent) ? cls.parent : null;
    if (!children.has(parentId)) children.set(parentId, []);
    children.get(parentId).push(cls);
  }
  const rows = [];
  const seen = new Set();
  const visit = (parentId, depth) => {
    const siblings = children.get(parentId) || [];
    siblings.forEach((cls, index) => {
      if (seen.has(cls.id)) return;
      seen.add(cls.id);
      const childCount = (children.get(cls.id) || []).length;
      rows.push({ cls, depth, parentId, childCount, index, siblings: siblings.length });
      visit(cls.id, depth + 1);
    });
  };
  visit(null, 0);
  // The server refuses parent loops; should one exist anyway, its classes still show.
  for (const cls of classes) {
    if (!seen.has(cls.id)) rows.push({ cls, depth: 0, parentId: null, childCount: 0, index: 0, siblings: 1 });
  }
  return rows;
}

/** The ids of a class and of everything nested under it. */
export function subtreeIds(classes, id) {
  const ids = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const cls of classes) {
      if (cls.parent !== null && ids.has(cls.parent) && !ids.has(cls.id)) {
        ids.add(cls.id);
        grew = true;
      }
    }
  }
  return ids;
}

/** Every class id in tree order once `id` has swapped places with its neighbour
 * (`delta` -1 or +1) among its siblings; null when it is already at that end. */
export function moveAmongSiblings(classes, id, delta) {
  const rows = flattenTree(classes);
  const row = rows.find((candidate) => candidate.cls.id === id);
  if (!row) return null;
  const siblings = rows.filter((candidate) => candidate.parentId === row.parentId);
  const neighbour = siblings[siblings.indexOf(row) + delta];
  if (!neighbour) return null;
  const position = new Map(rows.map((candidate, index) => [candidate.cls.id, index]));
  position.set(row.cls.id, rows.indexOf(neighbour));
  position.set(neighbour.cls.id, rows.indexOf(row));
  const moved = classes.map((cls) => ({ ...cls, order: position.get(cls.id) }));
  return flattenTree(moved).map((candidate) => candidate.cls.id);
}

/** Options for a class picker, indented by depth: [{id, label}]. `exclude` is a Set of ids. */
export function classOptions(classes, exclude = new Set()) {
  return flattenTree(classes)
    .filter((row) => !exclude.has(row.cls.id))
    .map((row) => ({ id: row.cls.id, label: `${"\u2003".repeat(row.depth)}${row.cls.name} (${row.cls.key})` }));
}
