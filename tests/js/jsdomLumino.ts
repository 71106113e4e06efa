/**
 * jsdom has no DragEvent, which @lumino/dragdrop (under @lumino/widgets) subclasses at
 * import time: import this module before any widget module.
 */
const g = globalThis as any;
if (typeof g.DragEvent === 'undefined') {
  g.DragEvent = class DragEvent extends MouseEvent {};
}
export {};
