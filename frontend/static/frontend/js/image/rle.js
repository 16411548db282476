// COCO run-length encoding of binary masks, as pycocotools writes it: runs over the
// pixels in column-major order (down each column, then the next column), starting with
// a run of zeros (which may be 0 long), and the compressed string form of rleToString:
// each count (after the third, as the difference to the count two before) in a LEB128-like
// code of 5 bits per character, offset into the printable range from "0" (48).

/** Run lengths of a mask given as a getter of pixel (x, y) -> 0/1, column-major. */
export function runLengths(width, height, isSet) {
  const counts = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x += 1) {
    for (let y = 0; y < height; y += 1) {
      const value = isSet(x, y) ? 1 : 0;
      if (value !== current) {
        counts.push(run);
        run = 0;
        current = value;
      }
      run += 1;
    }
  }
  counts.push(run);
  return counts;
}

/** Run lengths of RGBA pixels (ImageData.data) whose alpha is at least `threshold`. */
export function runLengthsFromAlpha(data, width, height, threshold = 128) {
  const counts = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x += 1) {
    let index = x * 4 + 3;
    const stride = width * 4;
    for (let y = 0; y < height; y += 1, index += stride) {
      const value = data[index] >= threshold ? 1 : 0;
      if (value !== current) {
        counts.push(run);
        run = 0;
        current = value;
      }
      run += 1;
    }
  }
  counts.push(run);
  return counts;
}

/** pycocotools' rleToString. */
export function countsToString(counts) {
  let out = "";
  for (let i = 0; i < counts.length; i += 1) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x = Math.floor(x / 32); // an arithmetic shift that also holds past 32 bits
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** pycocotools' rleFrString. */
export function stringToCounts(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      const c = text.charCodeAt(p) - 48;
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** {size: [h, w], counts} (string or list) -> Uint8Array of h*w in row-major order. */
export function decodeRle(rle) {
  const [height, width] = rle.size;
  const counts = typeof rle.counts === "string" ? stringToCounts(rle.counts) : rle.counts;
  const mask = new Uint8Array(width * height);
  let position = 0;
  let value = 0;
  for (const count of counts) {
    if (value) {
      for (let i = position; i < position + count && i < width * height; i += 1) {
        const x = Math.floor(i / height);
        const y = i - x * height;
        mask[y * width + x] = 1;
      }
    }
    position += count;
    value = 1 - value;
  }
  return mask;
}

/** The compressed COCO form of a row-major 0/1 mask. */
export function encodeMask(mask, width, height) {
  const counts = runLengths(width, height, (x, y) => mask[y * width + x]);
  return { size: [height, width], counts: countsToString(counts) };
}

/** The compressed COCO form of a mask canvas (pixels with alpha >= 128), null when empty. */
export function encodeMaskFromCanvas(canvas) {
  const { width, height } = canvas;
  const data = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  const counts = runLengthsFromAlpha(data, width, height);
  if (counts.length < 2) return null;
  return { size: [height, width], counts: countsToString(counts) };
}
