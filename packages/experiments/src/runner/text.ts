/** Small text helpers for banners and reports. */

/** A list as a banner shows it: every value up to 12, else the first and last few with the count. */
export function summarizeList(values: readonly (number | string)[]): string {
  if (values.length <= 12) return values.join(',');
  return `${values.slice(0, 3).join(',')},…,${values.slice(-2).join(',')} (${values.length} values)`;
}
