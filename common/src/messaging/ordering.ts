/**
 * Inserts an item into an array kept in ascending seq order. Items usually arrive in order (then this is
 * a push); a create answered out of order by concurrent requests lands in its place.
 */
export function insertBySeq<T extends { seq: number }>(items: T[], item: T): void {
  let index = items.length;
  while (index > 0 && (items[index - 1] as T).seq > item.seq) index--;
  items.splice(index, 0, item);
}

/** Takes an item out of an array kept in ascending seq order (nothing when it is not there). */
export function removeBySeq<T extends { seq: number }>(items: T[], item: T): void {
  const index = items.indexOf(item);
  if (index !== -1) items.splice(index, 1);
}
