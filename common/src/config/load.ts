import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/** Read a JSON config file and validate it; every problem names the file and the field at fault. */
export function loadJsonConfig<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, undefined, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, undefined, `not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(file, schema, data);
}

/** Validate already-parsed data (also used for configs embedded in other files). */
export function parseConfig<S extends z.ZodType>(file: string, schema: S, data: unknown): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  // an unknown field first: a misspelt required one ("sourcez") also makes the real one missing,
  // and the unknown name is the one that tells the admin what to fix
  const issues = result.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  const path = [...issue.path, ...(keys.length ? [keys[0]!] : [])];
  const field = path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[')
    : undefined;
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
  const problem = keys.length ? `unknown field` : missing ? 'missing (a required field)' : issue.message;
  throw new ConfigError(file, field, problem);
}
