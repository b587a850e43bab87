/**
 * The admin key lives in session storage: it survives a reload of the tab but not the tab
 * itself. An empty string means anonymous loopback mode (the service has no keys).
 */
const KEY = 'orderflow.adminKey';

export function readKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
