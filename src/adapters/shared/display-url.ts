/**
 * A URL as it may be logged or printed: scheme, host, port and path only. The user and
 * password go, and so do the query and the fragment, where drivers take keys and passwords
 * too. The one way orderflow shows an engine's URL (the ready line, doctor, error messages).
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.href.replace(/\/$/, '');
  } catch {
    return '(an unparsable URL)';
  }
}
