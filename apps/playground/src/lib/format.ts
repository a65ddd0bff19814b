const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** A local clock time: 14:03:05. */
export const formatTime = (date: Date | string | number): string =>
  timeFormat.format(new Date(date));

/** A local time, with the day when it is not today: "Mar 3, 14:03:05". */
export function formatWhen(date: Date | string | number): string {
  const at = new Date(date);
  const today = new Date();
  const sameDay = at.toDateString() === today.toDateString();
  return sameDay ? timeFormat.format(at) : `${dayFormat.format(at)}, ${timeFormat.format(at)}`;
}

/** A short duration: "3 s", "2 min", "1 min 20 s". */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  const rest = total % 60;
  return rest === 0 || minutes >= 10 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

/** Cuts text to `max` code points, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const points = [...text];
  return points.length <= max
    ? text
    : `${points
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`;
}
