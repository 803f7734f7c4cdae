// Steady labels for the webcam, as `emoscan live` does (emoscan.inference.tracking): faces are
// followed across frames by box overlap and each face's probabilities are averaged over its last
// `window` frames.

const iou = (a, b) => {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.width * a.height + b.width * b.height - inter;
  return union ? inter / union : 0;
};

export class FaceTracker {
  constructor(window = 8, minIou = 0.3, maxMissed = 5) {
    Object.assign(this, { window: Math.max(1, window), minIou, maxMissed, tracks: [], nextId: 1 });
  }

  /** One frame's faces ({box, probabilities}) in, the same faces with smoothed probabilities out. */
  update(faces) {
    const pairs = [];
    faces.forEach((face, i) => this.tracks.forEach((track, j) => pairs.push([iou(face.box, track.box), i, j])));
    pairs.sort((p, q) => q[0] - p[0]);
    const assigned = new Map();
    const used = new Set();
    for (const [overlap, i, j] of pairs) {
      if (overlap < this.minIou) break;
      if (!assigned.has(i) && !used.has(j)) { assigned.set(i, this.tracks[j]); used.add(j); }
    }
    this.tracks.forEach((track, j) => { if (!used.has(j)) track.missed += 1; });
    const out = faces.map((face, i) => {
      let track = assigned.get(i);
      if (!track) { track = { id: this.nextId++, history: [], missed: 0 }; this.tracks.push(track); }
      track.box = face.box;
      track.missed = 0;
      track.history.push(face.probabilities);
      if (track.history.length > this.window) track.history.shift();
      return { ...face, track: track.id, probabilities: average(track.history) };
    });
    this.tracks = this.tracks.filter((track) => track.missed <= this.maxMissed);
    return out.map((face) => {
      const [emotion, confidence] = Object.entries(face.probabilities).reduce((best, e) => (e[1] > best[1] ? e : best));
      return { ...face, emotion, confidence };
    });
  }
}

function average(history) {
  const mean = {};
  for (const name of Object.keys(history[0])) mean[name] = history.reduce((sum, p) => sum + p[name], 0) / history.length;
  return mean;
}
