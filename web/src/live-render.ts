/**
 * Drawing a live page again without taking anything from under the user.
 *
 * The billing page draws itself anew whenever a live update arrives. Two things a person does span that moment:
 * - A click is a press and a release on the same element. A button replaced between the two gets neither a click
 *   nor an error: the user's "Subscribe" is silently lost. So while a pointer is pressed, drawing waits for the
 *   release (and the click it brings) and happens once after it.
 * - Typing: the field with the focus is a new element after drawing. Focus and caret move to the new field with
 *   the same id, so the user types on.
 */
export function liveRenderer(root: HTMLElement, draw: () => Node[] | null): () => void {
  let pressed = false;
  let waiting = false;

  const drawNow = () => {
    const nodes = draw();
    if (!nodes) return;
    const focus = focusOf(document.activeElement);
    root.replaceChildren(...nodes);
    if (focus) restoreFocus(root, focus);
  };

  document.addEventListener(
    'pointerdown',
    () => {
      pressed = true;
    },
    true,
  );
  const released = () => {
    if (!pressed) return;
    pressed = false;
    // After the click this release brings (dispatched in the same task), so the click reaches the old button.
    if (!waiting) return;
    waiting = false;
    setTimeout(drawNow, 0);
  };
  document.addEventListener('pointerup', released, true);
  document.addEventListener('pointercancel', released, true);

  return () => {
    if (pressed) waiting = true;
    else drawNow();
  };
}

interface Focus {
  id: string;
  selection: [number, number] | null;
}

function focusOf(element: Element | null): Focus | null {
  if (!(element instanceof HTMLElement) || !element.id) return null;
  const selection =
    element instanceof HTMLInputElement && element.selectionStart !== null && element.selectionEnd !== null
      ? ([element.selectionStart, element.selectionEnd] as [number, number])
      : null;
  return { id: element.id, selection };
}

function restoreFocus(root: HTMLElement, focus: Focus): void {
  const element = root.querySelector<HTMLElement>(`#${CSS.escape(focus.id)}`);
  if (!element) return;
  element.focus();
  if (focus.selection && element instanceof HTMLInputElement) element.setSelectionRange(...focus.selection);
}
