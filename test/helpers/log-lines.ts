/**
 * The JSON lines (pino's) of a process's output, parsed; other lines (the helpers' own
 * `--- start ---` markers, a driver's console warning) are skipped. A marker printed without
 * a newline before the first line does not hide that line.
 */
export function logLines<T = Record<string, unknown>>(output: string): T[] {
  const lines: T[] = [];
  for (const text of output.split('\n')) {
    const start = text.indexOf('{');
    if (start === -1) continue;
    try {
      lines.push(JSON.parse(text.slice(start)) as T);
    } catch {
      // not a log line
    }
  }
  return lines;
}
