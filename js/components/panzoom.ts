/**
 * Pan (drag) and zoom (wheel) an SVG by rewriting its viewBox.
 */

export interface IViewBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Zoom `box` by `factor` (< 1 zooms in) keeping the point (`cx`, `cy`) fixed. */
export function zoomViewBox(box: IViewBox, factor: number, cx: number, cy: number): IViewBox {
  const width = box.width * factor;
  const height = box.height * factor;
  return {
    x: cx - (cx - box.x) * factor,
    y: cy - (cy - box.y) * factor,
    width,
    height
  };
}

export function formatViewBox(box: IViewBox): string {
  return [box.x, box.y, box.width, box.height].map(v => Math.round(v * 100) / 100).join(' ');
}

/**
 * Make `svg` pannable and zoomable; `getBox` / `setBox` hold the viewBox.
 * Returns a function that removes the listeners.
 */
export function attachPanZoom(
  svg: SVGSVGElement,
  getBox: () => IViewBox,
  setBox: (box: IViewBox) => void
): () => void {
  let drag: { x: number; y: number; box: IViewBox; moved: boolean } | null = null;
  const scale = (): number => {
    const rect = svg.getBoundingClientRect();
    const box = getBox();
    return rect.width > 0 ? box.width / rect.width : 1;
  };
  const onWheel = (event: WheelEvent) => {
    event.preventDefault();
    const rect = svg.getBoundingClientRect();
    const box = getBox();
    const s = scale();
    const cx = box.x + (event.clientX - rect.left) * s;
    const cy = box.y + (event.clientY - rect.top) * (rect.height > 0 ? box.height / rect.height : 1);
    setBox(zoomViewBox(box, event.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy));
  };
  const onDown = (event: PointerEvent) => {
    if (event.button === 0) {
      drag = { x: event.clientX, y: event.clientY, box: getBox(), moved: false };
    }
  };
  const onMove = (event: PointerEvent) => {
    if (!drag) {
      return;
    }
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) {
      return;
    }
    drag.moved = true;
    svg.classList.add('mlpipe-panning');
    const s = scale();
    setBox({ ...drag.box, x: drag.box.x - dx * s, y: drag.box.y - dy * s });
  };
  let justPanned = false;
  const onUp = () => {
    justPanned = drag?.moved ?? false;
    drag = null;
    svg.classList.remove('mlpipe-panning');
  };
  // A drag that moved is a pan, not a click on the node under the pointer.
  const onClick = (event: MouseEvent) => {
    if (justPanned) {
      event.stopPropagation();
      justPanned = false;
    }
  };
  svg.addEventListener('wheel', onWheel, { passive: false });
  svg.addEventListener('pointerdown', onDown);
  svg.addEventListener('click', onClick, true);
  window.addEventListener('pointermove', onMove);
  window.addEventListener('pointerup', onUp);
  return () => {
    svg.removeEventListener('wheel', onWheel);
    svg.removeEventListener('pointerdown', onDown);
    svg.removeEventListener('click', onClick, true);
    window.removeEventListener('pointermove', onMove);
    window.removeEventListener('pointerup', onUp);
  };
}
