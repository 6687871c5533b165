/**
 * Drawing a live page again without taking anything from under the user.
 *
 * The billing page draws itself anew whenever a live update arrives. Two things a person does span that moment:
 * - A click is a press and a release on the same element. A button replaced between the two gets neither a click
 *   nor an error: the user's "Subscribe" is silently lost. So while a pointer is pressed, drawing waits for the
 *   release (and the click it brings) and happens once after it.
 * - Typing: the field with the focus is a new element after drawing. Focus and caret move to the new field with
 *   the same id, so the user types on; and what the user typed into any field since the last drawing is carried
 *   to the new one, or a field drawn from the server's figures (the spend limit) would be drawn back to them and
 *   the typed amount lost before Save.
 */
export function liveRenderer(root: HTMLElement, draw: () => Node[] | null): () => void {
  let pressed = false;
  let waiting = false;
  /** Each field's value as the last drawing set it, by id: a field whose value differs was typed in since. */
  let drawn = new Map<string, string>();

  const drawNow = () => {
    const nodes = draw();
    if (!nodes) return;
    const focus = focusOf(document.activeElement);
    const typed = typedSince(root, drawn);
    root.replaceChildren(...nodes);
    drawn = valuesOf(root);
    carryTyped(root, typed);
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

type TextField = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/** Fields whose value is text the user edits (not buttons, boxes to tick or files). */
function textFields(root: HTMLElement): TextField[] {
  return Array.from(root.querySelectorAll<TextField>('input[id], textarea[id], select[id]')).filter(
    (field) =>
      !(field instanceof HTMLInputElement) ||
      !['checkbox', 'radio', 'submit', 'button', 'reset', 'file', 'image'].includes(field.type),
  );
}

function valuesOf(root: HTMLElement): Map<string, string> {
  return new Map(textFields(root).map((field) => [field.id, field.value]));
}

/** The values the user changed since the last drawing, by field id. */
function typedSince(root: HTMLElement, drawn: Map<string, string>): Map<string, string> {
  const typed = new Map<string, string>();
  for (const field of textFields(root)) {
    const before = drawn.get(field.id);
    if (before !== undefined && field.value !== before) typed.set(field.id, field.value);
  }
  return typed;
}

function carryTyped(root: HTMLElement, typed: Map<string, string>): void {
  for (const [id, value] of typed) {
    const field = root.querySelector<TextField>(`#${CSS.escape(id)}`);
    if (field && 'value' in field) field.value = value;
  }
}
