/** From this share of the limit on, the count is shown. */
const SHOW_FROM = 0.8;

/** What to say of a text's length against its limit: nothing while far below it. */
export function describeLength(length: number, max: number): { text: string; over: boolean } | null {
  if (length > max) return { text: `${length} / ${max} characters: ${length - max} too many`, over: true };
  if (length >= Math.floor(max * SHOW_FROM)) return { text: `${length} / ${max} characters`, over: false };
  return null;
}

interface CharacterCountProps {
  id: string;
  length: number;
  max: number;
}

/** The count near the limit, and what the limit is, announced politely to screen readers. */
export function CharacterCount({ id, length, max }: CharacterCountProps) {
  const said = describeLength(length, max);
  if (!said) return null;
  return (
    <p id={id} className={said.over ? 'char-count char-count--over' : 'char-count'} aria-live="polite">
      {said.text}
    </p>
  );
}
