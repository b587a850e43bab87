import pg from 'pg';

/** One statement on its own connection to `url` (set-up and checks, not the code under test). */
export async function pgQuery<T = unknown>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}
